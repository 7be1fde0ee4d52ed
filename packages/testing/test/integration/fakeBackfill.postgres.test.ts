/**
 * The fake server against PostgreSQL 14 and 18 on what a backfill, the heartbeat and the slot check ask of a server:
 * the same statements on both sides, compared answer by answer (columns, types, command tags, rows, SQLSTATEs and
 * texts), with LSNs and timestamps left out. The progress table made, filled and read as @pgcdc/replication does
 * (tagged statements copied from its internal/backfill); the primary key query; the chunk COPYs, ordered, limited and
 * after a key, with a row filter, of a one-column and a two-column key; watermarks and heartbeats, and what a stream
 * with logical messages then carries: transactional messages in their transaction (none of a rolled-back block),
 * non-transactional ones at once; the slot check.
 */
import {
  Connection,
  type ConnectionConfig,
  type ConnectionError,
  type ConnectionShape,
  Connector,
  type QueryResult
} from "@pgcdc/connection"
import { Replication, type WalMessage } from "@pgcdc/replication"
import { assert, layer } from "@effect/vitest"
import { Effect, Result, Stream } from "effect"
import type { Backend, TableSpec } from "../../src/simulation/Backend.ts"
import * as FakeBackend from "../../src/simulation/FakeBackend.ts"
import * as PostgresBackend from "../../src/simulation/PostgresBackend.ts"
import { TestDatabase } from "../../src/TestDatabase.ts"
import { copyLines } from "../copyLines.ts"

interface Side {
  readonly backend: Backend
  readonly regular: ConnectionConfig
  readonly walsender: ConnectionConfig
  /** A table's OID on this side. */
  readonly oid: (sql: ConnectionShape, table: string) => Effect.Effect<string, unknown>
}

const decoder = new TextDecoder()
const hideLsns = (text: string) => text.replace(/\b[0-9A-F]{1,8}\/[0-9A-F]{1,8}\b/g, "<lsn>")

/** What a query did: its results (command, columns, rows) or its error's SQLSTATE, text and detail. */
const outcome = (effect: Effect.Effect<ReadonlyArray<QueryResult>, ConnectionError>) =>
  Effect.map(Effect.result(effect), (r) =>
    Result.isFailure(r)
      ? ["error", r.failure.code, r.failure.message, r.failure.detail]
      : r.success.map((x) => [x.command, x.fields.map((f) => [f.name, f.dataTypeOid]), x.rows])
  )

/** A COPY's lines in the order the server sent them (a chunk's order is what is compared), or its error. */
const copyInOrder = (conn: ConnectionShape, sql: string) =>
  Effect.map(Effect.result(copyLines(conn, sql)), (r) =>
    Result.isFailure(r) ? ["error", r.failure.code, r.failure.message] : r.success
  )

const items: TableSpec = {
  name: "bfq_items",
  columns: [
    { name: "id", type: "int4", key: true },
    { name: "ver", type: "int8" },
    { name: "v", type: "text" }
  ]
}
const pairs: TableSpec = {
  name: "bfq_pairs",
  columns: [
    { name: "a", type: "int4", key: true },
    { name: "b", type: "text", key: true },
    { name: "c", type: "int8" }
  ]
}

const progressTable = `SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS /* pgcdc:backfill-table */ "public".pgcdc_backfills (id text PRIMARY KEY, slot text NOT NULL, table_schema text NOT NULL, table_name text NOT NULL, chunk_size int NOT NULL, state text NOT NULL, chunks int NOT NULL DEFAULT 0, rows bigint NOT NULL DEFAULT 0, after_key text[], error text, started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now()); RESET client_min_messages`
const exists = `SELECT /* pgcdc:backfill-exists */ (to_regclass('"public".pgcdc_backfills') IS NOT NULL)::text`
const insert = (id: string, table: string) =>
  `INSERT INTO /* pgcdc:backfill-insert */ "public".pgcdc_backfills (id, slot, table_schema, table_name, chunk_size, state) VALUES ('${id}', 'bfq_slot', 'public', '${table}', 5, 'running')`
const running = `SELECT /* pgcdc:backfill-running */ id, table_schema, table_name, chunk_size, chunks, rows, array_to_json(after_key)::text FROM "public".pgcdc_backfills WHERE slot = 'bfq_slot' AND state = 'running' ORDER BY started_at`
const watermark = (content: string) =>
  `SELECT /* pgcdc:backfill-watermark */ pg_logical_emit_message(true, 'pgcdc.backfill', '${content}')::text`
