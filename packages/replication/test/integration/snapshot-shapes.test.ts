/**
 * A snapshot row has the stream's shape and values, as the publications decide:
 * - every value type of the stream's value test, with the database's defaults set to odd text styles, arrives in
 *   the snapshot exactly as the stream gives it (PostgreSQL 14 to 18);
 * - column lists and row filters (PostgreSQL 15+), ORed across two publications, shape the snapshot as the stream;
 * - a partitioned table published through its root is read as the root, and without it as its partitions, as the
 *   stream names them (PostgreSQL 14 and 18).
 */
process.env.TZ = "America/St_Johns"

import { assert, layer } from "@effect/vitest"
import { type Major, TestDatabase } from "@pgcdc/testing"
import { Effect, Stream } from "effect"
import type { ReplicationShape } from "../../src/Replication.ts"
import { lsnToConfirm, type Row, type WalMessage } from "../../src/WalMessage.ts"
import { exec, replicate, sqlSession } from "./support.ts"
import { columns, expected, rows } from "./valueFixtures.ts"

/** The snapshot's messages through SnapshotComplete, which is committed. */
const snapshotOf = (repl: ReplicationShape) =>
  Effect.gen(function* () {
    const out: Array<WalMessage> = []
    yield* repl.stream.pipe(
      Stream.takeUntil((m) => m._tag === "SnapshotComplete"),
      Stream.runForEach((m) => Effect.sync(() => void out.push(m)))
    )
    yield* repl.commit(lsnToConfirm(out.at(-1)!)!)
    return out
  })

/** The next transaction's messages. */
const nextTransaction = (repl: ReplicationShape) =>
  Stream.runCollect(Stream.takeUntil(repl.stream, (m) => m._tag === "Commit")).pipe(Effect.map((c) => Array.from(c)))

const reads = (messages: ReadonlyArray<WalMessage>): Array<{ readonly table: string; readonly row: Row }> =>
  messages.flatMap((m) => (m._tag === "Read" ? [{ table: m.table.name, row: m.new }] : []))

const byId = (a: { readonly row: Row }, b: { readonly row: Row }) => Number(a.row.id) - Number(b.row.id)

