/**
 * Backfills on PostgreSQL 14 to 18: a table re-read in primary-key order while the stream flows and a writer commits
 * random inserts, updates and deletes throughout. The versioned table shows a backfilled row handed out behind a newer
 * change of it (its version older than the last change's), a change missing or repeated, and a deleted row brought
 * back; at the end, the consumer that applied the changes and the backfilled rows to a map equals the table.
 */
import { assert, layer } from "@effect/vitest"
import { type Major, TestDatabase } from "@pgcdc/testing"
import { Effect, Fiber, Queue, Ref, Stream } from "effect"
import type { Backfill } from "../../src/index.ts"
import type { ReplicationShape } from "../../src/Replication.ts"
import * as Transactions from "../../src/transactions/index.ts"
import type { Row, WalMessage } from "../../src/WalMessage.ts"
import { lsnOf, replicate, scalar, sqlSession } from "./support.ts"
import { createVersioned, mapRows, tableRows, VersionChecker, versionedWriter } from "./versionedTable.ts"

const rows = 3000

type Of<T extends WalMessage["_tag"]> = Extract<WalMessage, { readonly _tag: T }>

/**
 * Applies the stream to a map until it hands out a Commit past the end position `end` resolves to; checks every row's
 * history on the way and collects the backfill markers.
 */
const applyUntil = (repl: ReplicationShape, map: Map<number, Row>, checker: VersionChecker) =>
  Effect.gen(function* () {
    const key = (row: Row | undefined) => Number(row?.id)
    const markers: Array<Of<"BackfillBegin"> | Of<"BackfillEnd">> = []
    const commits = yield* Queue.sliding<number>(1)
    const end = yield* Ref.make(lsnOf(null))
    let applied = 0
    const fiber = yield* repl.stream.pipe(
      Transactions.transactions(),
      Stream.runForEach((element) =>
        Effect.gen(function* () {
          switch (element._tag) {
            case "Read":
              checker.backfillRead(key(element.new), Number(element.new.ver))
              map.set(key(element.new), element.new)
              return
            case "BackfillBegin":
            case "BackfillEnd":
              markers.push(element)
              return
            case "Transaction": {
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
              yield* Queue.offer(commits, ++applied)
              const until = yield* Ref.get(end)
              if (until !== lsnOf(null) && element.end.endLsn > until) return yield* Effect.fail("caught up" as const)
              return
            }
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
    const waitForCommits = (n: number) =>
      Effect.gen(function* () {
        while (applied < n) yield* Queue.take(commits)
      })
    return { fiber, markers, end, waitForCommits } as const
  })

for (const major of [14, 15, 16, 17, 18] as const satisfies ReadonlyArray<Major>) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `backfill on PostgreSQL ${major}`,
    (it) => {
      it.effect(
        "a writer commits throughout: no backfilled row is behind a newer change, no change is missing, and the map equals the table",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* createVersioned(sql, "bf", rows, "p_bf")
            yield* sql.query("SELECT pg_create_logical_replication_slot('s_bf', 'pgoutput')")
            const stop = yield* Ref.make(false)
            const writing = yield* Effect.forkChild(versionedWriter(db, "bf", rows, stop))
            const repl = yield* replicate(db, { slot: "s_bf", publications: ["p_bf"], bufferSize: 64 })
            const checker = new VersionChecker("stream")
            const map = new Map<number, Row>()
            const consumer = yield* applyUntil(repl, map, checker)
            // The backfill starts with the stream well under way.
            yield* consumer.waitForCommits(20)
            const backfill: Backfill = yield* repl.backfill("bf", { chunkSize: 250 })
            const progress = yield* backfill.done
            yield* Ref.set(stop, true)
            const written = yield* Fiber.join(writing)
            // The insert position, then a last transaction after it, so the consumer sees a Commit beyond it.
            yield* Ref.set(consumer.end, lsnOf(yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")))
            yield* sql.query("UPDATE bf SET ver = ver + 1 WHERE id = (SELECT min(id) FROM bf)")
            yield* Fiber.join(consumer.fiber)

            assert.deepStrictEqual(checker.problems, [], "rows behind newer changes, or changes missing or repeated")
            assert.isAbove(written, 0)
            assert.strictEqual(progress.state, "done")
            // The writer deletes and re-inserts rows, so the table holds about `rows` when the backfill reads it: each
            // chunk holds at most 250 of what was read, and most of the table was read.
            assert.isAbove(progress.rows, rows / 2)
            assert.isAtLeast(progress.chunks, Math.ceil(progress.rows / 250))
            assert.deepStrictEqual(
              consumer.markers.map((m) => [m._tag, m.id, m.table.name, m._tag === "BackfillEnd" && m.cancelled]),
              [
                ["BackfillBegin", backfill.id, "bf", false],
                ["BackfillEnd", backfill.id, "bf", false]
              ]
            )
            assert.deepStrictEqual(mapRows(map), yield* tableRows(sql, "bf"))
          }),
        60_000
      )
    }
  )
}
