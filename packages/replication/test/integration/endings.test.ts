/**
 * Sessions that must not end, and slots that are not ours, against real PostgreSQL 18 and 14:
 * - with the default statusInterval (10 s) and wal_sender_timeout = 2s, a consumer stalled for 8 s is not timed out
 *   (the server's log says so, and the walsender is the same one afterwards);
 * - a second consumer on a slot in use fails at once with SlotActive naming the holder's PID; with `waitForSlot` it
 *   takes the slot over once the first one stops, and streams from where that one committed.
 */
import { assert, layer } from "@effect/vitest"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { TestDatabase } from "@pgcdc/testing"
import { Duration, Effect, Exit, Fiber, Schedule, Scope, Stream } from "effect"
import * as fs from "node:fs/promises"
import * as Slot from "../../src/Slot.ts"
import { lsnToConfirm } from "../../src/WalMessage.ts"
import { exec, replicate, scalar, sqlSession, takeTransactions } from "./support.ts"

const walsenderPid = (sql: ConnectionShape, slot: string) =>
  scalar(sql, `SELECT active_pid::text FROM pg_replication_slots WHERE slot_name = '${slot}'`)

const setup = (sql: ConnectionShape, name: string) =>
  Effect.gen(function* () {
    yield* sql.query(
      `CREATE TABLE ${name} (id int PRIMARY KEY, pad text); CREATE PUBLICATION p_${name} FOR TABLE ${name}`
    )
    yield* Slot.create(`s_${name}`).pipe(Effect.provideService(Connection, sql))
  })

for (const major of [18, 14] as const) {
  layer(TestDatabase.layer({ major, settings: { wal_sender_timeout: "2s" } }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })(`sessions that must not end, on PostgreSQL ${major}`, (it) => {
    it.effect(
      "default statusInterval, wal_sender_timeout 2s, a consumer stalled for 8 s: never timed out",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* setup(sql, "stall")
          // More than the buffers hold, so the walsender blocks on sending while the consumer stalls.
          yield* sql.query("INSERT INTO stall SELECT i, repeat(md5(i::text), 40) FROM generate_series(1, 20000) AS i")
          const repl = yield* replicate(db, { slot: "s_stall", publications: ["p_stall"], bufferSize: 16 })
          const pull = yield* Stream.toPull(repl.stream)
          yield* pull
          const pid = yield* walsenderPid(sql, "s_stall")
          const status = yield* repl.status
          // A third of wal_sender_timeout, shorter than the configured (default) 10 seconds.
          assert.strictEqual(Duration.toMillis(status.statusInterval), 666)
          // The consumer stalls for four times wal_sender_timeout: this is the scenario, not a synchronisation.
          yield* Effect.sleep("8 seconds")
          let inserts = 0
          for (;;) {
            const batch = yield* pull
            inserts += batch.filter((m) => m._tag === "Insert").length
            if (batch.some((m) => m._tag === "Commit")) break
          }
          assert.isAtLeast(inserts, 19_990)
          assert.strictEqual(yield* walsenderPid(sql, "s_stall"), pid, "the same walsender: never timed out")
          assert.strictEqual((yield* repl.status).sessions, 1)
          const log = yield* Effect.promise(() => fs.readFile(db.control!.logFile, "utf8"))
          assert.notInclude(log, "replication timeout")
        }),
      40_000
    )

    it.effect("a second consumer on a slot in use fails at once with SlotActive and the holder's PID", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* setup(sql, "held")
        yield* exec(sql, ["INSERT INTO held VALUES (1)"])
        const first = yield* replicate(db, { slot: "s_held", publications: ["p_held"] })
        yield* takeTransactions(first, 1)
        const holder = Number(yield* walsenderPid(sql, "s_held"))
        // Building the second service fails: no stream is started, nothing is retried.
        const second = yield* Effect.flip(replicate(db, { slot: "s_held", publications: ["p_held"] }))
        assert.strictEqual(second._tag, "ReplicationError")
        if (second._tag === "ReplicationError") {
          assert.strictEqual(second.reason._tag, "SlotActive")
          assert.strictEqual(second.reason._tag === "SlotActive" ? second.reason.pid : undefined, holder)
          assert.isFalse(second.isRetryable)
          assert.include(second.message, `PID ${holder}`)
          assert.include(second.message, "waitForSlot")
        }
      })
    )

    it.effect("with waitForSlot, a standby takes the slot over when the active consumer stops", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* setup(sql, "standby")
        yield* exec(sql, ["INSERT INTO standby VALUES (1)"])
        const activeScope = yield* Scope.make()
        const active = yield* replicate(db, { slot: "s_standby", publications: ["p_standby"] }).pipe(
          Scope.provide(activeScope)
        )
        const [, , , commit] = yield* takeTransactions(active, 1)
        yield* active.commit(lsnToConfirm(commit!)!)
        const standby = yield* replicate(db, {
          slot: "s_standby",
          publications: ["p_standby"],
          waitForSlot: Schedule.spaced("200 millis")
        })
        const received = yield* standby.stream.pipe(
          Stream.filter((m) => m._tag === "Insert"),
          Stream.take(1),
          Stream.runCollect,
          Effect.forkChild
        )
        // The standby waits while the slot is held.
        assert.strictEqual((yield* standby.status).sessions, 0)
        yield* Scope.close(activeScope, Exit.void)
        yield* exec(sql, ["INSERT INTO standby VALUES (2)"])
        const [insert] = yield* Fiber.join(received)
        // Row 1 was committed by the first consumer: the standby starts after it.
        assert.strictEqual(insert?._tag === "Insert" ? insert.new.id : undefined, 2)
        assert.strictEqual((yield* standby.status).sessions, 1)
      })
    )
  })
}