for (const major of [14, 15, 16, 17, 18] as const satisfies ReadonlyArray<Major>) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `snapshot shapes on PostgreSQL ${major}`,
    (it) => {
      it.effect("every value type: the snapshot gives exactly what the stream gives", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const setup = yield* sqlSession(db)
          yield* exec(setup, [
            "ALTER DATABASE postgres SET DateStyle = 'SQL, DMY'",
            "ALTER DATABASE postgres SET IntervalStyle = 'iso_8601'",
            "ALTER DATABASE postgres SET TimeZone = 'Asia/Kathmandu'",
            "ALTER DATABASE postgres SET extra_float_digits = 0",
            "ALTER DATABASE postgres SET bytea_output = 'escape'",
            "CREATE TYPE mood AS ENUM ('happy', 'sad')",
            `CREATE TABLE v (${columns})`,
            "CREATE PUBLICATION p_values FOR TABLE v"
          ])
          const sql = yield* sqlSession(db)
          yield* exec(sql, rows(major))
          const repl = yield* replicate(db, { slot: "s_values", publications: ["p_values"], snapshot: "initial" })
          const snapshot = reads(yield* snapshotOf(repl)).sort(byId)
          const want = expected(major)
          assert.strictEqual(snapshot.length, want.length)
          for (let i = 0; i < want.length; i++) {
            for (const [column, value] of Object.entries(want[i]!)) {
              assert.deepStrictEqual(snapshot[i]!.row[column], value, `snapshot row ${i + 1} column ${column}`)
            }
            assert.deepStrictEqual(Object.keys(snapshot[i]!.row).sort(), Object.keys(want[i]!).sort())
          }
          // The same values written after the snapshot arrive in the stream equal to the snapshot's.
          yield* exec(sql, ["DELETE FROM v", ...rows(major)])
          const deleted = yield* nextTransaction(repl)
          assert.strictEqual(deleted.filter((m) => m._tag === "Delete").length, 3)
          const inserted: Array<Row> = []
          for (let i = 0; i < 3; i++) {
            for (const m of yield* nextTransaction(repl)) if (m._tag === "Insert") inserted.push(m.new)
          }
          assert.deepStrictEqual(
            inserted,
            snapshot.map((r) => r.row)
          )
        })
      )

      if (major >= 15) {
        it.effect("column lists and row filters, ORed across publications, shape the snapshot as the stream", () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* exec(sql, [
              "CREATE TABLE cl (id int PRIMARY KEY, a text, secret text, n int)",
              "INSERT INTO cl SELECT i, 'a' || i, 'secret', i FROM generate_series(0, 20) i",
              "CREATE PUBLICATION p_high FOR TABLE cl (id, a, n) WHERE (n > 15)",
              "CREATE PUBLICATION p_low FOR TABLE cl (id, a, n) WHERE (n < 3)"
            ])
            const repl = yield* replicate(db, { slot: "s_cl", publications: ["p_high", "p_low"], snapshot: "initial" })
            const snapshot = yield* snapshotOf(repl)
            const got = reads(snapshot).sort(byId)
            assert.deepStrictEqual(
              got.map((r) => r.row),
              [0, 1, 2, 16, 17, 18, 19, 20].map((i) => ({ id: i, a: `a${i}`, n: i }))
            )
            const begin = snapshot.find((m) => m._tag === "SnapshotBegin")
            yield* exec(sql, ["INSERT INTO cl VALUES (100, 'x', 'secret', 100)"])
            const streamed = (yield* nextTransaction(repl)).find((m) => m._tag === "Insert")
            assert.deepStrictEqual(streamed?._tag === "Insert" ? streamed.new : undefined, { id: 100, a: "x", n: 100 })
            // The snapshot's table is the stream's: the same relation, columns and key flags.
            assert.deepStrictEqual(
              begin?._tag === "SnapshotBegin" ? begin.table : undefined,
              streamed?._tag === "Insert" ? streamed.table : undefined
            )
          })
        )
      }

      if (major === 14 || major === 18) {
        it.effect("a partitioned table: as its root through publish_via_partition_root, else as its partitions", () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* exec(sql, [
              "CREATE TABLE pt (id int, region text, PRIMARY KEY (id, region)) PARTITION BY LIST (region)",
              "CREATE TABLE pt_eu PARTITION OF pt FOR VALUES IN ('eu')",
              "CREATE TABLE pt_us PARTITION OF pt FOR VALUES IN ('us')",
              "INSERT INTO pt VALUES (1, 'eu'), (2, 'us'), (3, 'eu')",
              "CREATE PUBLICATION p_root FOR TABLE pt WITH (publish_via_partition_root = true)",
              "CREATE PUBLICATION p_leaves FOR TABLE pt WITH (publish_via_partition_root = false)"
            ])
            for (const [publication, names] of [
              ["p_root", ["pt", "pt", "pt"]],
              // Row 10 came in the first round, after the first snapshot.
              ["p_leaves", ["pt_eu", "pt_us", "pt_eu", "pt_us"]]
            ] as const) {
              const slot = `s_${publication}`
              const repl = yield* replicate(db, { slot, publications: [publication], snapshot: "initial" })
              const got = reads(yield* snapshotOf(repl)).sort(byId)
              assert.deepStrictEqual(
                got.map((r) => r.table),
                [...names],
                publication
              )
              yield* exec(sql, [`INSERT INTO pt VALUES (${publication === "p_root" ? 10 : 11}, 'us')`])
              const streamed = (yield* nextTransaction(repl)).find((m) => m._tag === "Insert")
              assert.strictEqual(
                streamed?._tag === "Insert" ? streamed.table.name : undefined,
                publication === "p_root" ? "pt" : "pt_us"
              )
            }
          })
        )
      }
    }
  )
}
