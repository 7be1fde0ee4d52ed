/**
 * The demo's command line (effect/cli): flags with their defaults (shown in `--help`) and help text, turned into
 * `MirrorOptions`. It runs through `@pgcdc/cli`'s `Main`, like the `pgcdc` command: help on stdout only when asked,
 * a failure as one line on stderr, and the same short flags (`-d` is the connection URL, as in `pgcdc` and psql).
 * It deliberately holds no logic: `Mirror.run` does the work.
 */
import { Main } from "@pgcdc/cli"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Command, Flag } from "effect/cli"
import { MirrorError } from "./MirrorError.ts"
import { type MirrorOptions, run } from "./Mirror.ts"
import type { Screen } from "./Screen.ts"

/** A flag with a default that `--help` shows. */
const defaulted = <A extends string | number>(flag: Flag.Flag<A>, description: string, value: A): Flag.Flag<A> =>
  flag.pipe(Flag.withDescription(`${description} (default ${value})`), Flag.withDefault(value))

const flags = {
  duration: defaulted(Flag.Int("duration"), "Seconds the writer writes before the comparison", 15),
  rate: defaulted(
    Flag.Int("rate").pipe(Flag.withAlias("r")),
    "Statements (inserts, updates, deletes) per second; 0 for as fast as possible",
    200
  ),
  tableSize: defaulted(
    Flag.Int("table-size").pipe(Flag.withAlias("n")),
    "Row ids range over 1..table-size (about two thirds of them exist at any time)",
    1000
  ),
  keep: Flag.Boolean("keep").pipe(
    Flag.withDescription("Keep the embedded server running at the end and print its URL (Ctrl-C stops it)"),
    Flag.withDefault(false)
  ),
  dropSlot: Flag.Boolean("drop-slot").pipe(
    Flag.withDescription("Drop the replication slot on exit (otherwise it stays at the committed position)"),
    Flag.withDefault(false)
  ),
  url: Flag.String("url").pipe(
    Flag.withAlias("d"),
    Flag.withDescription(
      "PostgreSQL URL (postgres://user:password@host:port/db); default $PGCDC_URL, then the PG* variables, then an embedded PostgreSQL 18"
    ),
    Flag.optional
  ),
  target: Flag.String("target").pipe(
    Flag.withMetavar("postgres://..."),
    Flag.withDescription(
      "Mirror into this database instead of an in-memory Map: @pgcdc/sink-postgres applies each transaction there exactly once (progress in its pgcdc_sink_progress table), into a table of the same name (created there when missing, with the same columns and primary key); the final comparison reads that table"
    ),
    Flag.optional
  ),
  name: defaulted(Flag.String("name"), "Name of the table, publication and slot", "pgcdc_mirror")
}

/** The command, printing on `screen`; fails with a MirrorError when the verdict is "not equal". */
export const command = (screen: Screen) =>
  Command.make(
    "demo",
    flags,
    Main.handler("demo", (f) => {
      const options: MirrorOptions = {
        durationSeconds: f.duration,
        rate: f.rate,
        tableSize: f.tableSize,
        keep: f.keep,
        dropSlot: f.dropSlot,
        url: Option.getOrUndefined(f.url),
        target: Option.getOrUndefined(f.target),
        name: f.name
      }
      return Effect.flatMap(run(options, screen), (verdict) =>
        verdict.equal
          ? Effect.void
          : Effect.fail(
              new MirrorError({
                message: `${verdict.mirror === "the mirror" ? "The mirror" : `The table ${verdict.mirror}`} differs from the source table in ${verdict.differences.length} places`
              })
            )
      )
    })
  ).pipe(
    Command.withDescription(
      "Keeps an in-memory Map (or, with --target, a table in another database) equal to a PostgreSQL table from the logical replication stream while a writer changes the table at random, then compares the two."
    ),
    Command.withGlobalFlags([Main.Verbose])
  )
