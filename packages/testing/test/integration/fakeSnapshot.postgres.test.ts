/**
 * The fake server against PostgreSQL 14 and 18 on what an initial snapshot asks of a server: the same statements on
 * both, compared answer by answer. An exported snapshot imported while its walsender idles (a table truncated since
 * reads as empty in it), and gone after its next command or its end; the import's checks; a failed block; COPY's text format, inside and outside the snapshot;
 * pg_copy_logical_replication_slot; temporary slots dropped after a walsender error; and the three tagged catalog
 * queries of @pgcdc/replication's snapshot plan (taken from a run of the service over the fake, so they are the
 * queries the library sends) over tables and publications of every shape.
 */
import { Connection, type ConnectionConfig, type ConnectionShape, Connector } from "@pgcdc/connection"
import { Replication } from "@pgcdc/replication"
import { assert, layer } from "@effect/vitest"
import { Effect, Result, Stream } from "effect"
import { FakePostgres } from "../../src/fake/FakePostgres.ts"
import type { Backend, TableSpec } from "../../src/simulation/Backend.ts"
import * as FakeBackend from "../../src/simulation/FakeBackend.ts"
import * as PostgresBackend from "../../src/simulation/PostgresBackend.ts"
import { TestDatabase } from "../../src/TestDatabase.ts"
import * as TestLogger from "../../src/TestLogger.ts"
import { connectionConfig } from "../../src/fake/FakeConnection.ts"
import { copyOut } from "../copyLines.ts"

interface Side {
  readonly backend: Backend
  readonly regular: ConnectionConfig
  readonly walsender: ConnectionConfig
  /** Ends a session as pg_terminate_backend does, once it is gone. */
  readonly terminate: (pid: number) => Effect.Effect<void, unknown>
}

/** What a query did, as comparable data: its commands and rows, or its error's SQLSTATE and text. */
const outcome = (
  effect: Effect.Effect<
    ReadonlyArray<{ readonly command: string; readonly rows: unknown }>,
    { readonly code?: string | undefined; readonly message: string }
  >
) =>
  Effect.map(Effect.result(effect), (r) =>
    Result.isFailure(r)
      ? ["error", r.failure.code, r.failure.message]
      : ["ok", r.success.map((x) => [x.command, x.rows])]
  )

/** A COPY's column count and lines, sorted (heap order is the server's own). */
const copyLines = (conn: ConnectionShape, sql: string) =>
  Effect.map(copyOut(conn, sql), (c) => ({ columns: c.columns, lines: [...c.lines].sort() }))

const items: TableSpec = {
  name: "snap_items",
  columns: [
    { name: "id", type: "int4", key: true },
    { name: "v", type: "text" },
    { name: "n", type: "int8" }
  ]
}

const other: TableSpec = {
  name: "snap_other",
  columns: [
    { name: "id", type: "int4", key: true },
    { name: "v", type: "text" },
    { name: "n", type: "int8" }
  ]
}

const exportCommand = (conn: ConnectionShape, slot: string) =>
  conn.serverVersion >= 150000
    ? `CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`
    : `CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`

const importing = (name: string) =>
  `SET DateStyle = 'ISO'; BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '${name}'`

