/**
 * `pgcdc backfill <table>`: asks the consumers streaming this database to backfill a table, by writing the
 * `pgcdc.signal` logical message they listen for (docs/snapshots.md, "Backfills"):
 * `{"backfill":{"schema":...,"name":...},"chunkSize":...}`, transactional, so it reaches the stream once committed.
 * A consumer of any slot of the database starts the backfill when the message reaches it, unless one of that table
 * is running.
 *
 * The table is resolved first (as the server's search_path does for an unqualified name) and must exist and have a
 * primary key, so a typo writes nothing. It deliberately does not wait for the backfill: the consumer reports its
 * progress (`BackfillBegin`, `BackfillEnd`, and the progress table).
 */
import * as Effect from "effect/Effect"
import { Argument, Command, Flag } from "effect/cli"
import { handler } from "../../Main.ts"
import * as Connect from "../connect.ts"
import { CommandError } from "../failure.ts"
import { Json } from "../globalFlags.ts"
import * as Inputs from "../inputs.ts"
import * as Output from "../output.ts"
import { literal, select } from "../sql.ts"

/** Where the consumers listen (the library's signal prefix). */
export const signalPrefix = "pgcdc.signal"

export const backfill = Command.make(
  "backfill",
  {
    table: Argument.String("table").pipe(
      Argument.withDescription("The table: schema.name, or a name the search_path finds")
    ),
    chunkSize: Flag.Int("chunk-size").pipe(
      Flag.withDescription("Rows read per chunk (default: the consumer's, 1024)"),
      Flag.optional
    )
  },
  handler("pgcdc backfill", (f) =>
    Effect.gen(function* () {
      const chunkSize =
        f.chunkSize._tag === "Some" ? yield* Inputs.positive(f.chunkSize.value, "--chunk-size") : undefined
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      const [table] = yield* select(
        conn,
        `SELECT n.nspname, c.relname,
                EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text AS has_pk
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
          WHERE c.oid = pg_catalog.to_regclass(${literal(f.table)})`
      )
      if (table === undefined) {
        return yield* new CommandError({
          message: `There is no table "${f.table}" in database "${conn.config.database}"`
        })
      }
      const target = { schema: table.nspname ?? "", name: table.relname ?? "" }
      if (table.has_pk !== "true") {
        return yield* new CommandError({
          message: `Table ${target.schema}.${target.name} has no primary key: a backfill reads a table in key order. Add one (ALTER TABLE ... ADD PRIMARY KEY (...))`
        })
      }
      const content = JSON.stringify({ backfill: target, ...(chunkSize === undefined ? {} : { chunkSize }) })
      const [written] = yield* select(
        conn,
        `SELECT pg_catalog.pg_logical_emit_message(true, ${literal(signalPrefix)}, ${literal(content)})::text AS lsn`
      )
      const lsn = written?.lsn ?? "?"
      yield* Output.out(
        json
          ? JSON.stringify({ table: target, ...(chunkSize === undefined ? {} : { chunkSize }), lsn })
          : `asked for a backfill of ${target.schema}.${target.name} at ${lsn}: a consumer streaming a slot of database ${conn.config.database} starts it when it gets there`
      )
    }).pipe(Effect.scoped)
  )
).pipe(
  Command.withDescription(
    "Asks the running consumers to re-read a table while they stream (writes a pgcdc.signal logical message)"
  )
)
