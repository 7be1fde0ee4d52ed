/**
 * Runs the demo's executable (`node src/main.ts`) as a terminal would, for the integration tests: its exit status,
 * stdout and stderr once it ends.
 */
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as path from "node:path"

export const node = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/node")
export const main = path.resolve(import.meta.dirname, "../../src/main.ts")

/** Runs the demo to its end: exit status, stdout and stderr. */
export const runDemo = (args: ReadonlyArray<string>) =>
  Effect.promise(
    () =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(node, [main, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
        )
      })
  )
