/**
 * The handover between the initial snapshot and the stream is exact, on PostgreSQL 14 to 18, with a writer committing
 * random inserts, updates and deletes before, during and after the snapshot. Every row carries a version that each
 * write raises by one, and the table has REPLICA IDENTITY FULL, so a consumer can tell a missing change (a version
 * skipped) from a repeated one (a version seen twice): after the snapshot, each change of a row must be exactly the
 * next version of what the snapshot or an earlier change gave. At the end the consumer's map equals the table.
 */
import { assert, layer } from "@effect/vitest"
import { type Major, TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Effect, Fiber, Queue, Ref, Stream } from "effect"
import * as Transactions from "../../src/transactions/index.ts"
import type { Row } from "../../src/WalMessage.ts"
import { lsnOf, replicate, scalar, sqlSession } from "./support.ts"

const rows = 3000

/** Random writes: a row's version goes up by one per write; a deleted id comes back one version later. */
const writer = (db: TestDatabaseInfo, stop: Ref.Ref<boolean>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sql = yield* sqlSession(db)
      let seed = 42
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n
      }
      let transactions = 0
      while (!(yield* Ref.get(stop))) {
        const statements: Array<string> = []
        for (let i = 0; i < 1 + random(4); i++) {
          const id = 1 + random(rows + 200)
          switch (random(3)) {
            case 0:
              statements.push(
                `INSERT INTO hand (id, ver, v) VALUES (${id}, 1, 'i') ON CONFLICT (id) DO UPDATE SET ver = hand.ver + 1, v = 'u'`
              )
              break
            case 1:
              statements.push(`UPDATE hand SET ver = ver + 1, v = md5(random()::text) WHERE id = ${id}`)
              break
            default:
              // A deleted row returns one version later: keep its last version in a side table.
              statements.push(
                `WITH d AS (DELETE FROM hand WHERE id = ${id} RETURNING id, ver) INSERT INTO hand_gone SELECT id, ver FROM d ON CONFLICT (id) DO UPDATE SET ver = excluded.ver`
              )
          }
        }
        yield* sql.query(`BEGIN; ${statements.join("; ")}; COMMIT`)
        transactions++
      }
      return transactions
    })
  )

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
            yield* sql.query(`
              CREATE TABLE hand (id int PRIMARY KEY, ver int NOT NULL, v text);
              ALTER TABLE hand REPLICA IDENTITY FULL;
              CREATE TABLE hand_gone (id int PRIMARY KEY, ver int NOT NULL);
              INSERT INTO hand SELECT i, 1, 'v' FROM generate_series(1, ${rows}) i;
              CREATE PUBLICATION p_hand FOR TABLE hand`)
            // Inserting a row that was deleted starts from its old version: a trigger keeps the versions monotonic.
            yield* sql.query(`
              CREATE FUNCTION hand_reinsert() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN
                SELECT ver + 1 INTO NEW.ver FROM hand_gone WHERE id = NEW.id;
                IF NEW.ver IS NULL THEN NEW.ver := 1; END IF;
                RETURN NEW;
              END $$;
              CREATE TRIGGER hand_reinsert BEFORE INSERT ON hand FOR EACH ROW EXECUTE FUNCTION hand_reinsert()`)
            const stop = yield* Ref.make(false)
            const writing = yield* Effect.forkChild(writer(db, stop))
            // A small buffer and two sessions: the snapshot's COPYs are held back by the consumer while writes go on.
            const repl = yield* replicate(db, {
              slot: "s_hand",
              publications: ["p_hand"],
              snapshot: "initial",
              bufferSize: 64
            })
            // Per row: its last version seen, and whether it exists (after the snapshot and the changes so far).
            const seen = new Map<number, { readonly ver: number; readonly present: boolean }>()
            const map = new Map<number, Row>()
            const problems: Array<string> = []
            const key = (row: Row | undefined) => Number(row?.id)
            const change = (op: "insert" | "update" | "delete", id: number, ver: number) => {
              const last = seen.get(id)
              // A row absent at the snapshot and never seen since may come back at any version (it was deleted before).
              const expected =
                op === "insert"
                  ? last === undefined
                    ? ver
                    : last.present
                      ? Number.NaN
                      : last.ver + 1
                  : last === undefined || !last.present
                    ? Number.NaN
                    : op === "update"
                      ? last.ver + 1
                      : last.ver
              if (ver !== expected) {
                problems.push(`${op} of row ${id} at version ${ver} after ${JSON.stringify(last ?? "nothing")}`)
              }
              seen.set(id, { ver, present: op !== "delete" })
            }
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
                      seen.set(key(element.new), { ver: Number(element.new.ver), present: true })
                      map.set(key(element.new), element.new)
                      return
                    case "SnapshotComplete":
                      yield* Transactions.acknowledge(repl, element)
                      return
                    case "Transaction":
                      for (const m of element.changes) {
                        if (m._tag === "Insert" || m._tag === "Update") {
                          change(m._tag === "Insert" ? "insert" : "update", key(m.new), Number(m.new.ver))
                          map.set(key(m.new), m.new)
                        } else if (m._tag === "Delete") {
                          change("delete", key(m.old), Number(m.old?.ver))
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
            assert.deepStrictEqual(problems, [], "changes missing or repeated at the handover")
            assert.isAbove(written, 0)
            const table = (yield* sql.query("SELECT id::text, ver::text, v FROM hand ORDER BY hand.id"))[0]!.rows
            assert.deepStrictEqual(
              [...map.values()]
                .sort((a, b) => key(a) - key(b))
                .map((r) => [String(r.id), String(r.ver), r.v === null ? null : String(r.v)]),
              table.map((r) => [r[0], r[1], r[2]])
            )
          }),
        60_000
      )
    }
  )
}
