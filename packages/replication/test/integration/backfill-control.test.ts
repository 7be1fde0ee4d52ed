/**
 * Backfills as a user drives them, on PostgreSQL 18: cancelled mid-table (the stream says so, the progress table
 * too, nothing resumes it), started by a `pgcdc.signal` message from another session, limited to what the
 * publication publishes (row filter and column list, as the stream), ordered by a composite key, and refused with
 * what to do for tables it cannot read. The service's own messages never reach the consumer; a consumer's do only
 * when it asked for messages.
 */
import { assert, layer } from "@effect/vitest"
import type { ConnectionShape } from "@pgcdc/connection"
import { TestDatabase } from "@pgcdc/testing"
import { Effect, Stream } from "effect"
import type { ReplicationShape } from "../../src/Replication.ts"
import * as WalMessage from "../../src/WalMessage.ts"
import { replicate, scalar, sqlSession } from "./support.ts"

type Of<T extends WalMessage.WalMessage["_tag"]> = Extract<WalMessage.WalMessage, { readonly _tag: T }>

/** Pulls (committing each transaction) through the first message matching `last`. */
const consumeThrough = (repl: ReplicationShape, last: (m: WalMessage.WalMessage) => boolean) =>
  repl.stream.pipe(
    Stream.tap((m) => {
      const lsn = WalMessage.lsnToConfirm(m)
      return lsn === undefined ? Effect.void : repl.commit(lsn)
    }),
    Stream.takeUntil(last),
    Stream.runCollect,
    Effect.map((c) => Array.from(c))
  )

/** Through the Commit of the transaction that carried BackfillEnd: `done` completes once the consumer commits it. */
const endOfBackfill = () => {
  let ended = false
  return (m: WalMessage.WalMessage) => {
    if (m._tag === "BackfillEnd") ended = true
    return ended && m._tag === "Commit"
  }
}

const setup = (sql: ConnectionShape, table: string, create: string, rows: string) =>
  Effect.andThen(
    sql.query(`${create}; INSERT INTO ${table} ${rows}; CREATE PUBLICATION p_${table} FOR TABLE ${table}`),
    createSlot(sql, `s_${table}`)
  )

