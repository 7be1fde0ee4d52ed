import { Connection } from "@pgcdc/connection"
import { Replication, WalMessage } from "@pgcdc/replication"
import { TestDatabase } from "@pgcdc/testing"
import { Effect, Fiber, Stream } from "effect"
import { configOf, query } from "../src/Admin.ts"

const prog = Effect.gen(function* () {
  const db = yield* TestDatabase.make({ settings: { synchronous_commit: "on", wal_sender_timeout: "2s" } })
  for (const sql of [
    "CREATE TABLE t (id int primary key)",
    "CREATE PUBLICATION p FOR TABLE t",
    "SELECT pg_create_logical_replication_slot('s', 'pgoutput')"
  ])
    yield* query(db, sql)
  let stalled = false
  const fiber = yield* Effect.forkChild(
    Effect.scoped(
      Effect.gen(function* () {
        const conn = yield* Connection.make({ ...configOf(db, "exp"), replication: "logical" })
        const r = yield* Replication.make({ slot: "s", publications: ["p"] }).pipe(
          Effect.provideService(Connection, conn)
        )
        yield* r.stream.pipe(
          Stream.runForEach((m) =>
            m._tag === "Commit"
              ? Effect.gen(function* () {
                  if (!stalled) {
                    stalled = true
                    console.log(new Date().toISOString(), "consumer: stalling 10 s before committing")
                    yield* Effect.sleep("10 seconds")
                    console.log(new Date().toISOString(), "consumer: committing")
                  }
                  yield* r.commit(WalMessage.commitLsn(m))
                })
              : Effect.void
          )
        )
      })
    )
  )
  yield* query(db, "INSERT INTO t VALUES (1)")
  yield* Effect.sleep("1 second")
  const t0 = Date.now()
  console.log(new Date().toISOString(), "pg_ctl restart -m fast")
  yield* db.control!.restart("fast")
  console.log(new Date().toISOString(), `restart returned after ${Date.now() - t0} ms`)
  yield* Fiber.interrupt(fiber)
})
Effect.runPromise(Effect.scoped(prog)).then(
  () => console.log("done"),
  (e) => console.error("fail", e)
)
