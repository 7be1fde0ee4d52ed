/**
 * User-defined types decode to the same values in text and in binary mode on PostgreSQL 14 to 18: enums (their
 * label), domains over int4 and over text (their base type's value), arrays of each (PgArray), a composite and ranges
 * (their text, as text mode gives it). The binary session learns the types from the catalog before it streams; a type
 * created after the sessions started (a new enum, a domain over it) still decodes, looked up when its Relation
 * arrives, and an initial snapshot reads the same values; one created by a transaction that is streamed while in progress cannot be seen by another session until it
 * commits: its values are bytes until then, and the type is looked up again after the next transaction end. One server
 * per major, small tables.
 */
import { assert, layer } from "@effect/vitest"
import { Connection, Connector } from "@pgcdc/connection"
import { type Major, TestDatabase, TestLogger } from "@pgcdc/testing"
import { Effect, Redacted, Stream } from "effect"
import * as Slot from "../../src/Slot.ts"
import type { Row } from "../../src/WalMessage.ts"
import type { PgValue } from "../../src/values/PgValue.ts"
import { Replication } from "../../src/Replication.ts"
import { configOf, exec, replicate, sqlSession, takeThrough, takeTransactions } from "./support.ts"

const majors: ReadonlyArray<Major> = [14, 15, 16, 17, 18]

const setup = [
  "CREATE TYPE mood AS ENUM ('happy', 'sad', 'ok go')",
  "CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)",
  "CREATE DOMAIN label AS text",
  "CREATE TYPE pair AS (n int4, t text, m mood, d posint)",
  "CREATE TABLE u (id int4 PRIMARY KEY, m mood, ma mood[], d posint, da posint[], l label, la label[], c pair, ca pair[], r int4range, nr numrange, tr tstzrange)",
  "CREATE PUBLICATION p_u FOR TABLE u"
]

const rows = [
  `INSERT INTO u VALUES (1, 'happy', '{happy,"ok go",NULL}', 42, '{1,2}', 'hello world', '{a,"b c"}',
     ROW(7, 'x, "y" \\ z', 'ok go', 3), ARRAY[ROW(1, 'a', 'sad', NULL)::pair, NULL], '[1,5)', '(1.50,2]', '[2020-01-01 10:00:00+00,)')`,
  "INSERT INTO u (id, ma, da, la) VALUES (2, '{}', '{}', '{}')",
  `INSERT INTO u VALUES (3, 'ok go', '[0:1]={sad,happy}', 2147483647, '{{1,2},{3,4}}', '', '{"",NULL}',
     ROW(NULL, '', 'sad', NULL), '{}', 'empty', '(,)', '[2020-01-01 10:00:00.5+00,2021-06-01 00:00:00+00)')`
]

const array = (lengths: ReadonlyArray<number>, elements: ReadonlyArray<PgValue | null>, lower = 1): PgValue => ({
  _tag: "PgArray",
  dimensions: lengths.map((length) => ({ length, lowerBound: lower })),
  elements
})

/** What text mode gives for row 1 (the reference): checked too, so that both modes cannot agree on bytes. */
const first: Row = {
  id: 1,
  m: "happy",
  ma: array([3], ["happy", "ok go", null]),
  d: 42,
  da: array([2], [1, 2]),
  l: "hello world",
  la: array([2], ["a", "b c"]),
  c: '(7,"x, ""y"" \\\\ z","ok go",3)',
  ca: array([2], ["(1,a,sad,)", null]),
  r: "[1,5)",
  nr: "(1.50,2]",
  tr: '["2020-01-01 10:00:00+00",)'
}

