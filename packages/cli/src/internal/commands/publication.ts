/**
 * `pgcdc publication list | create | drop`: publications through the library's `Publication` module, and a
 * catalogue query to list them with their tables (the library has no list).
 *
 * `create` takes whole tables (`--table`, repeatable or comma-separated), schemas (`--schema`, PostgreSQL 15+) or
 * `--all-tables`, and which operations to publish; everything is checked before the one CREATE PUBLICATION
 * statement, which PostgreSQL runs whole or not at all. It deliberately offers no column lists or row filters:
 * write those in SQL (or with `Publication.create`).
 */
import { Connection } from "@pgcdc/connection"
import { Publication } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import { Argument, Command, Flag } from "effect/cli"
import { handler } from "../../Main.ts"
import * as Connect from "../connect.ts"
import { CommandError, UsageError } from "../failure.ts"
import { Json } from "../globalFlags.ts"
import * as Inputs from "../inputs.ts"
import * as Output from "../output.ts"
import { literal, type Row, select } from "../sql.ts"
import { switchFlag } from "./sharedFlags.ts"

const nameArgument = Argument.String("name").pipe(Argument.withDescription("The publication's name"))

const actions = ["insert", "update", "delete", "truncate"] as const
type Action = (typeof actions)[number]

interface PublicationRow {
  readonly publication: string
  readonly allTables: boolean
  readonly publish: ReadonlyArray<Action>
  readonly viaPartitionRoot: boolean
  readonly tables: ReadonlyArray<{ readonly schema: string; readonly table: string }>
}

const listQuery = `
  SELECT p.pubname, p.puballtables::text AS all_tables, p.pubinsert::text AS insert, p.pubupdate::text AS update,
         p.pubdelete::text AS delete, p.pubtruncate::text AS truncate, p.pubviaroot::text AS via_root,
         (SELECT json_agg(json_build_object('schema', t.schemaname, 'table', t.tablename)
                          ORDER BY t.schemaname, t.tablename)
            FROM pg_catalog.pg_publication_tables t WHERE t.pubname = p.pubname)::text AS tables
    FROM pg_catalog.pg_publication p`

/** The `tables` column of `listQuery`. */
const tablesOf = (row: Row): PublicationRow["tables"] =>
  row.tables === null || row.tables === undefined ? [] : (JSON.parse(row.tables) as PublicationRow["tables"])