/** The snapshot statements, in order; what each answered, with snapshot names and LSNs left out. */
const snapshotScenario = (side: Side) =>
  Effect.gen(function* () {
    const seen: Array<readonly [string, unknown]> = []
    const withoutNames = (text: string) => text.replace(/[0-9A-F]{8}-[0-9A-F]{8}-\d+/g, "<snapshot>")
    const see = (what: string, value: unknown) => {
      seen.push([withoutNames(what), JSON.parse(withoutNames(JSON.stringify(value)))])
    }
    const { backend } = side
    yield* backend.setup({ slot: "snap_unused", createSlot: false, publication: "snap_pub", tables: [items, other] })
    yield* backend.transaction({
      ops: [
        { _tag: "Insert", table: items.name, row: { id: "1", v: "tab\there\nnew\\back\r\b\f\v\u0001ë 😀", n: "10" } },
        { _tag: "Insert", table: items.name, row: { id: "2", v: "", n: null } },
        { _tag: "Insert", table: items.name, row: { id: "3", v: null, n: "-5" } },
        { _tag: "Insert", table: other.name, row: { id: "1", v: "truncated after the snapshot", n: null } }
      ]
    })
    const ws = yield* Connection.make(side.walsender)
    const created = (yield* ws.query(exportCommand(ws, "snap_temp")))[0]!
    const name = created.rows[0]![2]!
    const consistentPoint = created.rows[0]![1]!
    see("CREATE_REPLICATION_SLOT", [created.command, created.fields.map((f) => [f.name, f.dataTypeOid])])
    yield* backend.transaction({
      ops: [
        { _tag: "Update", table: items.name, row: { id: "1", v: "changed", n: "11" } },
        { _tag: "Delete", table: items.name, key: { id: "2" } },
        { _tag: "Insert", table: items.name, row: { id: "4", v: "after", n: "4" } }
      ]
    })
    // TRUNCATE is not MVCC-safe: the snapshot, taken before it, reads the table as empty.
    yield* backend.transaction({
      ops: [
        { _tag: "Truncate", tables: [other.name] },
        { _tag: "Insert", table: other.name, row: { id: "2", v: "after the truncate", n: null } }
      ]
    })
    const inSnapshot = yield* Connection.make(side.regular)
    see("import while the exporter idles", yield* outcome(inSnapshot.query(importing(name))))
    const columns = `COPY (SELECT "id", "v", "n" FROM "public"."snap_items") TO STDOUT`
    see("COPY in the snapshot", yield* copyLines(inSnapshot, columns))
    see("COPY of a table truncated since", yield* copyLines(inSnapshot, `COPY "snap_other" TO STDOUT`))
    see(
      "COPY with a filter as PostgreSQL prints it",
      yield* copyLines(
        inSnapshot,
        `COPY (SELECT "n", "id" FROM "public"."snap_items" WHERE ((n > 0) OR (v = ANY (ARRAY['x'::text, ''::text])))) TO STDOUT`
      )
    )
    const now = yield* Connection.make(side.regular)
    see("COPY outside it", yield* copyLines(now, columns))
    see("COPY of the table", yield* copyLines(now, `COPY "snap_items" TO STDOUT`))
    see("COPY of the truncated table", yield* copyLines(now, `COPY "snap_other" TO STDOUT`))
    see("a second import", yield* outcome(inSnapshot.query(`SET TRANSACTION SNAPSHOT '${name}'`)))
    see("after an error", yield* outcome(inSnapshot.query("SELECT 1")))
    see("COMMIT of a failed block", yield* outcome(inSnapshot.query("COMMIT")))

    yield* ws.query("SHOW wal_level")
    const late = yield* Connection.make(side.regular)
    see("import after the exporter's next command", yield* outcome(late.query(importing(name))))
    yield* late.query("ROLLBACK")

    const copied = yield* outcome(now.query("SELECT pg_copy_logical_replication_slot('snap_temp', 'snap_kept', false)"))
    see(
      "pg_copy_logical_replication_slot",
      JSON.parse(JSON.stringify(copied).replace(consistentPoint, "<consistent point>"))
    )
    see("again", yield* outcome(now.query("SELECT pg_copy_logical_replication_slot('snap_temp', 'snap_kept', false)")))
    const star = yield* now.query("SELECT * FROM pg_copy_logical_replication_slot('snap_temp', 'snap_kept2', false)")
    see(
      "SELECT * FROM pg_copy_logical_replication_slot",
      star[0]!.fields.map((f) => [f.name, f.dataTypeOid])
    )
    const slots = () =>
      Effect.map(
        now.query("SELECT slot_name, temporary::text, confirmed_flush_lsn::text FROM pg_replication_slots"),
        (r) =>
          r[0]!.rows
            .filter((row) => row[0]!.startsWith("snap"))
            .map((row) => [row[0], row[1], row[2] === consistentPoint])
            .sort((a, b) => String(a[0]).localeCompare(String(b[0])))
      )
    see("slots", yield* slots())
    yield* Effect.result(
      ws.query("START_REPLICATION SLOT nosuch LOGICAL 0/0 (proto_version '1', publication_names 'p')")
    )
    see("slots after an ERROR on the walsender", yield* slots())
    see(
      "copying a slot that is gone",
      yield* outcome(now.query("SELECT pg_copy_logical_replication_slot('snap_temp', 'x', false)"))
    )

    const second = yield* Connection.make(side.walsender)
    const name2 = (yield* second.query(exportCommand(second, "snap_temp2")))[0]!.rows[0]![2]!
    yield* side.terminate(second.backendKey!.processId)
    see("import after the exporter ended", yield* outcome(late.query(importing(name2))))
    yield* late.query("ROLLBACK")
    see("slots after the exporter ended", yield* slots())

    const checks = yield* Connection.make(side.regular)
    const third = yield* Connection.make(side.walsender)
    const name3 = (yield* third.query(exportCommand(third, "snap_temp3")))[0]!.rows[0]![2]!
    for (const sql of [
      `SET TRANSACTION SNAPSHOT '${name3}'`,
      `BEGIN; SET TRANSACTION SNAPSHOT '${name3}'`,
      `BEGIN ISOLATION LEVEL SERIALIZABLE; SET TRANSACTION SNAPSHOT '${name3}'`,
      `BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1; SET TRANSACTION SNAPSHOT '${name3}'`,
      `BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT 'xyz'`,
      `BEGIN ISOLATION LEVEL REPEATABLE READ, READ WRITE; SET TRANSACTION SNAPSHOT '${name3}'`,
      `BEGIN ISOLATION LEVEL FOO`,
      `BEGIN; SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; SELECT 1; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE`
    ]) {
      see(sql, yield* outcome(checks.query(sql)))
      yield* checks.query("ROLLBACK")
    }
    see("pg_is_in_recovery", yield* outcome(checks.query("SELECT pg_is_in_recovery()::text")))
    see("COPY of no table", yield* outcome(checks.query(`COPY (SELECT "id" FROM "public"."nope") TO STDOUT`)))
    see("COPY of no column", yield* outcome(checks.query(`COPY (SELECT "nope" FROM "public"."snap_items") TO STDOUT`)))
    yield* checks.query("SELECT pg_drop_replication_slot('snap_kept'); SELECT pg_drop_replication_slot('snap_kept2')")
    return seen
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------------------------
// The catalog queries

/** Statements that make the same tables and publications on both sides (SQL; the fake's tables via its driver). */
const catalogSql = (major: number): ReadonlyArray<string> => [
  "CREATE SCHEMA cat",
  "CREATE SCHEMA cat_s",
  "CREATE TABLE cat.t1 (id int4 PRIMARY KEY, v text, n int8, b bool, nu numeric(10,2), vc varchar(20))",
  "CREATE TABLE cat.t2 (id int8 PRIMARY KEY, w text)",
  "ALTER TABLE cat.t2 REPLICA IDENTITY FULL",
  "CREATE TABLE cat_s.t3 (a int4, b text)",
  "CREATE TABLE cat.t4 (a int4 PRIMARY KEY, c int4[], d jsonb, e timestamptz)",
  "CREATE PUBLICATION pc_all FOR ALL TABLES",
  ...(major >= 15
    ? [
        "CREATE PUBLICATION pc_list FOR TABLE cat.t1 (id, v), cat.t2 WHERE (w <> 'x')",
        "CREATE PUBLICATION pc_schema FOR TABLES IN SCHEMA cat_s",
        "CREATE PUBLICATION pc_filters FOR TABLE cat.t1 WHERE (n > 100 AND v IN ('a', 'b') OR vc = 'z' OR nu > 5)"
      ]
    : ["CREATE PUBLICATION pc_list FOR TABLE cat.t1, cat.t2"])
]

const defineCatalogTables = (fake: typeof FakePostgres.Service) =>
  Effect.gen(function* () {
    yield* fake.defineTable({
      schema: "cat",
      name: "t1",
      columns: [
        { name: "id", typeOid: 23, key: true },
        { name: "v", typeOid: 25 },
        { name: "n", typeOid: 20 },
        { name: "b", typeOid: 16 },
        { name: "nu", typeOid: 1700, typeModifier: 655366 },
        { name: "vc", typeOid: 1043, typeModifier: 24 }
      ]
    })
    yield* fake.defineTable({
      schema: "cat",
      name: "t2",
      replicaIdentity: "f",
      columns: [
        { name: "id", typeOid: 20, key: true },
        { name: "w", typeOid: 25 }
      ]
    })
    yield* fake.defineTable({
      schema: "cat_s",
      name: "t3",
      columns: [
        { name: "a", typeOid: 23 },
        { name: "b", typeOid: 25 }
      ]
    })
    yield* fake.defineTable({
      schema: "cat",
      name: "t4",
      columns: [
        { name: "a", typeOid: 23, key: true },
        { name: "c", typeOid: 1007 },
        { name: "d", typeOid: 3802 },
        { name: "e", typeOid: 1184 }
      ]
    })
  })

/** The three tagged queries, as the library sends them, from snapshots of the service over a fake of `major`. */
const snapshotQueries = (major: number) =>
  Effect.gen(function* () {
    const fake = yield* FakePostgres.make({ listen: false, serverVersion: `${major}.1` })
    yield* defineCatalogTables(fake)
    const sql = yield* Connection.make(connectionConfig(fake, { replication: undefined }))
    for (const statement of catalogSql(major).filter((s) => s.startsWith("CREATE PUBLICATION")))
      yield* sql.query(statement)
    const connector = Connector.make(connectionConfig(fake))
    for (const publications of [["pc_all", "pc_list", "pc_schema", "pc_filters"], ["pc_all"]]) {
      // The first plan stops at the column lists that differ (after its first query): only its table query is used.
      yield* Effect.scoped(
        Replication.make({
          slot: "q",
          publications: publications.filter((p) => major >= 15 || (p !== "pc_schema" && p !== "pc_filters")),
          snapshot: "initial_only"
        }).pipe(
          Effect.provideService(Connector, connector),
          Effect.flatMap((r) => Effect.result(Stream.runDrain(r.stream)))
        )
      )
    }
    const queries = yield* fake.queries
    const tagged = (tag: string) => queries.filter((q) => q.includes(`/* pgcdc:${tag} */`))
    return {
      tables: tagged("snapshot-tables")[0]!,
      columns: tagged("snapshot-columns")[0]!,
      sources: tagged("snapshot-sources")[0]!
    }
  }).pipe(Effect.scoped)

/** The three queries' answers on one side, table OIDs written as names (each side numbers its tables its own way). */
const catalogAnswers = (sql: ConnectionShape, queries: { tables: string; columns: string; sources: string }) =>
  Effect.gen(function* () {
    const inCat = (schema: string | null) => schema === "cat" || schema === "cat_s"
    const tables = (yield* sql.query(queries.tables))[0]!
    const rows = tables.rows.filter((r) => inCat(r[1]!))
    const names = new Map(rows.map((r) => [r[0]!, `${r[1]}.${r[2]}`]))
    const oids = [...names.keys()].join(", ")
    const withOids = (text: string) =>
      text.replace(/IN \([\d, ]+\)/, `IN (${oids})`).replace(/ARRAY\[[\d, ]+\]/, `ARRAY[${oids}]`)
    const named = (r: ReadonlyArray<string | null>) => [names.get(r[0]!) ?? r[0], ...r.slice(1)]
    const columns = (yield* sql.query(withOids(queries.columns)))[0]!
    const sources = (yield* sql.query(withOids(queries.sources)))[0]!
    const described = (r: {
      readonly fields: ReadonlyArray<{ readonly name: string; readonly dataTypeOid: number }>
    }) => r.fields.map((f) => [f.name, f.dataTypeOid])
    return {
      // Ordered by schema and table; PostgreSQL orders the publications of one table differently from run to run.
      tables: [described(tables), rows.map(named).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))],
      // Rows by table name, since OIDs order them differently on each side.
      columns: [described(columns), columns.rows.map(named).sort((a, b) => String(a[0]).localeCompare(String(b[0])))],
      sources: [described(sources), sources.rows.map(named).sort((a, b) => String(a[0]).localeCompare(String(b[0])))]
    }
  })

