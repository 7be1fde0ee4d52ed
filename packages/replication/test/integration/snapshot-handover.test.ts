/**
 * The handover between the initial snapshot and the stream is exact, on PostgreSQL 14 to 18, with a writer committing
 * random inserts, updates and deletes before, during and after the snapshot. Every row carries a version that each
 * write raises by one, and the table has REPLICA IDENTITY FULL, so a consumer can tell a missing change (a version
 * skipped) from a repeated one (a version seen twice): after the snapshot, each change of a row must be exactly the
 * next version of what the snapshot or an earlier change gave. At the end the consumer's map equals the table.
 */
import { assert, layer } from "@effect/vitest"
import { type Major, TestDatabase } from "@pgcdc/testing"
import { Effect, Fiber, Queue, Ref, Stream } from "effect"
import * as Transactions from "../../src/transactions/index.ts"
import type { Row } from "../../src/WalMessage.ts"
import { lsnOf, replicate, scalar, sqlSession } from "./support.ts"
import { createVersioned, mapRows, tableRows, VersionChecker, versionedWriter } from "./versionedTable.ts"

const rows = 3000

for (const major of [14, 15, 16, 17, 18] as const satisfies ReadonlyArray<Major>) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `snapshot handover on PostgreSQL ${major}`,
    (it) => {
      it.effect(
        "a writer commits throughout: no change is missing or repeated at the handover, and the map equals the table",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* createVersioned(sql, "hand", rows, "p_hand")
            const stop = yield* Ref.make(false)
            const writing = yield* Effect.forkChild(versionedWriter(db, "hand", rows, stop))
            // A small buffer and two sessions: the snapshot's COPYs are held back by the consumer while writes go on.
            const repl = yield* replicate(db, {
              slot: "s_hand",
              publications: ["p_hand"],
              snapshot: "initial",
              bufferSize: 64
            })
            const checker = new VersionChecker("snapshot")
            const map = new Map<number, Row>()
            const key = (row: Row | undefined) => Number(row?.id)
            let commits = 0
            const progress = yield* Queue.sliding<number>(1)
            let end = lsnOf(null)
            // Whole transactions (the view drops a transaction cut by a session change, which comes again whole).
            const consume = repl.stream.pipe(
              Transactions.transactions(),
              Stream.runForEach((element) =>
                Effect.gen(function* () {
                  switch (element._tag) {
                    case "Read":
                      // The snapshot gives a row's current version, whatever came before it.
                      checker.snapshotRead(key(element.new), Number(element.new.ver))
                      map.set(key(element.new), element.new)
                      return
                    case "SnapshotComplete":
                      yield* Transactions.acknowledge(repl, element)
                      return
                    case "Transaction":
                      for (const m of element.changes) {
                        if (m._tag === "Insert" || m._tag === "Update") {
                          checker.change(m._tag === "Insert" ? "insert" : "update", key(m.new), Number(m.new.ver))
                          map.set(key(m.new), m.new)
                        } else if (m._tag === "Delete") {
                          checker.change("delete", key(m.old), Number(m.old?.ver))
                          map.delete(key(m.old))
                        }
                      }
                      yield* Transactions.acknowledge(repl, element)
                      commits++
                      yield* Queue.offer(progress, commits)
                      if (end !== lsnOf(null) && element.end.endLsn > end)
                        return yield* Effect.fail("caught up" as const)
                      return
                    default:
                      return
                  }
                })
              ),
              Effect.catchIf(
                (e) => e === "caught up",
                () => Effect.void
              ),
              Effect.forkChild
            )
            const consumer = yield* consume
            // Let the writer go on well past the snapshot: until the consumer has applied 200 of its transactions.
            while (commits < 200) yield* Queue.take(progress)
            yield* Ref.set(stop, true)
            const written = yield* Fiber.join(writing)
            // The insert position (pg_current_wal_lsn is the write position, which may lag behind the last commit).
            end = lsnOf(yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text"))
            // A last transaction after the end position, so the consumer sees a Commit at or beyond it.
            yield* sql.query("UPDATE hand SET ver = ver + 1 WHERE id = (SELECT min(id) FROM hand)")
            yield* Fiber.join(consumer)
            assert.deepStrictEqual(checker.problems, [], "changes missing or repeated at the handover")
            assert.isAbove(written, 0)
            assert.deepStrictEqual(mapRows(map), yield* tableRows(sql, "hand"))
          }),
        60_000
      )
    }
  )
}
