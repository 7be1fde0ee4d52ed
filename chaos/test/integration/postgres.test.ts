/**
 * What PostgreSQL 18 does that the chaos test relies on or had to learn (README "What PostgreSQL 18 does"), pinned
 * here so that a server that behaves otherwise shows up as a failing test instead of a puzzling chaos run:
 * - a smart shutdown does not wait for a walsender, but does wait for a regular session;
 * - a fast restart waits until the consumer has committed what the walsender sent (pgcdc confirms nothing else);
 * - a crash (restart -m immediate) takes a slot's confirmed_flush_lsn back to where it was last written to disk.
 */
import { assert, describe, it } from "@effect/vitest"
import { Connection, type ConnectionShape, Connector } from "@pgcdc/connection"
import { Replication, WalMessage } from "@pgcdc/replication"
import { TestDatabase, type TestDatabaseInfo, TestLogger } from "@pgcdc/testing"
import { Deferred, Effect, Fiber, Stream } from "effect"
import { ChaosError, configOf, poll, query, queryOnce, scalar } from "../../src/Admin.ts"
import { parseLsn } from "../../src/Journal.ts"

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

/**
 * A consumer in this process: commits each transaction once `gate` lets it (the gate of a slow sink), and tells
 * `received` (when given) that a Commit arrived.
 */
const consume = (
  db: TestDatabaseInfo,
  gate: Effect.Effect<void> = Effect.void,
  received: Deferred.Deferred<void> | undefined = undefined
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const connector = Connector.make({ ...configOf(db, "postgres-test"), replication: "logical" })
      const replication = yield* Replication.make({ slot: "s", publications: ["p"] }).pipe(
        Effect.provideService(Connector, connector)
      )
      yield* replication.stream.pipe(
        Stream.runForEach((m) =>
          m._tag === "Commit"
            ? Effect.andThen(
                received === undefined ? Effect.void : Deferred.succeed(received, undefined),
                Effect.andThen(gate, replication.commit(WalMessage.lsnToConfirm(m)))
              )
            : Effect.void
        )
      )
    })
  )

/** Waits until `check` holds (polled every 100 ms, for up to 30 s), or fails naming `what`. */
const until = (check: Effect.Effect<boolean, ChaosError>, what: string) =>
  Effect.flatMap(
    poll(
      Effect.map(check, (ok) => (ok ? true : undefined)),
      100,
      30_000
    ),
    (ok) => (ok === true ? Effect.void : Effect.fail(new ChaosError({ message: `gave up waiting: ${what}` })))
  )

const slotActive = (db: TestDatabaseInfo) =>
  until(
    Effect.map(scalar(db, "SELECT active::text FROM pg_replication_slots WHERE slot_name = 's'"), (a) => a === "true"),
    "the consumer's walsender"
  )

/** A new session is refused because the server is shutting down (SQLSTATE 57P03). */
const refusesSessions = (db: TestDatabaseInfo) =>
  until(
    Effect.match(queryOnce(db, "SELECT 1"), {
      onFailure: (e) => /shutting down|57P03/.test(e.message),
      onSuccess: () => false
    }),
    "the server to refuse new sessions"
  )

const lsn = (text: string | null): bigint => parseLsn(text ?? "0/0")

const confirmed = (db: TestDatabaseInfo) =>
  scalar(db, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 's'")

describe("PostgreSQL 18 behaviour the chaos test relies on", () => {
  it.live(
    "a smart shutdown does not wait for a walsender, but waits for a regular session",
    () => {
      // The consumer's service logs its reconnects after the stop and the restart: kept, and the only warnings.
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const db = yield* TestDatabase.make({ major: 18, settings })
        yield* setup(db)
        const consumer = yield* Effect.forkChild(consume(db))
        yield* slotActive(db)
        // Completes with the consumer's walsender still connected (were it waited for, the test would time out).
        yield* db.control!.stop("smart")
        yield* db.control!.start

        const connected = yield* Deferred.make<ConnectionShape>()
        const session = yield* Effect.forkChild(
          Effect.scoped(
            Effect.flatMap(Connection.make(configOf(db, "idle")), (conn) =>
              Effect.andThen(Deferred.succeed(connected, conn), Effect.never)
            )
          )
        )
        const idle = yield* Deferred.await(connected)
        const stopping = yield* Effect.forkChild(db.control!.stop("smart"))
        yield* refusesSessions(db)
        // Shutting down, and still serving the regular session that was open: the stop waits for it.
        const answer = yield* idle.query("SELECT 'still served'")
        assert.strictEqual(answer[0]?.rows[0]?.[0], "still served")
        assert.isUndefined(stopping.pollUnsafe(), "the smart stop completed with a regular session open")
        yield* Fiber.interrupt(session)
        yield* Fiber.join(stopping)
        yield* Fiber.interrupt(consumer)
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    },
    60_000
  )

  it.live(
    "a fast restart waits until the consumer has committed what it was sent",
    () => {
      // The consumer's service logs its reconnects after the stop and the restart: kept, and the only warnings.
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const db = yield* TestDatabase.make({ major: 18, settings })
        yield* setup(db)
        // The consumer holds its commit, as a slow sink would, until the test lets it go.
        const release = yield* Deferred.make<void>()
        const received = yield* Deferred.make<void>()
        const consumer = yield* Effect.forkChild(consume(db, Deferred.await(release), received))
        yield* query(db, "INSERT INTO t VALUES (1)")
        yield* Deferred.await(received)
        const restarting = yield* Effect.forkChild(db.control!.restart("fast"))
        yield* refusesSessions(db)
        // The server is shutting down and waits for the walsender, which waits for the consumer's commit.
        assert.isUndefined(restarting.pollUnsafe(), "the fast restart completed before the consumer committed")
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(restarting)
        yield* Fiber.interrupt(consumer)
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    },
    60_000
  )

  it.live(
    "a crash takes the slot's confirmed_flush_lsn back to where it was last written, behind what the consumer confirmed",
    () => {
      // Terminating the consumer's walsender may make its service log a reconnect before it is interrupted: kept, and
      // the only warning allowed.
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const db = yield* TestDatabase.make({ major: 18, settings })
        yield* setup(db)
        // PostgreSQL also writes the slot when its restart point can advance, after a running-transactions record
        // (the background writer logs one about every 15 s): if one falls between the last confirmations, the last
        // confirmation is on disk and the experiment says nothing, so it is tried again.
        const outcomes: Array<string> = []
        for (let attempt = 1; attempt <= 3; attempt++) {
          const before = yield* confirmed(db)
          const consumer = yield* Effect.forkChild(consume(db))
          for (let round = 1; round <= 3; round++) {
            const at = yield* scalar(
              db,
              `INSERT INTO t VALUES (${attempt * 10 + round}) RETURNING pg_current_wal_insert_lsn()::text`
            )
            // The consumer's commit of it has reached the slot.
            yield* until(
              Effect.map(confirmed(db), (c) => lsn(c) >= lsn(at)),
              "the consumer's commit to reach the slot"
            )
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
      }).pipe(
        Effect.ensuring(Effect.sync(() => assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), []))),
        Effect.scoped,
        TestLogger.provide(logs)
      )
    },
    90_000
  )
})
