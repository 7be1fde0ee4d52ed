/**
 * The heartbeat keeps a slot moving when its published tables are idle and the rest of the database is busy
 * (PostgreSQL 18). While a writer fills another table, the walsender reads WAL without sending the consumer anything,
 * so the consumer has nothing to commit; with a heartbeat, the hidden heartbeat messages let the slot advance while
 * the writer goes on, and what it retains stays small. The consumer never sees a heartbeat.
 */
import { assert, layer } from "@effect/vitest"
import type { ConnectionShape } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Effect, Fiber, Option, Ref, Stream } from "effect"
import type { ReplicationOptions } from "../../src/Replication.ts"
import * as WalMessage from "../../src/WalMessage.ts"
import { eventually, lsnOf, replicate, scalar, sqlSession } from "./support.ts"

const mb = 1024n * 1024n

/** Fills busy_t until stopped, with a CHECKPOINT every ~5 MB of WAL: it logs the running-transactions record a slot's restart point moves to, so what the slot retains can fall well below what was written. */
const busyWriter = (db: TestDatabaseInfo, stop: Ref.Ref<boolean>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sql = yield* sqlSession(db)
      for (let round = 1; !(yield* Ref.get(stop)); round++) {
        yield* sql.query("INSERT INTO busy_t (v) SELECT repeat('x', 1000) FROM generate_series(1, 500)")
        if (round % 10 === 0) yield* sql.query("CHECKPOINT")
      }
    })
  )

const retained = (sql: ConnectionShape, slot: string) =>
  Effect.map(
    scalar(
      sql,
      `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text FROM pg_replication_slots WHERE slot_name = '${slot}'`
    ),
    (v) => BigInt(v ?? "0")
  )

/** A consumer that commits every message it may, collecting the logical messages it is handed. */
const consume = (db: TestDatabaseInfo, options: ReplicationOptions) =>
  Effect.gen(function* () {
    const repl = yield* replicate(db, options)
    const messages: Array<string> = []
    yield* repl.stream.pipe(
      Stream.runForEach((m) => {
        if (m._tag === "Message") messages.push(m.prefix)
        const lsn = WalMessage.lsnToConfirm(m)
        return lsn === undefined ? Effect.void : repl.commit(lsn)
      }),
      Effect.forkScoped
    )
    return { repl, messages } as const
  })

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })(
  "heartbeat on PostgreSQL 18",
  (it) => {
    it.effect(
      "a busy database and idle published tables: with a heartbeat the slot advances while the writer goes on",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query(`
            CREATE TABLE idle_t (id int PRIMARY KEY);
            CREATE TABLE busy_t (id serial PRIMARY KEY, v text);
            CREATE PUBLICATION p_idle FOR TABLE idle_t`)
          yield* sql.query("SELECT pg_create_logical_replication_slot('s_beat', 'pgoutput')")
          const start = lsnOf(yield* scalar(sql, "SELECT pg_current_wal_lsn()::text"))
          const beat = yield* consume(db, {
            slot: "s_beat",
            publications: ["p_idle"],
            statusInterval: "1 second",
            heartbeat: "200 millis"
          })
          const stop = yield* Ref.make(false)
          const writer = yield* Effect.forkChild(busyWriter(db, stop))

          // With the heartbeat, the slot keeps up while the writer goes on: once more than 48 MB were written, what it
          // retains drops below a third of that (a slot that stood still would retain all of it).
          yield* eventually(
            Effect.gen(function* () {
              const written = BigInt(
                Number(
                  yield* scalar(
                    sql,
                    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '${Lsn.format(start)}')::bigint::text`
                  )
                )
              )
              const kept = yield* retained(sql, "s_beat")
              return written > 48n * mb && kept * 3n < written ? Option.some(kept) : Option.none()
            }),
            "the heartbeat slot to advance while the writer goes on",
            1600
          )
          yield* Ref.set(stop, true)
          yield* Fiber.join(writer)

          assert.deepStrictEqual(beat.messages, [], "a heartbeat reached the consumer")
          assert.isTrue((yield* beat.repl.status).flushed > start)
        }),
      120_000
    )
  }
)
