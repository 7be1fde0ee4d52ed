/**
 * A routine server restart does not end the stream, on every supported major: `pg_ctl restart -m fast` (what
 * `systemctl restart postgresql` does) while the consumer is caught up and while a writer keeps committing, and
 * `-m immediate` (a crash as the server sees it). Each time the stream goes on after a `Reconnected` message, with
 * every committed row delivered and none handed out twice.
 */
import { assert, layer } from "@effect/vitest"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { type Major, TestDatabase, type TestDatabaseInfo, TestLogger } from "@pgcdc/testing"
import { Effect, Fiber, Queue, Ref, Schedule, Stream } from "effect"
import * as Slot from "../../src/Slot.ts"
import { lsnToConfirm, type WalMessage } from "../../src/WalMessage.ts"
import { assertReconnectsLogged, replicate, sqlSession } from "./support.ts"

/** Runs `statement` on a fresh session, retrying while the server is away (restarting). */
const execRetrying = (db: TestDatabaseInfo, statement: string) =>
  Effect.scoped(Effect.flatMap(sqlSession(db), (sql) => sql.query(statement))).pipe(
    // A session opened as the server goes down may never be answered: the timeout gives it up.
    Effect.timeout("10 seconds"),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 200 })
  )

const setup = (sql: ConnectionShape, name: string) =>
  Effect.gen(function* () {
    yield* sql.query(`CREATE TABLE ${name} (id int PRIMARY KEY); CREATE PUBLICATION p_${name} FOR TABLE ${name}`)
    yield* Slot.create(`s_${name}`).pipe(Effect.provideService(Connection, sql))
  })

/** The inserted ids of the messages, in order. */
const insertedIds = (messages: ReadonlyArray<WalMessage>): Array<number> =>
  messages.flatMap((m) => (m._tag === "Insert" ? [m.new.id as number] : []))

const control = (db: TestDatabaseInfo) => {
  if (db.control === undefined) throw new Error("these tests restart the server: they need an embedded one")
  return db.control
}

for (const major of [14, 15, 16, 17, 18] as const satisfies ReadonlyArray<Major>) {
  layer(TestDatabase.layer({ major, settings: { synchronous_commit: "on" } }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })(`server restarts on PostgreSQL ${major}`, (it) => {
    it.effect("pg_ctl restart -m fast while the consumer is caught up: the stream goes on after Reconnected", () => {
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const db = yield* TestDatabase
        yield* Effect.scoped(Effect.flatMap(sqlSession(db), (sql) => setup(sql, "caught_up")))
        yield* execRetrying(db, "INSERT INTO caught_up VALUES (1)")
        const repl = yield* replicate(db, { slot: "s_caught_up", publications: ["p_caught_up"] })
        const pull = yield* Stream.toPull(repl.stream)
        const first: Array<WalMessage> = []
        while (first.at(-1)?._tag !== "Commit") first.push(...(yield* pull))
        yield* repl.commit(lsnToConfirm(first.at(-1)!)!)
        assert.deepStrictEqual(insertedIds(first), [1])

        yield* control(db).restart("fast")
        yield* execRetrying(db, "INSERT INTO caught_up VALUES (2)")
        const after: Array<WalMessage> = []
        while (after.at(-1)?._tag !== "Commit") after.push(...(yield* pull))
        assert.strictEqual(after[0]?._tag, "Reconnected")
        assert.deepStrictEqual(insertedIds(after), [2])
        assert.strictEqual((yield* repl.status).sessions, 2)
        assertReconnectsLogged(logs)
      }).pipe(TestLogger.provide(logs))
    })

    it.effect(
      "pg_ctl restart -m fast and -m immediate while a writer commits: nothing lost, nothing handed out twice",
      () => {
        const logs = TestLogger.make()
        return Effect.gen(function* () {
          const db = yield* TestDatabase
          yield* Effect.scoped(Effect.flatMap(sqlSession(db), (sql) => setup(sql, "busy")))
          // The writer commits one row per transaction until told to stop; `written` holds the ids whose COMMIT
          // the server acknowledged (an insert cut by the restart is retried under the same id).
          const written = yield* Ref.make(0)
          const stop = yield* Ref.make(false)
          const writer = yield* Effect.gen(function* () {
            for (let id = 1; !(yield* Ref.get(stop)); id++) {
              yield* execRetrying(db, `INSERT INTO busy VALUES (${id}) ON CONFLICT DO NOTHING`)
              yield* Ref.set(written, id)
            }
          }).pipe(Effect.forkChild)

          const repl = yield* replicate(db, { slot: "s_busy", publications: ["p_busy"] })
          const seen: Array<number> = []
          let reconnects = 0
          const progress = yield* Queue.sliding<number>(1)
          const consumer = yield* repl.stream.pipe(
            Stream.runForEach((m) =>
              Effect.gen(function* () {
                if (m._tag === "Reconnected") reconnects++
                if (m._tag === "Insert") seen.push(m.new.id as number)
                if (m._tag === "Commit") {
                  yield* repl.commit(lsnToConfirm(m))
                  yield* Queue.offer(progress, seen.length)
                }
              })
            ),
            Effect.forkChild
          )
          /** Waits until the consumer has applied at least `n` transactions; fails if the stream ends first. */
          const consumed = (n: number) =>
            Effect.raceFirst(
              Effect.gen(function* () {
                // The consumer's count, then each change of it: nothing is missed whatever the order.
                while (seen.length < n) yield* Queue.take(progress)
              }),
              Effect.flatMap(Fiber.await(consumer), (exit) =>
                Effect.die(new Error(`the stream ended before ${n} rows arrived: ${String(exit)}`))
              )
            )

          yield* consumed(20)
          yield* control(db).restart("fast")
          const afterFast = (yield* Ref.get(written)) + 20
          yield* consumed(afterFast)
          yield* control(db).restart("immediate")
          const afterImmediate = (yield* Ref.get(written)) + 20
          yield* consumed(afterImmediate)
          yield* Ref.set(stop, true)
          yield* Fiber.join(writer)
          const last = yield* Ref.get(written)
          yield* consumed(last)
          yield* Fiber.interrupt(consumer)

          // Every acknowledged row arrived exactly once, in commit order.
          assert.deepStrictEqual(
            seen.slice(0, last),
            Array.from({ length: last }, (_, i) => i + 1)
          )
          assert.strictEqual(new Set(seen).size, seen.length, "a row was handed out twice")
          assert.isAtLeast(reconnects, 2)
          assertReconnectsLogged(logs)
        }).pipe(TestLogger.provide(logs))
      },
      60_000
    )
  })
}
