/**
 * The tail's command line (effect/cli), in pg_recvlogical's spirit: `--slot`, `--publication`, `--url`, `--start`,
 * `--end`, `--create-slot`, `--messages`. It parses and checks options; `Tail.run` does the work.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Command, Flag } from "effect/cli"
import { parseLsn, run, type TailError, type TailSummary } from "./Tail.ts"

const flags = {
  slot: Flag.String("slot").pipe(Flag.withAlias("S"), Flag.withDescription("The logical replication slot (pgoutput)")),
  publication: Flag.String("publication").pipe(
    Flag.withAlias("P"),
    Flag.withDescription("Publication(s) to stream, comma-separated")
  ),
  url: Flag.String("url").pipe(
    Flag.withAlias("d"),
    Flag.withDescription("PostgreSQL URL; default $PGCDC_URL, then the libpq variables (PGHOST, PGUSER, ...)"),
    Flag.optional
  ),
  start: Flag.String("start").pipe(
    Flag.withAlias("I"),
    Flag.withDescription("Start at this LSN (X/Y) instead of the slot's confirmed position"),
    Flag.optional
  ),
  end: Flag.String("end").pipe(
    Flag.withAlias("E"),
    Flag.withDescription("Stop after the last transaction committing at or before this LSN (X/Y)"),
    Flag.optional
  ),
  createSlot: Flag.Boolean("create-slot").pipe(
    Flag.withDescription("Create the slot if it does not exist"),
    Flag.withDefault(false)
  ),
  messages: Flag.Boolean("messages").pipe(
    Flag.withDescription("Also print logical decoding messages (pg_logical_emit_message)"),
    Flag.withDefault(false)
  )
}

const optionalLsn = (text: Option.Option<string>, option: string) =>
  Option.isSome(text) ? parseLsn(text.value, option) : Effect.succeed(undefined)

/** The command: each line goes to `write`; `done` hears the summary when the stream ends at `--end`. */
export const command = <E>(
  write: (line: string) => Effect.Effect<void, E>,
  done: (summary: TailSummary) => Effect.Effect<void>
) =>
  Command.make("tail", flags, (f) =>
    Effect.gen(function* () {
      const startLsn = yield* optionalLsn(f.start, "--start")
      const endLsn = yield* optionalLsn(f.end, "--end")
      const publications = f.publication
        .split(",")
        .map((p) => p.trim())
        .filter((p) => p !== "")
      const summary = yield* run(
        {
          url: Option.getOrUndefined(f.url),
          slot: f.slot,
          publications,
          startLsn,
          endLsn,
          createSlot: f.createSlot,
          messages: f.messages
        },
        write
      )
      yield* done(summary)
    })
  ).pipe(
    Command.withDescription(
      "Prints the changes of a logical replication slot as JSON lines, decoded, committing each line's position once it is written."
    )
  )

export type { TailError }
