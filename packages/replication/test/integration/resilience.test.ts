/**
 * The service under pressure on PostgreSQL 18 and 14: a consumer slower than wal_sender_timeout stays connected
 * (the feedback fiber keeps answering while the stream is not pulled), and a walsender killed mid-stream is
 * replaced by a new session that resumes from the last committed LSN with nothing missing. Also the wal_level error.
 */
import { assert, layer } from "@effect/vitest"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { TestDatabase, TestLogger } from "@pgcdc/testing"
import { Lsn } from "@pgcdc/protocol"
import { Effect, Stream } from "effect"
import * as Slot from "../../src/Slot.ts"
import { lsnToConfirm } from "../../src/WalMessage.ts"
import { assertReconnectsLogged, exec, lsnOf, replicate, scalar, sqlSession } from "./support.ts"

const walsenderPid = (sql: ConnectionShape, slot: string) =>
  scalar(sql, `SELECT active_pid::text FROM pg_replication_slots WHERE slot_name = '${slot}'`)

for (const major of [18, 14] as const) {
  layer(TestDatabase.layer({ major, settings: { wal_sender_timeout: "2s" } }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })(`resilience on PostgreSQL ${major}`, (it) => {
    it.effect(
      "a consumer slower than wal_sender_timeout stays connected, and backpressure holds",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE slow (id int PRIMARY KEY, pad text); CREATE PUBLICATION p_slow FOR TABLE slow")
          yield* Slot.create("s_slow").pipe(Effect.provideService(Connection, sql))
          // Enough data to fill the bounded queue and the socket buffers, so the server blocks on sending.
          yield* sql.query(
            "INSERT INTO slow SELECT s.i, (SELECT string_agg(md5(random()::text || s.i || g), '') FROM generate_series(1, 40) g) FROM generate_series(1, 5000) AS s(i)"
          )
          const endOfData = lsnOf(yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text"))
          const repl = yield* replicate(db, {
            slot: "s_slow",
            publications: ["p_slow"],
            statusInterval: "300 millis",
            bufferSize: 16
          })
          const head = yield* repl.stream.pipe(Stream.take(3), Stream.runCollect)
          assert.strictEqual(Array.from(head)[2]?._tag, "Insert")
          const pid = yield* walsenderPid(sql, "s_slow")
          assert.isNotNull(pid)
          // The consumer stalls for more than twice wal_sender_timeout: this is the scenario, not a synchronisation.
          yield* Effect.sleep("5 seconds")
          // Backpressure: while nobody pulled, reading stopped after a bounded buffer, far before the commit.
          assert.isTrue((yield* repl.status).received < endOfData)
          let inserts = 1
          yield* repl.stream.pipe(
            Stream.takeUntil((m) => m._tag === "Commit"),
            Stream.runForEach((m) => Effect.sync(() => void (m._tag === "Insert" && inserts++)))
          )
          assert.strictEqual(inserts, 5000)
          assert.strictEqual(yield* walsenderPid(sql, "s_slow"), pid, "the same walsender: never timed out")
          assert.strictEqual((yield* repl.status).sessions, 1)
        }),
      40_000
    )

    it.effect(
      "an idle session answers the server's reply requests at once, long before its status interval",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE idle (id int PRIMARY KEY); CREATE PUBLICATION p_idle FOR TABLE idle")
          yield* Slot.create("s_idle").pipe(Effect.provideService(Connection, sql))
          yield* exec(sql, ["INSERT INTO idle VALUES (1)"])
          const repl = yield* replicate(db, { slot: "s_idle", publications: ["p_idle"], statusInterval: "1 hour" })
          yield* repl.stream.pipe(
            Stream.takeUntil((m) => m._tag === "Commit"),
            Stream.runDrain
          )
          const pid = yield* walsenderPid(sql, "s_idle")
          // Idle past wal_sender_timeout (2s): only answers to keepalives with replyRequested keep the session.
          yield* Effect.sleep("3500 millis")
          assert.strictEqual(yield* walsenderPid(sql, "s_idle"), pid)
          assert.strictEqual((yield* repl.status).sessions, 1)
        }),
      30_000
    )

    it.effect(
      "pg_terminate_backend of the walsender mid-stream: resumes after what was handed out, nothing missing or repeated",
      () => {
        const logs = TestLogger.make()
        return Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE kill (id int PRIMARY KEY); CREATE PUBLICATION p_kill FOR TABLE kill")
          yield* Slot.create("s_kill").pipe(Effect.provideService(Connection, sql))
          const insert = (from: number, to: number) =>
            exec(
              sql,
              Array.from({ length: to - from + 1 }, (_, i) => `INSERT INTO kill VALUES (${from + i})`)
            )
          yield* insert(1, 20)
          const repl = yield* replicate(db, { slot: "s_kill", publications: ["p_kill"], statusInterval: "100 millis" })
          const seen = new Set<number>()
          let deliveries = 0
          let commits = 0
          const killed = { pid: null as string | null }
          const reconnects: Array<Lsn.Lsn> = []
          let lastCommitted = Lsn.zero
          let handedOutAtKill = Lsn.zero
          let lastCommittedBeforeKill = Lsn.zero
          yield* repl.stream.pipe(
            Stream.mapEffect((m) =>
              Effect.gen(function* () {
                if (m._tag === "Reconnected") reconnects.push(m.walStart)
                if (m._tag === "Insert") {
                  seen.add(m.new.id as number)
                  deliveries++
                }
                if (m._tag === "Commit") {
                  commits++
                  // Commit odd transactions only: the 20th is received but uncommitted when the walsender dies.
                  if (commits % 2 === 1) {
                    lastCommitted = lsnToConfirm(m)
                    yield* repl.commit(lastCommitted)
                  }
                  if (commits === 20) {
                    lastCommittedBeforeKill = lastCommitted
                    // The 20th transaction is in the consumer's hands (uncommitted) when its walsender dies.
                    handedOutAtKill = lsnToConfirm(m)
                    killed.pid = yield* scalar(
                      sql,
                      "SELECT pg_terminate_backend(active_pid)::text || ':' || active_pid FROM pg_replication_slots WHERE slot_name = 's_kill'"
                    )
                    // New rows arrive while the service reconnects.
                    yield* insert(21, 40)
                  }
                }
                return m
              })
            ),
            Stream.takeUntil(() => seen.size === 40),
            Stream.runDrain
          )
          assert.match(killed.pid ?? "", /^true:\d+$/)
          assert.deepStrictEqual(
            Array.from(seen).sort((a, b) => a - b),
            Array.from({ length: 40 }, (_, i) => i + 1)
          )
          const status = yield* repl.status
          assert.isAtLeast(status.sessions, 2)
          // The stream told the consumer where the new session restarted: after the transaction it was handed last,
          // which is past its last commit.
          assert.isAtLeast(reconnects.length, 1)
          assert.strictEqual(reconnects[0], handedOutAtKill)
          assert.isTrue(handedOutAtKill > lastCommittedBeforeKill)
          // Within the process nothing is handed out twice: the new session starts after the last transaction the
          // consumer already has (committed or not), never before its last commit. Across a crash of the consumer
          // the slot's confirmed position still only ever holds committed LSNs (the simulation proves that part).
          assert.strictEqual(deliveries, 40)
          assert.notStrictEqual(yield* walsenderPid(sql, "s_kill"), killed.pid?.split(":")[1])
          assertReconnectsLogged(logs)
        }).pipe(TestLogger.provide(logs))
      },
      40_000
    )
  })
}

layer(TestDatabase.layer({ major: 18, settings: { wal_level: "replica" } }), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("wal_level", (it) => {
  it.effect("wal_level below logical is a typed error that says how to fix it", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      const start = yield* Effect.flip(replicate(db, { slot: "any", publications: ["p"] }))
      assert.strictEqual(start._tag === "ReplicationError" ? start.reason._tag : start._tag, "WalLevel")
      assert.include(start.message, "wal_level = logical")
      const create = yield* Effect.flip(Slot.create("s").pipe(Effect.provideService(Connection, sql)))
      assert.strictEqual(create.reason._tag, "WalLevel")
      assert.include(create.message, "restart the server")
    })
  )
})
