/**
 * Publication management: create, ensure (create unless it exists) and drop publications, with every form
 * PostgreSQL offers — FOR TABLE (with row filters and column lists, 15+), FOR ALL TABLES, FOR TABLES IN SCHEMA (15+),
 * `publish` and `publish_via_partition_root`. Features the server is too old for fail before anything is sent.
 *
 * Runs plain SQL on the `Connection` in context (a normal session or a logical walsender, which accepts SQL too).
 * It deliberately does not ALTER existing publications: `ensure` leaves an existing one as it is.
 */
import { Connection } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import { fromConnectionError, ReplicationError, replicationError } from "./ReplicationError.ts"
import { ident, literal, qualified } from "./internal/sqlText.ts"
import { versionText } from "./internal/startOptions.ts"

export interface PublishedTable {
  readonly name: string
  readonly schema?: string | undefined
  /** Only these columns are published (PostgreSQL 15+). */
  readonly columns?: ReadonlyArray<string> | undefined
  /** A row filter: a boolean SQL expression over the table's columns, e.g. `"status <> 'draft'"` (PostgreSQL 15+). */
  readonly where?: string | undefined
}

export type PublicationTarget =
  | { readonly _tag: "AllTables" }
  | { readonly _tag: "Tables"; readonly tables: ReadonlyArray<string | PublishedTable> }
  /** TABLES IN SCHEMA (PostgreSQL 15+), optionally with extra tables. */
  | {
      readonly _tag: "Schemas"
      readonly schemas: ReadonlyArray<string>
      readonly tables?: ReadonlyArray<string | PublishedTable> | undefined
    }

export type PublishAction = "insert" | "update" | "delete" | "truncate"

export interface PublicationOptions {
  readonly target: PublicationTarget
  /** Which operations to publish; default all four. */
  readonly publish?: ReadonlyArray<PublishAction> | undefined
  /** Publish changes of partitions as changes of their root table. */
  readonly publishViaPartitionRoot?: boolean | undefined
}

const tooOld = (what: string, serverVersion: number): ReplicationError =>
  replicationError("UnsupportedOption", {
    code: "0A000",
    message: `${what} needs PostgreSQL 15 or later; this server is ${versionText(serverVersion)}. Publish whole tables instead.`
  })

const tableClause = (t: string | PublishedTable, serverVersion: number): string => {
  if (typeof t === "string") return ident(t, "table name")
  if ((t.columns !== undefined || t.where !== undefined) && serverVersion < 150000) {
    throw tooOld("A publication column list or row filter", serverVersion)
  }
  const columns = t.columns === undefined ? "" : ` (${t.columns.map((c) => ident(c, "column name")).join(", ")})`
  const where = t.where === undefined ? "" : ` WHERE (${t.where})`
  return `${qualified(t)}${columns}${where}`
}

/** The CREATE PUBLICATION text for a server version (exported for tests). */
export const createCommand = (name: string, options: PublicationOptions, serverVersion: number): string => {
  const target = options.target
  let what: string
  switch (target._tag) {
    case "AllTables":
      what = "FOR ALL TABLES"
      break
    case "Tables":
      if (target.tables.length === 0) {
        throw replicationError("InvalidOption", {
          message: "A publication FOR TABLE needs at least one table."
        })
      }
      what = `FOR TABLE ${target.tables.map((t) => tableClause(t, serverVersion)).join(", ")}`
      break
    case "Schemas": {
      if (serverVersion < 150000) throw tooOld("FOR TABLES IN SCHEMA", serverVersion)
      const parts = target.schemas.map((s) => `TABLES IN SCHEMA ${ident(s, "schema name")}`)
      for (const t of target.tables ?? []) parts.push(`TABLE ${tableClause(t, serverVersion)}`)
      what = `FOR ${parts.join(", ")}`
      break
    }
  }
  const settings: Array<string> = []
  if (options.publish !== undefined) settings.push(`publish = ${literal(options.publish.join(", "))}`)
  if (options.publishViaPartitionRoot !== undefined) {
    settings.push(`publish_via_partition_root = ${options.publishViaPartitionRoot ? "true" : "false"}`)
  }
  const withClause = settings.length === 0 ? "" : ` WITH (${settings.join(", ")})`
  return `CREATE PUBLICATION ${ident(name, "publication name")} ${what}${withClause}`
}

const sync = <A>(f: () => A): Effect.Effect<A, ReplicationError> =>
  Effect.try({
    try: f,
    catch: (e) =>
      e instanceof ReplicationError ? e : replicationError("InvalidOption", { message: String(e), cause: e })
  })

/** Whether a publication exists in the connection's database. */
export const exists = Effect.fn("Publication.exists")(function* (name: string) {
  const conn = yield* Connection
  const results = yield* conn
    .query(`SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = ${literal(name)}`)
    .pipe(Effect.mapError((e) => fromConnectionError(e, `Looking up publication "${name}"`)))
  return (results[0]?.rows.length ?? 0) > 0
})

export const create = Effect.fn("Publication.create")(function* (name: string, options: PublicationOptions) {
  const conn = yield* Connection
  const sql = yield* sync(() => createCommand(name, options, conn.serverVersion))
  yield* conn.query(sql).pipe(Effect.mapError((e) => fromConnectionError(e, `Creating publication "${name}"`)))
})

/** Creates the publication unless one with this name exists (an existing one is left unchanged). */
export const ensure = Effect.fn("Publication.ensure")(function* (name: string, options: PublicationOptions) {
  if (yield* exists(name)) return false
  yield* create(name, options).pipe(
    // Lost a race with another creator: the publication exists, which is what was asked.
    Effect.catchIf(
      (e) => e.reason._tag === "AlreadyExists",
      () => Effect.void
    )
  )
  return true
})

export const drop = Effect.fn("Publication.drop")(function* (
  name: string,
  options?: { readonly ifExists?: boolean | undefined }
) {
  const conn = yield* Connection
  const sql = yield* sync(
    () => `DROP PUBLICATION ${options?.ifExists === false ? "" : "IF EXISTS "}${ident(name, "publication name")}`
  )
  yield* conn.query(sql).pipe(Effect.mapError((e) => fromConnectionError(e, `Dropping publication "${name}"`)))
})