/** On its own: a slot cannot be created in a transaction that has written. */
const createSlot = (sql: ConnectionShape, slot: string) =>
  sql.query(`SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`)

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })(
  "backfill control on PostgreSQL 18",
  (it) => {
    it.effect("cancelled mid-table: BackfillEnd says cancelled, done reports it, the progress table too", () =>
      Effect.gen(function* () {
        const sql = yield* sqlSession(yield* TestDatabase)
        yield* setup(sql, "cx", "CREATE TABLE cx (id int PRIMARY KEY)", "SELECT generate_series(1, 5000)")
        const repl = yield* replicate(yield* TestDatabase, { slot: "s_cx", publications: ["p_cx"] })
        const backfill = yield* repl.backfill("cx", { chunkSize: 100 })
        // The consumer takes the first chunk; then the backfill is cancelled.
        const first = yield* consumeThrough(repl, (m) => m._tag === "Read")
        assert.strictEqual(first.filter((m) => m._tag === "BackfillBegin").length, 1)
        yield* backfill.cancel
        const rest = yield* consumeThrough(repl, (m) => m._tag === "BackfillEnd")
        const end = rest.at(-1) as Of<"BackfillEnd">
        assert.strictEqual(end.id, backfill.id)
        assert.isTrue(end.cancelled)
        assert.isBelow(end.rows, 5000)
        assert.strictEqual((yield* backfill.done).state, "cancelled")
        assert.strictEqual(
          yield* scalar(sql, `SELECT state FROM pgcdc_backfills WHERE id = '${backfill.id}'`),
          "cancelled"
        )
      })
    )

    it.effect("a pgcdc.signal message from another session starts a backfill of the table it names", () =>
      Effect.gen(function* () {
        const sql = yield* sqlSession(yield* TestDatabase)
        yield* setup(
          sql,
          "sg",
          "CREATE TABLE sg (id int PRIMARY KEY, v text)",
          "SELECT i, 'v' || i FROM generate_series(1, 250) i"
        )
        const repl = yield* replicate(yield* TestDatabase, { slot: "s_sg", publications: ["p_sg"] })
        yield* sql.query(
          `SELECT pg_logical_emit_message(true, 'pgcdc.signal', '{"backfill":{"schema":"public","name":"sg"},"chunkSize":100}')`
        )
        const messages = yield* consumeThrough(repl, (m) => m._tag === "BackfillEnd")
        const reads = messages.filter((m): m is Of<"Read"> => m._tag === "Read")
        assert.deepStrictEqual(
          reads.map((r) => [Number(r.new.id), r.new.v]),
          Array.from({ length: 250 }, (_, i) => [i + 1, `v${i + 1}`])
        )
        // Neither the signal nor the watermarks reached the consumer.
        assert.deepStrictEqual(
          messages.filter((m) => m._tag === "Message"),
          []
        )
      })
    )

    it.effect("the service's messages stay hidden; a consumer's own messages come only when it asked for them", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* setup(sql, "mq", "CREATE TABLE mq (id int PRIMARY KEY)", "VALUES (1)")
        const emitApp = sql.query(
          "SELECT pg_logical_emit_message(true, 'app', 'hello'); INSERT INTO mq VALUES (DEFAULT)".replace(
            "DEFAULT",
            "(SELECT max(id) + 1 FROM mq)"
          )
        )
        const tagsUntilInsert = (repl: ReplicationShape) =>
          Effect.map(
            consumeThrough(repl, (m) => m._tag === "Insert"),
            (ms) => ms.map((m) => (m._tag === "Message" ? `Message:${m.prefix}` : m._tag))
          )
        const quiet = yield* Effect.scoped(
          Effect.gen(function* () {
            const repl = yield* replicate(db, { slot: "s_mq", publications: ["p_mq"] })
            yield* emitApp
            return yield* tagsUntilInsert(repl)
          })
        )
        assert.notInclude(quiet, "Message:app")
        const asked = yield* Effect.scoped(
          Effect.gen(function* () {
            const repl = yield* replicate(db, { slot: "s_mq", publications: ["p_mq"], messages: true })
            yield* emitApp
            return yield* tagsUntilInsert(repl)
          })
        )
        assert.include(asked, "Message:app")
      })
    )

    it.effect(
      "a publication of a whole schema also publishes the progress table: neither stream nor snapshot shows it",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query(`
          CREATE SCHEMA own;
          CREATE TABLE own.t (id int PRIMARY KEY);
          INSERT INTO own.t SELECT generate_series(1, 300);
          CREATE PUBLICATION p_own FOR TABLES IN SCHEMA own`)
          yield* createSlot(sql, "s_own")
          const tablesOf = (m: WalMessage.WalMessage): ReadonlyArray<string> =>
            m._tag === "Truncate"
              ? m.tables.map((t) => t.name)
              : "table" in m && m.table !== undefined
                ? [m.table.name]
                : []
          // The progress table lives in the published schema: the first backfill creates it and writes each chunk.
          const streamed = yield* Effect.scoped(
            Effect.gen(function* () {
              const repl = yield* replicate(db, { slot: "s_own", publications: ["p_own"], backfillSchema: "own" })
              const backfill = yield* repl.backfill("own.t", { chunkSize: 100 })
              const through = yield* consumeThrough(repl, endOfBackfill())
              // The backfill records its end once the consumer has committed it; a row written after that ends what
              // this consumer reads, so the transaction that recorded the end is among what it read.
              assert.strictEqual((yield* backfill.done).state, "done")
              yield* sql.query("INSERT INTO own.t VALUES (301)")
              const after = yield* consumeThrough(repl, (m) => m._tag === "Insert")
              return [...through, ...after]
            })
          )
          assert.strictEqual(streamed.filter((m) => m._tag === "Read").length, 300)
          assert.deepStrictEqual([...new Set(streamed.flatMap(tablesOf))], ["t"])
          // The progress table was written in the stream's transactions (each chunk's progress, then the end).
          const progress = yield* scalar(sql, "SELECT state || ':' || chunks FROM own.pgcdc_backfills")
          assert.match(progress ?? "", /^done:\d+$/)
          assert.isAbove(streamed.filter((m) => m._tag === "Commit").length, 3)
          // An initial snapshot of the same publication reads own.t only.
          const snapshot = yield* Effect.scoped(
            Effect.gen(function* () {
              const repl = yield* replicate(db, {
                slot: "s_own_snap",
                publications: ["p_own"],
                backfillSchema: "own",
                snapshot: "initial_only"
              })
              return yield* Stream.runCollect(repl.stream)
            })
          )
          const begun = Array.from(snapshot).filter((m) => m._tag === "SnapshotBegin")
          assert.deepStrictEqual(
            begun.map((m) => `${m.table.schema}.${m.table.name}`),
            ["own.t"]
          )
        })
    )

    it.effect("rows and columns as the publication publishes them, in composite-key order, each once", () =>
      Effect.gen(function* () {
        const sql = yield* sqlSession(yield* TestDatabase)
        yield* sql.query(`
          CREATE TABLE ck (region text, n int, secret text, PRIMARY KEY (region, n));
          INSERT INTO ck SELECT r, n, 'x' FROM unnest(ARRAY['b', 'a', 'c']) r, generate_series(1, 90) n;
          CREATE PUBLICATION p_ck FOR TABLE ck (region, n) WHERE (n % 3 <> 0)`)
        yield* createSlot(sql, "s_ck")
        const repl = yield* replicate(yield* TestDatabase, { slot: "s_ck", publications: ["p_ck"] })
        const backfill = yield* repl.backfill({ schema: "public", name: "ck" }, { chunkSize: 7 })
        const reads = (yield* consumeThrough(repl, endOfBackfill())).filter((m): m is Of<"Read"> => m._tag === "Read")
        const expected = ["a", "b", "c"].flatMap((r) =>
          Array.from({ length: 90 }, (_, i) => i + 1)
            .filter((n) => n % 3 !== 0)
            .map((n) => `${r}/${n}`)
        )
        assert.deepStrictEqual(
          reads.map((m) => `${String(m.new.region)}/${String(m.new.n)}`),
          expected
        )
        assert.deepStrictEqual(Object.keys(reads[0]!.new).sort(), ["n", "region"])
        const progress = yield* backfill.done
        assert.strictEqual(progress.rows, expected.length)
        assert.strictEqual(progress.chunks, Math.ceil(expected.length / 7) + (expected.length % 7 === 0 ? 1 : 0))
      })
    )

    it.effect("tables a backfill cannot read fail at once, saying what to do, and nothing is recorded", () =>
      Effect.gen(function* () {
        const sql = yield* sqlSession(yield* TestDatabase)
        yield* sql.query(`
          CREATE TABLE nokey (a int);
          CREATE TABLE nothing (id int PRIMARY KEY);
          ALTER TABLE nothing REPLICA IDENTITY NOTHING;
          CREATE TABLE unpublished (id int PRIMARY KEY);
          CREATE PUBLICATION p_bad FOR TABLE nokey, nothing`)
        yield* createSlot(sql, "s_bad")
        const repl = yield* replicate(yield* TestDatabase, { slot: "s_bad", publications: ["p_bad"] })
        const failure = (table: string, options?: { readonly chunkSize: number }) =>
          Effect.flip(repl.backfill(table, options))
        const nokey = yield* failure("nokey")
        assert.strictEqual(nokey.reason._tag, "InvalidOption")
        assert.include(nokey.message, "no primary key")
        assert.include(nokey.message, "ADD PRIMARY KEY")
        const nothing = yield* failure("nothing")
        assert.include(nothing.message, "REPLICA IDENTITY NOTHING")
        assert.include(nothing.message, "REPLICA IDENTITY DEFAULT")
        const unpublished = yield* failure("public.unpublished")
        assert.include(unpublished.message, "is not published by p_bad")
        const chunk = yield* failure("nothing", { chunkSize: 0 })
        assert.include(chunk.message, "chunkSize 0")
        assert.strictEqual(
          yield* scalar(
            sql,
            "SELECT (to_regclass('pgcdc_backfills') IS NULL OR NOT EXISTS (SELECT FROM pgcdc_backfills WHERE slot = 's_bad'))::text"
          ),
          "true"
        )
      })
    )
  }
)