for (const major of [18, 14] as const) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "120 seconds" })(
    `snapshot statements: the fake against PostgreSQL ${major}`,
    (it) => {
      it.effect("exported snapshots, imports, COPY, slot copies and temporary slots answer the same", () => {
        const logs = TestLogger.make()
        return Effect.gen(function* () {
          const db = yield* TestDatabase
          const pg = yield* PostgresBackend.fromDatabase(db)
          const pgSql = yield* Connection.make({ ...pg.connection, replication: undefined })
          const onPostgres = yield* snapshotScenario({
            backend: pg,
            regular: { ...pg.connection, replication: undefined },
            walsender: pg.connection,
            terminate: (pid) => pgSql.query(`SELECT pg_terminate_backend(${pid}, 10000)`)
          })
          const fake = yield* FakeBackend.make({ serverVersion: `${major}.1` })
          const onFake = yield* snapshotScenario({
            backend: fake,
            regular: { ...fake.connection, replication: undefined },
            walsender: fake.connection,
            terminate: (pid) => fake.fake.terminate(pid)
          })
          assert.deepStrictEqual(onFake, onPostgres)
          // PostgreSQL warns about the statements outside a transaction block the scenario sends on purpose (the fake
          // sends no notices): kept, and exactly these.
          assert.deepStrictEqual(
            logs.entries.map((e) => `${e.level}: ${e.message}`),
            [
              "Warn: PostgreSQL WARNING: SET TRANSACTION can only be used in transaction blocks",
              "Warn: PostgreSQL WARNING: there is no transaction in progress",
              "Warn: PostgreSQL WARNING: there is no transaction in progress"
            ]
          )
        }).pipe(Effect.scoped, TestLogger.provide(logs))
      })

      it.effect("the snapshot plan's catalog queries answer the same for tables and publications of every shape", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const queries = yield* snapshotQueries(major)
          const pg = yield* Connection.make({
            host: db.host,
            port: db.port,
            user: db.user,
            password: (yield* PostgresBackend.fromDatabase(db)).connection.password,
            database: db.database,
            sslmode: "disable"
          })
          for (const statement of catalogSql(major)) yield* pg.query(statement)
          const fake = yield* FakePostgres.make({ listen: false, serverVersion: `${major}.1` })
          yield* defineCatalogTables(fake)
          const fakeSql = yield* Connection.make(connectionConfig(fake, { replication: undefined }))
          for (const statement of catalogSql(major).filter((s) => s.startsWith("CREATE PUBLICATION")))
            yield* fakeSql.query(statement)
          const theirs = yield* catalogAnswers(pg, queries)
          const ours = yield* catalogAnswers(fakeSql, queries)
          assert.deepStrictEqual(ours.tables, theirs.tables)
          assert.deepStrictEqual(ours.columns, theirs.columns)
          assert.deepStrictEqual(ours.sources, theirs.sources)
          // Something was compared: a row per publication and table (all tables, the list, the schema, the filter).
          assert.strictEqual((theirs.tables[1] as ReadonlyArray<unknown>).length, major >= 15 ? 4 + 2 + 1 + 1 : 4 + 2)
        }).pipe(Effect.scoped)
      )
    }
  )
}
