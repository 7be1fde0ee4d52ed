/**
 * Entry point: `node src/main.ts --slot S --publication P [--url U] [--start X/Y] [--end X/Y]`. Lines go to stdout
 * (each written, with backpressure, before its position is committed); the summary and errors go to stderr.
 * SIGINT/SIGTERM stop it through `NodeRuntime.runMain`: the last committed position is reported to the server.
 */
import { Lsn } from "@pgcdc/replication"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { Command } from "effect/cli"
import { command } from "./Cli.ts"
import { TailError } from "./Tail.ts"

// A closed pipe (`| head`) is reported to the write callback below; without a listener Node would throw instead.
process.stdout.on("error", () => {})

const writeLine = (line: string): Effect.Effect<void, TailError> =>
  Effect.callback<void, TailError>((resume) => {
    process.stdout.write(`${line}\n`, (error) =>
      resume(error ? Effect.fail(new TailError({ message: `Writing to stdout: ${error.message}` })) : Effect.void)
    )
  })

const done = (summary: { readonly lines: number; readonly committed: Lsn.Lsn }) =>
  Effect.sync(() => process.stderr.write(`tail: ${summary.lines} lines, committed ${Lsn.format(summary.committed)}\n`))

// stdout carries only JSON lines: failures are reported on stderr, by their message.
const reportFailure = (cause: Cause.Cause<unknown>) => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const error = Cause.squash(cause)
  const text = error instanceof Error ? error.message : String(error)
  return Effect.sync(() => process.stderr.write(`tail: ${text}\n`))
}

Command.run(command(writeLine, done), { version: "0.0.0" }).pipe(
  Effect.tapCause(reportFailure),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
