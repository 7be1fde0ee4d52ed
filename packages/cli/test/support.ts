/**
 * Runs the pgcdc command in the test's process with its output captured: the exit status, and stdout and stderr
 * as the terminal would show them. For what needs no server (usage, help, flags checked before connecting);
 * test/integration spawns the real executable.
 */
import * as Effect from "effect/Effect"
import { command, Main } from "../src/index.ts"
import { Output } from "../src/internal/output.ts"

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export const runCli = (args: ReadonlyArray<string>): Effect.Effect<Ran> =>
  Effect.gen(function* () {
    let stdout = ""
    let stderr = ""
    const code = yield* Main.runArgs(command, args, { version: "0.1.0" }).pipe(
      Effect.provideService(Output, {
        out: (line) =>
          Effect.sync(() => {
            stdout += `${line}\n`
          }),
        err: (line) =>
          Effect.sync(() => {
            stderr += `${line}\n`
          })
      }),
      Effect.provide(Main.platformLayer)
    )
    return { code, stdout, stderr }
  })
