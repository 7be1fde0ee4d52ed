import { Connection } from "@pgcdc/connection"
import { Replication, WalMessage } from "@pgcdc/replication"
import { TestDatabase } from "@pgcdc/testing"
import { Effect, Stream } from "effect"
import { configOf, query, scalar } from "../src/Admin.ts"

const prog = Effect.gen(function* () {
  const db = yield* TestDatabase.make({ settings: { synchronous_commit: "on", wal_sender_timeout: "2s" } })
  for (const sql of [
    "CREATE TABLE t (id int primary key)",
    "CREATE PUBLICATION p FOR TABLE t",
    "SELECT pg_create_logical_replication_slot('s', 'pgoutput')",
    "CHECKPOINT"
  ])
    yield* query(db, sql)
  const confirmed = scalar(db, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 's'")
  console.log("after slot creation + checkpoint:", yield* confirmed)
  yield* Effect.scoped(
    Effect.gen(function* () {
      const conn = yield* Connection.make({ ...configOf(db, "exp"), replication: "logical" })
      const r = yield* Replication.make({ slot: "s", publications: ["p"] }).pipe(
        Effect.provideService(Connection, conn)
      )
      for (let i = 1; i <= 5; i++) yield* query(db, `INSERT INTO t VALUES (${i})`)
      let commits = 0
      yield* r.stream.pipe(
        Stream.takeUntil((m) => m._tag === "Commit" && ++commits === 5),
        Stream.runForEach((m) => (m._tag === "Commit" ? r.commit(WalMessage.commitLsn(m)) : Effect.void))
      )
      yield* r.flush
      yield* Effect.sleep("1 second")
      console.log(
        "client committed:",
        (yield* r.status).committed.toString(16),
        "server confirmed_flush_lsn:",
        yield* confirmed
      )
    })
  )
  yield* Effect.sleep("500 millis")
  console.log("after the consumer stopped:", yield* confirmed)
  yield* db.control!.restart("immediate")
  console.log("after pg_ctl restart -m immediate:", yield* confirmed)
})
Effect.runPromise(Effect.scoped(prog)).then(
  () => console.log("done"),
  (e) => console.error("fail", e)
)