for (const major of majors) {
  layer(TestDatabase.layer({ major, settings: { logical_decoding_work_mem: "64kB" } }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })(`user-defined types on PostgreSQL ${major}`, (it) => {
    it.effect(
      "text and binary mode decode enums, domains, their arrays, a composite and ranges to equal values",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* exec(sql, setup)
          yield* Slot.create("s_text").pipe(Effect.provideService(Connection, sql))
          yield* Slot.create("s_binary").pipe(Effect.provideService(Connection, sql))
          yield* exec(sql, rows)
          const text = yield* replicate(db, { slot: "s_text", publications: ["p_u"] })
          const binary = yield* replicate(db, { slot: "s_binary", publications: ["p_u"], binary: true })
          const inserted = (repl: typeof text, n: number) =>
            Effect.map(takeTransactions(repl, n), (ms) => ms.flatMap((m) => (m._tag === "Insert" ? [m.new] : [])))
          const textRows = yield* inserted(text, 3)
          const binaryRows = yield* inserted(binary, 3)
          assert.strictEqual(textRows.length, 3)
          assert.deepStrictEqual(textRows[0], first, "text mode, row 1")
          assert.deepStrictEqual(binaryRows, textRows, "binary mode gives what text mode gives")
          assert.deepStrictEqual(textRows[2]!.da, array([2, 2], [1, 2, 3, 4]))
          assert.deepStrictEqual(textRows[2]!.ma, array([2], ["sad", "happy"], 0))

          // Both sessions stream: a type created now is first seen in a Relation message mid-stream.
          // One transaction: PostgreSQL 14 sends DDL-only transactions as empty ones.
          yield* sql.query(`BEGIN; CREATE TYPE later AS ENUM ('new', 'old'); CREATE DOMAIN later_d AS later;
              ALTER TABLE u ADD COLUMN lm later, ADD COLUMN ld later_d[];
              INSERT INTO u (id, lm, ld) VALUES (4, 'new', '{old,new}'); COMMIT`)
          const [textLater] = yield* inserted(text, 1)
          const [binaryLater] = yield* inserted(binary, 1)
          assert.strictEqual(textLater!.lm, "new")
          assert.deepStrictEqual(textLater!.ld, array([2], ["old", "new"]))
          assert.deepStrictEqual(binaryLater, textLater, "a type created mid-stream, binary mode")

          // An initial snapshot of the same table reads the same values (its planner knows the types too).
          const snapshot = yield* Effect.scoped(
            Effect.flatMap(replicate(db, { slot: "s_snap", publications: ["p_u"], snapshot: "initial_only" }), (r) =>
              Effect.map(Stream.runCollect(r.stream), (c) =>
                Array.from(c).flatMap((m) => (m._tag === "Read" ? [m.new] : []))
              )
            )
          )
          assert.deepStrictEqual(
            snapshot,
            [...textRows.map((r) => ({ ...r, lm: null, ld: null })), textLater],
            "snapshot rows equal streamed rows"
          )
        }),
      60_000
    )

    it.effect(
      "a type created by a transaction streamed in progress is bytes until that commits, then decodes",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* exec(sql, ["CREATE TABLE w (id int4 PRIMARY KEY)", "CREATE PUBLICATION p_w FOR TABLE w"])
          yield* Slot.create("s_streamed").pipe(Effect.provideService(Connection, sql))
          const repl = yield* replicate(db, {
            slot: "s_streamed",
            publications: ["p_w"],
            binary: true,
            streaming: "on"
          })
          // Large enough to be streamed while still open: no other session can see the new type yet.
          yield* sql.query(`BEGIN; CREATE TYPE fresh AS ENUM ('a', 'b'); ALTER TABLE w ADD COLUMN f fresh;
              INSERT INTO w SELECT g, 'a' FROM generate_series(1, 3000) g`)
          const streamed = yield* takeThrough(repl, (m) => m._tag === "StreamStop")
          const first = streamed.find((m) => m._tag === "Insert")
          assert.isTrue(first?._tag === "Insert" && first.new.f instanceof Uint8Array, "in progress: bytes")
          yield* sql.query("COMMIT; INSERT INTO w VALUES (5000, 'b')")
          const after = yield* takeThrough(repl, (m) => m._tag === "Commit")
          const row = after.find((m) => m._tag === "Insert" && m.new.id === 5000)
          assert.strictEqual(row?._tag === "Insert" ? row.new.f : undefined, "b", "looked up again after the commit")
        }),
      60_000
    )

    it.effect(
      "where the catalog query is refused, text mode decodes as before and binary mode hands out bytes, no failure",
      () => {
        const logs = TestLogger.make()
        return Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          // A role that may replicate but not read pg_range, which every type query joins.
          yield* exec(sql, [
            "CREATE TYPE hue AS ENUM ('red')",
            "CREATE DOMAIN small AS int4",
            "CREATE TABLE h (id int4 PRIMARY KEY, c hue, s small)",
            "CREATE PUBLICATION p_h FOR TABLE h",
            "CREATE ROLE limited LOGIN REPLICATION PASSWORD 'limited'",
            "REVOKE SELECT ON pg_catalog.pg_range FROM PUBLIC"
          ])
          yield* Slot.create("s_h_text").pipe(Effect.provideService(Connection, sql))
          yield* Slot.create("s_h_binary").pipe(Effect.provideService(Connection, sql))
          yield* exec(sql, ["INSERT INTO h VALUES (1, 'red', 7)"])
          const limited = { ...configOf(db, "logical"), user: "limited", password: Redacted.make("limited") }
          const rowOf = (slot: string, binary: boolean) =>
            Effect.gen(function* () {
              const repl = yield* Replication.make({ slot, publications: ["p_h"], binary }).pipe(
                Effect.provideService(Connector, Connector.make(limited))
              )
              const messages = yield* takeTransactions(repl, 1)
              const insert = messages.find((m) => m._tag === "Insert")
              return insert?._tag === "Insert" ? insert.new : undefined
            })
          assert.deepStrictEqual(yield* rowOf("s_h_text", false), { id: 1, c: "red", s: "7" })
          assert.deepStrictEqual(yield* rowOf("s_h_binary", true), {
            id: 1,
            c: new TextEncoder().encode("red"),
            s: new Uint8Array([0, 0, 0, 7])
          })
          yield* exec(sql, ["GRANT SELECT ON pg_catalog.pg_range TO PUBLIC"])
          // The refusal is logged, saying what it means for the values, and nothing else is.
          const logged = logs.entries.map((e) => `${e.level}: ${e.message}`)
          assert.isAbove(logged.length, 0, "the refused type query was not logged")
          assert.deepStrictEqual(
            logged.filter(
              (line) =>
                !line.startsWith(
                  "Warn: pgcdc could not read user-defined types from the catalog (permission denied for table pg_range)"
                )
            ),
            []
          )
        }).pipe(TestLogger.provide(logs))
      },
      60_000
    )
  })
}
