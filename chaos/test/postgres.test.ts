/**
 * What PostgreSQL 18 does that the chaos test relies on or had to learn (README "What PostgreSQL 18 does"), pinned
 * here so that a server that behaves otherwise shows up as a failing test instead of a puzzling chaos run:
 * - a smart shutdown does not wait for a walsender, but does wait for a regular session;
 * - a fast restart waits until the consumer has committed what the walsender sent (pgcdc confirms nothing else);
 * - a crash (restart -m immediate) takes a slot's confirmed_flush_lsn back to where it was last written to disk.
 */
import { assert, describe, it } from "@effect/vitest"
import { Connection } from "@pgcdc/connection"
import { Replication, WalMessage } from "@pgcdc/replication"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Effect, Fiber, Stream } from "effect"
import { configOf, query, scalar } from "../src/Admin.ts"
import { parseLsn } from "../src/Journal.ts"

const settings = { synchronous_commit: "on", wal_sender_timeout: "2s" }

const setup = (db: TestDatabaseInfo) =>
  Effect.forEach(
    [
      "CREATE TABLE t (id int PRIMARY KEY)",
      "CREATE PUBLICATION p FOR TABLE t",
      "SELECT pg_create_logical_replication_slot('s', 'pgoutput')"
    ],
    (sql) => query(db, sql),
    { discard: true }
  )

/** A consumer in this process that commits each transaction after `delay` (the first one only, if `once`). */
const consume = (db: TestDatabaseInfo, delay: (commits: number) => number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const conn = yield* Connection.make({ ...configOf(db, "postgres-test"), replication: "logical" })
      const replication = yield* Replication.make({ slot: "s", publications: ["p"] }).pipe(
        Effect.provideService(Connection, conn)
      )
      let commits = 0
      yield* replication.stream.pipe(
        Stream.runForEach((m) =>
          m._tag === "Commit"
            ? Effect.andThen(Effect.sleep(delay(commits++)), replication.commit(WalMessage.commitLsn(m)))
            : Effect.void
        )
      )
    })
  )

const lsn = (text: string | null): bigint => parseLsn(text ?? "0/0")

const confirmed = (db: TestDatabaseInfo) =>
  scalar(db, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 's'")

describe("PostgreSQL 18 behaviour the chaos test relies on", () => {
  it.live(
    "a smart shutdown does not wait for a walsender, but waits for a regular session",
    () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.make({ major: 18, settings })
        yield* setup(db)
        const consumer = yield* Effect.forkChild(consume(db, () => 0))
        yield* Effect.sleep("1 second")
        const started = Date.now()
        yield* db.control!.stop("smart")
        assert.isBelow(Date.now() - started, 3000, "the smart stop waited for the walsender")
        yield* db.control!.start

        const session = yield* Effect.forkChild(
          Effect.scoped(Effect.andThen(Connection.make(configOf(db, "idle")), Effect.never))
        )
        yield* Effect.sleep("500 millis")
        const stopping = yield* Effect.forkChild(db.control!.stop("smart"))
        const waited = yield* Fiber.join(stopping).pipe(Effect.timeoutOption("3 seconds"))
        assert.strictEqual(waited._tag, "None", "the smart stop did not wait for the idle regular session")
        yield* Fiber.interrupt(session)
        yield* Fiber.join(stopping)
        yield* Fiber.interrupt(consumer)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a fast restart waits until the consumer has committed what it was sent",
    () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.make({ major: 18, settings })
        yield* setup(db)
        // The first transaction is committed 5 s after it arrives, as by a slow sink.
        const consumer = yield* Effect.forkChild(consume(db, (n) => (n === 0 ? 5000 : 0)))
        yield* query(db, "INSERT INTO t VALUES (1)")
        yield* Effect.sleep("1 second")
        const started = Date.now()
        yield* db.control!.restart("fast")
        const took = Date.now() - started
        assert.isAbove(took, 2500, `the fast restart took ${took} ms: it did not wait for the consumer's commit`)
        yield* Fiber.interrupt(consumer)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live(
    "a crash takes the slot's confirmed_flush_lsn back to where it was last written, behind what the consumer confirmed",
    () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase.make({ major: 18, settings })
        yield* setup(db)
        // PostgreSQL also writes the slot when its restart point can advance, after a running-transactions record
        // (the background writer logs one about every 15 s): if one falls between the last confirmations, the last
        // confirmation is on disk and the experiment says nothing, so it is tried again.
        const outcomes: Array<string> = []
        for (let attempt = 1; attempt <= 3; attempt++) {
          const before = yield* confirmed(db)
          const consumer = yield* Effect.forkChild(consume(db, () => 0))
          for (let round = 1; round <= 3; round++) {
            yield* query(db, `INSERT INTO t VALUES (${attempt * 10 + round})`)
            yield* Effect.sleep("1500 millis")
          }
          const advanced = yield* confirmed(db)
          assert.isTrue(lsn(advanced) > lsn(before), "the consumer's commits did not reach the slot")
          // Stop the consumer so that it cannot report again after the crash.
          yield* query(db, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = 's'")
          yield* Fiber.interrupt(consumer)
          yield* db.control!.restart("immediate")
          const afterCrash = yield* confirmed(db)
          outcomes.push(`before ${before}, confirmed ${advanced}, after the crash ${afterCrash}`)
          assert.isTrue(lsn(afterCrash) >= lsn(before) && lsn(afterCrash) <= lsn(advanced), outcomes.join("; "))
          if (lsn(afterCrash) < lsn(advanced)) return
        }
        assert.fail(`the crash never took the slot back: ${outcomes.join("; ")}`)
      }).pipe(Effect.scoped),
    90_000
  )
})