const heartbeat = `SELECT /* pgcdc:heartbeat */ pg_logical_emit_message(false, 'pgcdc.heartbeat', 'bfq_slot')::text`
const slotHealth = (slot: string) =>
  `SELECT /* pgcdc:slot-health */ wal_status, safe_wal_size::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text, pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text FROM pg_replication_slots WHERE slot_name = '${slot}'`

/** A stream's messages as comparable events: logical messages and row changes (Begin/Commit are left out). */
const events = (messages: ReadonlyArray<WalMessage>) =>
  messages.flatMap((m) => {
    switch (m._tag) {
      case "Message":
        return [[m._tag, m.transactional, m.prefix, decoder.decode(m.content)]]
      case "Insert":
      case "Update":
        return [[m._tag, m.table.name, m.new.id]]
      default:
        return []
    }
  })

const scenario = (side: Side) =>
  Effect.gen(function* () {
    const seen: Array<readonly [string, unknown]> = []
    const see = (what: string, value: unknown) => {
      const text = hideLsns(JSON.stringify(value)).replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00/g, "<now>")
      seen.push([what, JSON.parse(text)])
    }
    const { backend } = side
    yield* backend.setup({ slot: "bfq_slot", publication: "bfq_pub", tables: [items, pairs] })
    yield* backend.transaction({
      ops: [
        ...Array.from({ length: 12 }, (_, i) => ({
          _tag: "Insert" as const,
          table: items.name,
          row: { id: String(i + 1), ver: "1", v: `v${i + 1}` }
        })),
        ...(
          [
            ["2", "x", "1"],
            ["1", "y", "2"],
            ["1", "x", "3"],
            ["2", "a b", "4"]
          ] as const
        ).map(([a, b, c]) => ({ _tag: "Insert" as const, table: pairs.name, row: { a, b, c } }))
      ]
    })
    const sql = yield* Connection.make(side.regular)
    const run = (what: string, text: string) =>
      Effect.flatMap(outcome(sql.query(text)), (o) => Effect.sync(() => see(what, o)))

    // The progress table, as a backfill makes, fills and reads it.
    yield* run("exists before", exists)
    yield* run("CREATE TABLE", progressTable)
    yield* run("CREATE TABLE again", progressTable)
    yield* run("exists after", exists)
    yield* run("INSERT", insert("bf_1", items.name))
    yield* run("INSERT another", insert("bf_2", pairs.name))
    yield* run("INSERT a duplicate", insert("bf_1", items.name))
    yield* run(
      "UPDATE progress",
      `UPDATE /* pgcdc:backfill-progress */ "public".pgcdc_backfills SET chunks = 1, rows = 5, after_key = ARRAY['5']::text[], state = 'running', updated_at = now() WHERE id = 'bf_1'`
    )
    yield* run(
      "UPDATE with quoted elements",
      `UPDATE /* pgcdc:backfill-progress */ "public".pgcdc_backfills SET chunks = 1, rows = 2, after_key = ARRAY['a b', E'q\\\\"x', 'NULL', '']::text[], state = 'running', updated_at = now() WHERE id = 'bf_2'`
    )
    yield* run(
      "UPDATE of no row",
      `UPDATE /* pgcdc:backfill-progress */ "public".pgcdc_backfills SET state = 'cancelled', updated_at = now() WHERE id = 'nope'`
    )
    yield* run("running", running)
    yield* run(
      "UPDATE of a slot's running ones",
      `UPDATE /* pgcdc:backfill-progress */ "public".pgcdc_backfills SET state = 'cancelled', updated_at = now() WHERE slot = 'bfq_slot' AND state = 'running'`
    )
    yield* run("running after", running)
    see(
      "COPY of the progress table",
      yield* copyInOrder(sql, `COPY "pgcdc_backfills" (id, state, after_key, error) TO STDOUT`)
    )

    // The primary key, and the chunks.
    yield* run(
      "primary key",
      `SELECT /* pgcdc:backfill-key */ a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = ${yield* side.oid(sql, pairs.name)} AND i.indisprimary ORDER BY k.n`
    )
    const chunk = (where: string, limit: number) =>
      `COPY (SELECT "id", "ver", "v" FROM "public"."bfq_items"${where} ORDER BY "id" LIMIT ${limit}) TO STDOUT`
    see("first chunk", yield* copyInOrder(sql, chunk("", 5)))
    see("next chunk", yield* copyInOrder(sql, chunk(` WHERE ("id") > ('5')`, 5)))
    see("last chunk", yield* copyInOrder(sql, chunk(` WHERE ("id") > ('10')`, 5)))
    see("chunk with a filter", yield* copyInOrder(sql, chunk(` WHERE (id > 3 AND id <> 7) AND ("id") > ('5')`, 5)))
    see("a key that is no integer", yield* copyInOrder(sql, chunk(` WHERE ("id") > ('x')`, 5)))
    const pairChunk = (where: string) =>
      `COPY (SELECT "a", "b", "c" FROM "public"."bfq_pairs"${where} ORDER BY "a", "b" LIMIT 2) TO STDOUT`
    see("two-column key, first chunk", yield* copyInOrder(sql, pairChunk("")))
    see("two-column key, next chunk", yield* copyInOrder(sql, pairChunk(` WHERE ("a", "b") > ('1', 'y')`)))

    // Messages, then what a stream with messages carries of them.
    yield* run("low watermark", watermark('{"mark":"low"}'))
    yield* run("heartbeat", heartbeat)
    yield* run("a message", `SELECT pg_logical_emit_message(true, 'bfq', 'own transaction')`)
    yield* run(
      "messages in a block rolled back",
      "BEGIN; SELECT pg_logical_emit_message(true, 'bfq', 'rolled back')::text; SELECT pg_logical_emit_message(false, 'bfq', 'at once')::text; ROLLBACK"
    )
    yield* run(
      "messages in a block committed",
      "BEGIN; SELECT pg_logical_emit_message(true, 'bfq', 'in the block')::text; COMMIT"
    )
    yield* backend.transaction({ ops: [{ _tag: "Insert", table: items.name, row: { id: "100", ver: "1", v: "end" } }] })
    const messages = yield* Effect.scoped(
      Effect.gen(function* () {
        const replication = yield* Replication.make({
          ...backend.replicationOptions,
          slot: "bfq_slot",
          publications: ["bfq_pub"],
          messages: true,
          heartbeatMessages: true
        }).pipe(Effect.provideService(Connector, Connector.make(side.walsender)))
        return yield* replication.stream.pipe(
          Stream.takeUntil((m) => m._tag === "Insert" && m.new.id === 100),
          Stream.runCollect
        )
      })
    )
    see("the stream", events(Array.from(messages)))
    // The WAL the slot retains is a count of bytes on both sides, not the same count.
    const health = yield* sql.query(slotHealth("bfq_slot"))
    see("slot check", [
      health[0]!.fields.map((f) => [f.name, f.dataTypeOid]),
      health[0]!.rows.map((r) => [r[0], r[1], /^\d+$/.test(r[2] ?? "") ? "<bytes>" : r[2], r[3]])
    ])
    yield* run("slot check of no slot", slotHealth("nope"))
    return seen
  }).pipe(Effect.scoped)

for (const major of [18, 14] as const) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "120 seconds" })(
    `backfill statements: the fake against PostgreSQL ${major}`,
    (it) => {
      it.effect("the progress table, the key query, chunk COPYs, messages and the slot check answer the same", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const pg = yield* PostgresBackend.fromDatabase(db)
          const onPostgres = yield* scenario({
            backend: pg,
            regular: { ...pg.connection, replication: undefined },
            walsender: pg.connection,
            oid: (sql, table) =>
              Effect.map(sql.query(`SELECT '${table}'::regclass::oid::text`), (r) => r[0]!.rows[0]![0]!)
          })
          const fake = yield* FakeBackend.make({ serverVersion: `${major}.1` })
          const onFake = yield* scenario({
            backend: fake,
            regular: { ...fake.connection, replication: undefined },
            walsender: fake.connection,
            oid: (_sql, table) => Effect.sync(() => String(fake.fake.server.wal.table(table).relationId))
          })
          assert.deepStrictEqual(onFake, onPostgres)
          // The comparison saw the stream carry the messages.
          assert.isTrue(JSON.stringify(onPostgres).includes("in the block"))
        }).pipe(Effect.scoped)
      )
    }
  )
}
