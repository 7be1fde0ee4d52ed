/**
 * The slot's health in `status` and the log (PostgreSQL 18): wal_status, safe_wal_size and the WAL the slot retains
 * are read every `slotCheckInterval`; a consumer that falls behind until the slot nears max_slot_wal_keep_size gets
 * one warning that says so.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@pgcdc/testing"
import { Effect, Logger, Option } from "effect"
import { eventually, replicate, sqlSession } from "./support.ts"

const mb = 1024n * 1024n

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })(
  "slot health on PostgreSQL 18",
  (it) => {
    it.effect("status reports the slot's health, and a slot nearing max_slot_wal_keep_size is warned about once", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* sql.query("ALTER SYSTEM SET max_slot_wal_keep_size = '64MB'")
        yield* sql.query("SELECT pg_reload_conf()")
        yield* sql.query("CREATE TABLE h (id serial PRIMARY KEY, v text); CREATE PUBLICATION p_h FOR TABLE h")
        yield* sql.query("SELECT pg_create_logical_replication_slot('s_h', 'pgoutput')")
        const warnings: Array<string> = []
        const capture = Logger.make((options) => {
          if (options.logLevel === "Warn") warnings.push(String(options.message))
        })
        // A consumer that never pulls: the slot retains everything written.
        const repl = yield* replicate(db, { slot: "s_h", publications: ["p_h"], slotCheckInterval: "100 millis" }).pipe(
          Effect.provide(Logger.layer([capture]))
        )
        const first = yield* eventually(
          Effect.map(repl.status, (s) => Option.fromNullishOr(s.slot)),
          "the first slot check"
        )
        assert.strictEqual(first.walStatus, "reserved")
        assert.strictEqual(first.maxKeepSize, 64n * mb)
        const near = yield* eventually(
          Effect.gen(function* () {
            yield* sql.query("INSERT INTO h (v) SELECT repeat('x', 1000) FROM generate_series(1, 2000)")
            const s = (yield* repl.status).slot
            return s !== undefined && s.safeWalSize !== undefined && s.safeWalSize * 5n < 64n * mb
              ? Option.some(s)
              : Option.none()
          }),
          "the slot to near max_slot_wal_keep_size",
          400
        )
        assert.isTrue(near.retainedBytes > 48n * mb, `retains ${near.retainedBytes}`)
        const warned = yield* eventually(
          Effect.sync(() =>
            warnings.some((w) => w.includes("nears max_slot_wal_keep_size")) ? Option.some(warnings) : Option.none()
          ),
          "the warning"
        )
        assert.strictEqual(
          warned.filter((w) => w.includes("nears max_slot_wal_keep_size")).length,
          1,
          warned.join("\n")
        )
        assert.include(warned.find((w) => w.includes("nears"))!, "Slot s_h")
      })
    )
  }
)
