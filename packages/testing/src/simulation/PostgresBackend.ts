/**
 * A real PostgreSQL server as a `Backend`: workload transactions become SQL on a regular session of our own
 * `Connection` (one simple query per transaction, `BEGIN; ...; COMMIT`), slot positions come from
 * `pg_replication_slots`, a lost connection is `pg_terminate_backend` of the walsender, and tables are read back
 * with `SELECT`.
 *
 * Streamed transactions need the server to run with a small `logical_decoding_work_mem` (64kB) and an
 * `InsertSeries` large enough to pass it. It deliberately creates only what a workload names and drops its slots
 * when the scope closes; it leaves tables and publications (names are the caller's, usually unique per test).
 */
import { Connection, type ConnectionConfig, type ConnectionShape } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { TestDatabaseInfo } from "../TestDatabase.ts"
import { type Backend, BackendError, type Op, type Row, type SetupSpec, type TableSpec } from "./Backend.ts"

const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`
const literal = (value: string | null): string => (value === null ? "NULL" : `'${value.replaceAll("'", "''")}'`)

const keyColumns = (t: TableSpec) => t.columns.filter((c) => c.key === true)

const createTable = (t: TableSpec): string => {
  const columns = t.columns.map((c) => `${ident(c.name)} ${c.type}`).join(", ")
  const key = keyColumns(t)
    .map((c) => ident(c.name))
    .join(", ")
  const identity = t.replicaIdentity === "full" ? `; ALTER TABLE ${ident(t.name)} REPLICA IDENTITY FULL` : ""
  return `CREATE TABLE ${ident(t.name)} (${columns}, PRIMARY KEY (${key}))${identity}`
}

const whereKey = (t: TableSpec, row: Row): string =>
  keyColumns(t)
    .map((c) => `${ident(c.name)} = ${literal(row[c.name] ?? null)}`)
    .join(" AND ")

/** One operation as one SQL statement. */
export const statement = (tables: ReadonlyMap<string, TableSpec>, op: Op): string => {
  const table = (n: string) => {
    const t = tables.get(n)
    if (t === undefined) throw new Error(`table ${n} is not set up`)
    return t
  }
  switch (op._tag) {
    case "Insert": {
      const names = Object.keys(op.row)
      return `INSERT INTO ${ident(op.table)} (${names.map(ident).join(", ")}) VALUES (${names.map((n) => literal(op.row[n] ?? null)).join(", ")})`
    }
    case "Update": {
      const t = table(op.table)
      const sets = t.columns
        .filter((c) => c.key !== true)
        .map((c) => `${ident(c.name)} = ${literal(op.row[c.name] ?? null)}`)
        .join(", ")
      return `UPDATE ${ident(op.table)} SET ${sets} WHERE ${whereKey(t, op.row)}`
    }
    case "Delete":
      return `DELETE FROM ${ident(op.table)} WHERE ${whereKey(table(op.table), op.key)}`
    case "Truncate":
      return `TRUNCATE ${op.tables.map(ident).join(", ")}`
    case "Message":
      return `SELECT pg_logical_emit_message(true, ${literal(op.prefix)}, ${literal(op.content)})`
    case "InsertSeries":
      return `INSERT INTO ${ident(op.table)} (id, v, n) SELECT g, ${literal(op.text)}, g::int8 * 1000 FROM generate_series(${op.from}, ${op.from + op.count - 1}) AS g`
  }
}