const list = Command.make(
  "list",
  {},
  handler("pgcdc publication list", () =>
    Effect.gen(function* () {
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      const rows = yield* select(conn, `${listQuery} ORDER BY p.pubname`)
      const publications = rows.map(
        (r): PublicationRow => ({
          publication: r.pubname ?? "",
          allTables: r.all_tables === "true",
          publish: actions.filter((a) => r[a] === "true"),
          viaPartitionRoot: r.via_root === "true",
          tables: tablesOf(r)
        })
      )
      if (json) return yield* Output.out(JSON.stringify(publications))
      if (publications.length === 0) {
        return yield* Output.err(`no publications in database ${conn.config.database}`)
      }
      yield* Output.outLines(
        Output.table(
          ["publication", "publishes", "tables"],
          publications.map((p) => [
            p.publication,
            p.publish.join(",") + (p.viaPartitionRoot ? " (via partition root)" : ""),
            (p.allTables ? "ALL TABLES: " : "") + (p.tables.map((t) => `${t.schema}.${t.table}`).join(", ") || "-")
          ])
        )
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("Lists the database's publications and the tables they publish"))

/** "schema.name" or "name" (in public). */
const tableOf = (text: string): Publication.PublishedTable => {
  const dot = text.indexOf(".")
  return dot < 0 ? { name: text } : { schema: text.slice(0, dot), name: text.slice(dot + 1) }
}

const targetOf = (
  tables: ReadonlyArray<string>,
  schemas: ReadonlyArray<string>,
  allTables: boolean
): Effect.Effect<Publication.PublicationTarget, UsageError> => {
  if (allTables && (tables.length > 0 || schemas.length > 0)) {
    return Effect.fail(
      new UsageError({ message: "--all-tables publishes every table: give no --table or --schema with it" })
    )
  }
  if (allTables) return Effect.succeed({ _tag: "AllTables" })
  if (schemas.length > 0) return Effect.succeed({ _tag: "Schemas", schemas, tables: tables.map(tableOf) })
  if (tables.length > 0) return Effect.succeed({ _tag: "Tables", tables: tables.map(tableOf) })
  return Effect.fail(new UsageError({ message: "Say what to publish: --table (-t), --schema or --all-tables" }))
}

const publishOf = (values: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Action> | undefined, UsageError> => {
  const items = Inputs.list(values)
  if (items.length === 0) return Effect.succeed(undefined)
  const unknown = items.filter((i) => !(actions as ReadonlyArray<string>).includes(i))
  return unknown.length > 0
    ? Effect.fail(new UsageError({ message: `--publish "${unknown.join(",")}": choose from ${actions.join(", ")}` }))
    : Effect.succeed(actions.filter((a) => items.includes(a)))
}

const create = Command.make(
  "create",
  {
    name: nameArgument,
    table: Flag.String("table").pipe(
      Flag.withAlias("t"),
      Flag.withMetavar("schema.table"),
      Flag.withDescription("A table to publish (repeatable, or comma-separated)"),
      Flag.atLeast(0)
    ),
    schema: Flag.String("schema").pipe(
      Flag.withDescription("Publish every table of this schema, now and later (PostgreSQL 15+; repeatable)"),
      Flag.atLeast(0)
    ),
    allTables: switchFlag("all-tables", "Publish every table of the database, now and later"),
    publish: Flag.String("publish").pipe(
      Flag.withMetavar("insert,update,delete,truncate"),
      Flag.withDescription("The operations to publish (default all four)"),
      Flag.atLeast(0)
    ),
    viaPartitionRoot: switchFlag(
      "via-partition-root",
      "Publish the changes of partitions as changes of their partitioned table"
    )
  },
  handler("pgcdc publication create", (f) =>
    Effect.gen(function* () {
      const target = yield* targetOf(Inputs.list(f.table), Inputs.list(f.schema), f.allTables)
      const publish = yield* publishOf(f.publish)
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      yield* Publication.create(f.name, {
        target,
        publish,
        publishViaPartitionRoot: f.viaPartitionRoot ? true : undefined
      }).pipe(Effect.provideService(Connection, conn))
      const [row] = yield* select(conn, `${listQuery} WHERE p.pubname = ${literal(f.name)}`)
      const tables =
        row?.tables === null || row === undefined ? [] : (JSON.parse(row.tables) as PublicationRow["tables"])
      yield* Output.out(
        json
          ? JSON.stringify({ publication: f.name, tables })
          : `created publication ${f.name}: ${tables.length} table${tables.length === 1 ? "" : "s"} (${tables.map((t) => `${t.schema}.${t.table}`).join(", ") || "none yet"})`
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("Creates a publication of tables, schemas or the whole database"))

const drop = Command.make(
  "drop",
  {
    name: nameArgument,
    ifExists: switchFlag("if-exists", "Succeed when there is no such publication")
  },
  handler("pgcdc publication drop", (f) =>
    Effect.gen(function* () {
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      const existed = yield* Publication.exists(f.name).pipe(Effect.provideService(Connection, conn))
      if (!existed && !f.ifExists) {
        return yield* new CommandError({
          message: `There is no publication "${f.name}" in database "${conn.config.database}"`
        })
      }
      yield* Publication.drop(f.name, { ifExists: true }).pipe(Effect.provideService(Connection, conn))
      yield* Output.out(
        json
          ? JSON.stringify({ publication: f.name, dropped: existed })
          : existed
            ? `dropped publication ${f.name}`
            : `no publication ${f.name}`
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("Drops a publication (slots that stream it fail until it exists again)"))

export const publication = Command.make("publication").pipe(
  Command.withDescription("Publications: list, create, drop"),
  Command.withSubcommands([list, create, drop])
)
