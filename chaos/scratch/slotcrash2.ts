import { Connection } from "@pgcdc/connection"
import { Replication, WalMessage } from "@pgcdc/replication"
import { TestDatabase } from "@pgcdc/testing"
import { Effect, Fiber, Stream } from "effect"
import { configOf, query, scalar } from "../src/Admin.ts"

const prog = Effect.gen(function* () {
  const db = yield* TestDatabase.make({ settings: { synchronous_commit: "on", wal_sender_timeout: "2s" } })
  for (const sql of [
    "CREATE TABLE t (id int primary key)",
    "CREATE PUBLICATION p FOR TABLE t",
    "SELECT pg_create_logical_replication_slot('s', 'pgoutput')"
  ])
    yield* query(db, sql)
  const confirmed = scalar(
    db,
    "SELECT confirmed_flush_lsn::text || ' restart_lsn ' || restart_lsn::text FROM pg_replication_slots WHERE slot_name = 's'"
  )
  const fiber = yield* Effect.forkChild(
    Effect.scoped(
      Effect.gen(function* () {
        const conn = yield* Connection.make({ ...configOf(db, "exp"), replication: "logical" })
        const r = yield* Replication.make({ slot: "s", publications: ["p"] }).pipe(
          Effect.provideService(Connection, conn)
        )
        yield* r.stream.pipe(
          Stream.runForEach((m) => (m._tag === "Commit" ? r.commit(WalMessage.commitLsn(m)) : Effect.void))
        )
      })
    )
  )
  for (let round = 1; round <= 4; round++) {
    for (let i = 1; i <= 5; i++) yield* query(db, `INSERT INTO t VALUES (${round * 10 + i})`)
    yield* Effect.sleep("2 seconds")
    console.log(`round ${round}: server confirmed_flush_lsn`, yield* confirmed)
  }
  yield* query(db, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 's'")
  yield* Fiber.interrupt(fiber)
  yield* Effect.sleep("300 millis")
  console.log("consumer gone:", yield* confirmed)
  yield* db.control!.restart("immediate")
  console.log("after pg_ctl restart -m immediate:", yield* confirmed)
})
Effect.runPromise(Effect.scoped(prog)).then(
  () => console.log("done"),
  (e) => console.error("fail", e)
)
