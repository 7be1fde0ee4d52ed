/**
 * Where the command writes: `Output`, a service with stdout (results only: JSON lines, tables, `--help`) and stderr
 * (summaries, progress, failures). The default writes to the process's streams, each line with backpressure (the
 * effect completes once the stream took it, so a slow pipe slows the command instead of filling memory); tests
 * provide their own to capture both.
 *
 * Also the plain-text table the human (non-`--json`) output uses. It deliberately formats no values: callers pass
 * the text of each cell.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { CommandError } from "./failure.ts"

export interface OutputShape {
  /** One line (without its newline) on stdout. */
  readonly out: (line: string) => Effect.Effect<void, CommandError>
  /** One line (without its newline) on stderr. */
  readonly err: (line: string) => Effect.Effect<void>
}

const write = (stream: NodeJS.WriteStream, text: string): Effect.Effect<void, CommandError> =>
  Effect.callback<void, CommandError>((resume) => {
    stream.write(text, (error) =>
      resume(error ? Effect.fail(new CommandError({ message: `Writing to stdout: ${error.message}` })) : Effect.void)
    )
  })

export const processOutput: OutputShape = {
  out: (line) => write(process.stdout, `${line}\n`),
  // A failure to write an error message has nowhere left to go.
  err: (line) => Effect.ignore(write(process.stderr, `${line}\n`))
}

export const Output: Context.Reference<OutputShape> = Context.Reference<OutputShape>("@pgcdc/cli/Output", {
  defaultValue: () => processOutput
})

export const out = (line: string): Effect.Effect<void, CommandError> => Effect.flatMap(Output, (o) => o.out(line))
export const err = (line: string): Effect.Effect<void> => Effect.flatMap(Output, (o) => o.err(line))

/** Rows as aligned columns under a header; the last column is not padded. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()
  return [line(header), ...rows.map(line)]
}

/** Writes lines to stdout, in order. */
export const outLines = (lines: ReadonlyArray<string>): Effect.Effect<void, CommandError> =>
  Effect.forEach(lines, out, { discard: true })
