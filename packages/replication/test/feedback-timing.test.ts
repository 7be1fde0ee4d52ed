/**
 * When status updates reach the server, against the fake server under TestClock (so time is exact): a commit is
 * reported within `flushDelay`, one update for many commits; `flush` reports at once; the status interval shrinks to
 * a third of the server's wal_sender_timeout, so a consumer that stops pulling is never timed out; and a defect below
 * the service fails the stream instead of ending it as if it had finished.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ConnectionShape, Connector } from "@pgcdc/connection"
import { FakePostgres, fakeConnectorLayer } from "@pgcdc/testing"
import { Cause, Duration, Effect, Exit, Layer, type Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Replication, type ReplicationOptions } from "../src/Replication.ts"
import { lsnToConfirm, type WalMessage } from "../src/WalMessage.ts"

/** Runs `body` with a fake server holding table t, slot s and publication p. */
const withFake = <A, E>(
  body: (fake: FakePostgres["Service"]) => Effect.Effect<A, E, FakePostgres>,
  walSenderTimeout: Duration.Input = "60 seconds"
) =>
  Effect.gen(function* () {
    const fake = yield* FakePostgres
    yield* fake.defineTable({ name: "t", columns: [{ name: "id", typeOid: 23, key: true }] })
    yield* fake.createSlot("s")
    yield* fake.createPublication("p")
    return yield* body(fake)
  }).pipe(Effect.provide(FakePostgres.layer({ serverVersion: "17.2", walSenderTimeout, keepaliveInterval: 0 })))

/** Pulls through the next Commit; returns the LSN that confirms it. */
const throughCommit = (pull: Effect.Effect<ReadonlyArray<WalMessage>, unknown>) =>
  Effect.gen(function* () {
    for (;;) {
      for (const m of yield* pull) if (m._tag === "Commit") return lsnToConfirm(m)
    }
  })

const replicationIn = <A, E>(
  options: Partial<ReplicationOptions>,
  use: (replication: Replication["Service"]) => Effect.Effect<A, E, FakePostgres | Scope.Scope>
) =>
  Effect.flatMap(Replication, use).pipe(
    Effect.provide(
      Replication.layer({ slot: "s", publications: ["p"], ...options }).pipe(Layer.provide(fakeConnectorLayer()))
    ),
    Effect.scoped
  )

/** Flushed positions the server received so far. */
const flushedPositions = (fake: FakePostgres["Service"]) =>
  Effect.map(fake.statusUpdates, (updates) => updates.map((u) => u.update.flushed))

describe("status updates (fake server, TestClock)", () => {
  it.effect("a commit reaches the server within flushDelay, with one update for every commit in that time", () =>
    withFake((fake) =>
      replicationIn({ flushDelay: "1 second" }, (replication) =>
        Effect.gen(function* () {
          const pull = yield* Stream.toPull(replication.stream)
          yield* fake.insert("t", { id: "1" })
          yield* fake.insert("t", { id: "2" })
          const first = yield* throughCommit(pull)
          const second = yield* throughCommit(pull)
          const before = (yield* fake.statusUpdates).length
          yield* replication.commit(first)
          yield* TestClock.adjust("500 millis")
          yield* replication.commit(second)
          yield* TestClock.adjust("499 millis")
          // Not yet: the delay runs from the first commit since the last update.
          assert.notInclude(yield* flushedPositions(fake), first)
          assert.notInclude(yield* flushedPositions(fake), second)
          yield* TestClock.adjust("1 millis")
          yield* fake.awaitConfirmedFlush("s", second)
          const updates = (yield* fake.statusUpdates).slice(before)
          assert.deepStrictEqual(
            updates.map((u) => u.update.flushed),
            [second],
            "one update carried both commits"
          )
          assert.strictEqual(updates[0]!.receivedAt, 1000)
          // Nothing new to say: no update until the status interval (10 s).
          yield* TestClock.adjust("9 seconds")
          assert.strictEqual((yield* fake.statusUpdates).length, before + 1)
        })
      )
    )
  )

  it.effect("flush sends the committed position at once and completes once it is written", () =>
    withFake((fake) =>
      replicationIn({ flushDelay: "1 hour", statusInterval: "1 hour" }, (replication) =>
        Effect.gen(function* () {
          const pull = yield* Stream.toPull(replication.stream)
          yield* fake.insert("t", { id: "1" })
          const lsn = yield* throughCommit(pull)
          yield* replication.commit(lsn)
          yield* replication.flush
          yield* fake.awaitConfirmedFlush("s", lsn)
          assert.strictEqual(yield* fake.confirmedFlush("s"), lsn)
          assert.strictEqual((yield* replication.status).flushed, lsn)
        })
      )
    )
  )

  it.effect("the status interval is a third of wal_sender_timeout: a consumer that never pulls is not timed out", () =>
    withFake(
      (fake) =>
        replicationIn({}, (replication) =>
          Effect.gen(function* () {
            yield* fake.insert("t", { id: "1" })
            // The first message, so the session has started; then the consumer stalls.
            yield* Stream.runDrain(Stream.take(replication.stream, 1))
            const status = yield* replication.status
            assert.strictEqual(Duration.toMillis(status.statusInterval), 1000)
            assert.strictEqual(Duration.toMillis(status.walSenderTimeout ?? Duration.zero), 3000)
            // Nobody pulls the stream for a minute: the feedback fiber alone keeps the session.
            for (let i = 0; i < 60; i++) yield* TestClock.adjust("1 second")
            // (The slot check's short sessions end by the client's Terminate; no session ended any other way.)
            assert.deepStrictEqual(
              (yield* fake.disconnections).filter((d) => d.reason !== "client"),
              []
            )
            assert.isAtLeast((yield* fake.statusUpdates).length, 59)
            assert.strictEqual((yield* replication.status).sessions, 1)
          })
        ),
      "3 seconds"
    )
  )
})

describe("a defect below the service", () => {
  it.effect("frames that die fail the stream with the defect in its cause; it never ends as if it had finished", () =>
    withFake((fake) =>
      Effect.gen(function* () {
        const defect = new Error("the frames of the replication connection died")
        /** The fake's connector, whose sessions' copies have frames that die after the first read. */
        const dying = Layer.effect(
          Connector,
          Effect.map(Connector, (connector) => ({
            ...connector,
            connect: Effect.map(
              connector.connect,
              (conn): ConnectionShape => ({
                ...conn,
                copyBoth: (sql) =>
                  Effect.map(conn.copyBoth(sql), (copy) => ({
                    ...copy,
                    frames: Stream.concat(Stream.take(copy.frames, 1), Stream.die(defect))
                  }))
              })
            )
          }))
        ).pipe(Layer.provide(fakeConnectorLayer()))
        yield* fake.insert("t", { id: "1" })
        yield* fake.insert("t", { id: "2" })
        const exit = yield* Effect.flatMap(Replication, (replication) =>
          Stream.runCollect(replication.stream).pipe(Effect.exit)
        ).pipe(Effect.provide(Replication.layer({ slot: "s", publications: ["p"] }).pipe(Layer.provide(dying))))
        assert.isTrue(Exit.isFailure(exit), "the stream ended normally")
        if (Exit.isFailure(exit)) {
          assert.isTrue(
            exit.cause.reasons.some((r) => Cause.isDieReason(r) && r.defect === defect),
            `the defect is not in the cause: ${Cause.pretty(exit.cause)}`
          )
        }
      })
    )
  )
})
