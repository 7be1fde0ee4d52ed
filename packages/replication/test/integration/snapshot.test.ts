/**
 * The initial snapshot against real PostgreSQL: every row of the published tables as of one consistent point, then
 * every change after it, in one stream; the slot made permanent once the consumer confirms the snapshot; the modes.
 */
import { assert, layer } from "@effect/vitest"
import { type Major, TestDatabase } from "@pgcdc/testing"
import { Effect, Option, Stream } from "effect"
import { lsnToConfirm, type WalMessage } from "../../src/WalMessage.ts"
import { eventually, replicate, scalar, sqlSession } from "./support.ts"

/** Pulls messages until `last` matches (inclusive). */
const through = (pull: Effect.Effect<ReadonlyArray<WalMessage>, unknown>, last: (m: WalMessage) => boolean) =>
  Effect.gen(function* () {
    const out: Array<WalMessage> = []
    for (;;) {
      const batch = yield* pull
      for (const m of batch) {
        out.push(m)
        if (last(m)) return out
      }
    }
  })

for (const major of [18, 14] as const satisfies ReadonlyArray<Major>) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `initial snapshot on PostgreSQL ${major}`,
    (it) => {
      it.effect("every row, then every change after the consistent point; the slot exists once confirmed", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query(
            "CREATE TABLE snap (id int PRIMARY KEY, v text); INSERT INTO snap SELECT i, 'v' || i FROM generate_series(1, 1000) i; CREATE PUBLICATION p_snap FOR TABLE snap"
          )
          const repl = yield* replicate(db, { slot: "s_snap", publications: ["p_snap"], snapshot: "initial" })
          const pull = yield* Stream.toPull(repl.stream)
          const snapshot = yield* through(pull, (m) => m._tag === "SnapshotComplete")
          const reads = snapshot.filter((m) => m._tag === "Read")
          assert.strictEqual(reads.length, 1000)
          assert.deepStrictEqual(
            reads.map((m) => (m._tag === "Read" ? m.new.id : 0)).sort((a, b) => Number(a) - Number(b)),
            Array.from({ length: 1000 }, (_, i) => i + 1)
          )
          assert.strictEqual(snapshot[0]?._tag, "SnapshotBegin")
          const end = snapshot.find((m) => m._tag === "SnapshotEnd")
          assert.strictEqual(end?._tag === "SnapshotEnd" ? end.rows : -1, 1000)
          // Before it is confirmed, the permanent slot does not exist.
          const slots = () => scalar(sql, "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = 's_snap'")
          assert.strictEqual(yield* slots(), "0")
          const complete = snapshot.at(-1)!
          yield* repl.commit(lsnToConfirm(complete)!)
          yield* eventually(
            Effect.map(slots(), (n) => (n === "1" ? Option.some(n) : Option.none())),
            "the permanent slot exists"
          )
          yield* sql.query("INSERT INTO snap VALUES (1001, 'new')")
          const after = yield* through(pull, (m) => m._tag === "Commit")
          const inserted = after.filter((m) => m._tag === "Insert")
          assert.deepStrictEqual(
            inserted.map((m) => (m._tag === "Insert" ? m.new.id : 0)),
            [1001]
          )
        })
      )
    }
  )
}