/** A backend over the server that `config` (a regular session's settings) reaches. */
export const make = (
  config: ConnectionConfig,
  name = "PostgreSQL"
): Effect.Effect<Backend, BackendError, Scope.Scope> =>
  Effect.gen(function* () {
    const fail = (e: { readonly message: string }) => new BackendError({ backend: name, message: e.message, cause: e })
    const sql: ConnectionShape = yield* Connection.make({ ...config, replication: undefined }).pipe(
      Effect.mapError(fail)
    )
    // A walsender sends only flushed WAL. With synchronous_commit off (common on test servers) a commit waits for the
    // WAL writer (wal_writer_delay, 200 ms) before a consumer can see it; on, it is flushed at once.
    yield* sql.query("SET synchronous_commit = on").pipe(Effect.mapError(fail))
    const backendName = `${name} ${Math.floor(sql.serverVersion / 10000)}`
    // Where the WAL was when the backend was made: logicalMessages reads from here.
    const madeAt = (yield* sql.query("SELECT pg_current_wal_lsn()::text").pipe(Effect.mapError(fail)))[0]!.rows[0]![0]!
    const tables = new Map<string, TableSpec>()
    const slots: Array<string> = []
    const run = (text: string) => sql.query(text).pipe(Effect.mapError(fail))
    const scalar = (text: string) => Effect.map(run(text), (results) => results.at(-1)?.rows[0]?.[0] ?? null)

    yield* Effect.addFinalizer(() =>
      Effect.forEach(
        slots,
        (slot) =>
          run(
            `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ${literal(slot)} AND NOT active`
          ),
        { discard: true }
      ).pipe(Effect.ignore)
    )

    const backend: Backend = {
      name: backendName,
      kind: "postgres",
      serverVersion: sql.serverVersion,
      connection: { ...config, replication: "logical" },
      replicationOptions: {
        // Status updates reach the server soon after a commit; a reconnect waits for the old walsender to exit.
        statusInterval: "100 millis",
        reconnect: Schedule.max([Schedule.spaced("20 millis"), Schedule.recurs(250)])
      },
      setup: (spec: SetupSpec) =>
        Effect.gen(function* () {
          for (const t of [...spec.tables, ...(spec.unpublished ?? [])]) {
            yield* run(createTable(t))
            tables.set(t.name, t)
          }
          const publish = spec.publish === undefined ? "" : ` WITH (publish = ${literal(spec.publish.join(", "))})`
          const targets = (columns: SetupSpec["columns"], rowFilters: SetupSpec["rowFilters"]) =>
            spec.tables
              .map((t) => {
                const list = columns?.[t.name]
                const filter = rowFilters?.[t.name]
                return `${ident(t.name)}${list === undefined ? "" : ` (${list.map(ident).join(", ")})`}${filter === undefined ? "" : ` WHERE (${filter})`}`
              })
              .join(", ")
          yield* run(
            `CREATE PUBLICATION ${ident(spec.publication)} FOR TABLE ${targets(spec.columns, spec.rowFilters)}${publish}`
          )
          for (const more of spec.more ?? []) {
            yield* run(
              `CREATE PUBLICATION ${ident(more.publication)} FOR TABLE ${targets(more.columns, more.rowFilters)}`
            )
          }
          if (spec.createSlot !== false) {
            yield* run(`SELECT pg_create_logical_replication_slot(${literal(spec.slot)}, 'pgoutput')`)
          }
          // Created now or by an initial snapshot later: dropped when the scope closes either way.
          slots.push(spec.slot)
        }),
      transaction: (tx) =>
        Effect.gen(function* () {
          const statements = yield* Effect.try({
            try: () => tx.ops.map((op) => statement(tables, op)),
            catch: (e) => new BackendError({ backend: backendName, message: String(e), cause: e })
          })
          yield* run(["BEGIN", ...statements, tx.rollback === true ? "ROLLBACK" : "COMMIT"].join(";\n"))
        }),
      message: (prefix, content) =>
        Effect.asVoid(run(`SELECT pg_logical_emit_message(false, ${literal(prefix)}, ${literal(content)})`)),
      confirmedFlush: (slot) =>
        Effect.flatMap(
          scalar(`SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ${literal(slot)}`),
          (text) => {
            const lsn = text === null ? undefined : Lsn.parse(text)
            return lsn !== undefined && lsn._tag === "Success"
              ? Effect.succeed(lsn.success)
              : Effect.fail(new BackendError({ backend: backendName, message: `no confirmed_flush_lsn for ${slot}` }))
          }
        ),
      dropReplicationConnections: (slot) =>
        Effect.asVoid(
          // The timeout argument waits (up to 10 s) until the walsender has exited.
          run(
            `SELECT pg_terminate_backend(active_pid, 10000) FROM pg_replication_slots WHERE slot_name = ${literal(slot)} AND active_pid IS NOT NULL`
          )
        ),
      slotExists: (slot) =>
        Effect.map(
          scalar(`SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = ${literal(slot)}`),
          (n) => n === "1"
        ),
      // The slot appears when the service's own session has copied it: a short wait, polled.
      awaitSlot: (slot) =>
        Effect.flatMap(
          scalar(`SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = ${literal(slot)}`),
          (n) =>
            n === "1"
              ? Effect.void
              : Effect.fail(
                  new BackendError({ backend: backendName, message: `replication slot "${slot}" does not exist yet` })
                )
        ).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 500 })),
      dropTemporarySlotSessions: Effect.asVoid(
        run(
          "SELECT pg_terminate_backend(active_pid, 10000) FROM pg_replication_slots WHERE temporary AND active_pid IS NOT NULL"
        )
      ),
      // pg_walinspect (PostgreSQL 15 and later, a contrib module): the WAL's records, each message's prefix in its
      // description ('non-transactional, prefix "..."; payload ...').
      logicalMessages:
        sql.serverVersion < 150000
          ? undefined
          : (prefix) =>
              Effect.gen(function* () {
                yield* run("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
                const results = yield* run(
                  `SELECT start_lsn::text, description FROM pg_get_wal_records_info(${literal(madeAt)}, pg_current_wal_flush_lsn()) WHERE resource_manager = 'LogicalMessage'`
                )
                const wanted = `non-transactional, prefix "${prefix}";`
                return (results.at(-1)?.rows ?? []).flatMap((r) => {
                  const lsn = Lsn.parse(r[0] ?? "")
                  return r[1]?.startsWith(wanted) === true && lsn._tag === "Success" ? [lsn.success] : []
                })
              }),
      eventually: (what, check) =>
        Effect.flatMap(check, (ok) =>
          ok ? Effect.void : Effect.fail(new BackendError({ backend: backendName, message: `${what}: not yet` }))
        ).pipe(
          Effect.retry({
            while: (e) => e instanceof BackendError && e.message.endsWith(": not yet"),
            schedule: Schedule.spaced("20 millis"),
            times: 500
          })
        ),
      readTable: (t) =>
        Effect.map(
          run(`SELECT ${t.columns.map((c) => `${ident(c.name)}::text`).join(", ")} FROM ${ident(t.name)}`),
          (results) =>
            (results.at(-1)?.rows ?? []).map((r) => {
              const row: Record<string, string | null> = {}
              t.columns.forEach((c, i) => {
                row[c.name] = r[i] ?? null
              })
              return row
            })
        )
    }
    return backend
  })

/** A backend over a test database (`TestDatabase`). */
export const fromDatabase = (db: TestDatabaseInfo): Effect.Effect<Backend, BackendError, Scope.Scope> =>
  make(
    {
      host: db.host,
      port: db.port,
      user: db.user,
      password: Redacted.make(db.password),
      database: db.database,
      sslmode: "disable"
    },
    "PostgreSQL"
  )

export const PostgresBackend = { make, fromDatabase, statement } as const
