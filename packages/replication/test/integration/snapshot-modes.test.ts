/**
 * The snapshot modes and what users get wrong, against real PostgreSQL 18:
 * - "when_needed" takes the snapshot when the slot is missing, and streams without one when it exists;
 * - a consumer that stops before committing SnapshotComplete leaves no slot: the next start takes the snapshot again;
 * - "initial" with an existing slot, and publications that hold no table, are clear errors at build time;
 * - "initial_only" gives the snapshot alone: the stream ends after SnapshotComplete and no slot is left behind;
 * - the walsender holding the snapshot's temporary slot dies before the snapshot is confirmed: the stream fails with
 *   the Snapshot reason, and no slot exists.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase, type TestDatabaseInfo, TestLogger } from "@pgcdc/testing"
import { Effect, Option, Stream } from "effect"
import type { ReplicationOptions, ReplicationShape } from "../../src/Replication.ts"
import { lsnToConfirm, type WalMessage } from "../../src/WalMessage.ts"
import { assertReconnectsLogged, eventually, exec, replicate, scalar, sqlSession } from "./support.ts"

const snapshotOf = (repl: ReplicationShape) =>
  Stream.runCollect(Stream.takeUntil(repl.stream, (m) => m._tag === "SnapshotComplete")).pipe(
    Effect.map((c) => Array.from(c))
  )

const readIds = (messages: ReadonlyArray<WalMessage>) =>
  messages.flatMap((m) => (m._tag === "Read" ? [Number(m.new.id)] : [])).sort((a, b) => a - b)

const slotCount = (db: TestDatabaseInfo, slot: string) =>
  Effect.scoped(
    Effect.flatMap(sqlSession(db), (sql) =>
      scalar(sql, `SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = '${slot}'`)
    )
  )

const withService = <A, E>(
  db: TestDatabaseInfo,
  options: ReplicationOptions,
  use: (repl: ReplicationShape) => Effect.Effect<A, E>
) => Effect.scoped(Effect.flatMap(replicate(db, options), use))

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })(
  "snapshot modes on PostgreSQL 18",
  (it) => {
    it.effect("when_needed: a snapshot when the slot is missing; stopping before the commit leaves no slot", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* exec(sql, [
          "CREATE TABLE wn (id int PRIMARY KEY)",
          "INSERT INTO wn SELECT generate_series(1, 5)",
          "CREATE PUBLICATION p_wn FOR TABLE wn"
        ])
        const options: ReplicationOptions = { slot: "s_wn", publications: ["p_wn"], snapshot: "when_needed" }
        // A consumer that stops before committing SnapshotComplete (it crashed, say).
        const first = yield* withService(db, options, snapshotOf)
        assert.deepStrictEqual(readIds(first), [1, 2, 3, 4, 5])
        assert.strictEqual(yield* slotCount(db, "s_wn"), "0", "no slot before the snapshot is confirmed")
        // The next start takes it again, now with the row written in between; this one commits it.
        yield* exec(sql, ["INSERT INTO wn VALUES (6)"])
        yield* withService(db, options, (repl) =>
          Effect.gen(function* () {
            const second = yield* snapshotOf(repl)
            assert.deepStrictEqual(readIds(second), [1, 2, 3, 4, 5, 6])
            yield* repl.commit(lsnToConfirm(second.at(-1)!)!)
            yield* eventually(
              Effect.map(slotCount(db, "s_wn"), (n) => (n === "1" ? Option.some(n) : Option.none())),
              "the slot is made permanent"
            )
          })
        )
        // The slot exists: no snapshot, the stream goes on from it.
        yield* exec(sql, ["INSERT INTO wn VALUES (7)"])
        const third = yield* withService(db, options, (repl) =>
          Stream.runCollect(Stream.takeUntil(repl.stream, (m) => m._tag === "Commit")).pipe(
            Effect.map((c) => Array.from(c))
          )
        )
        assert.isFalse(third.some((m) => m._tag === "Read" || m._tag === "SnapshotBegin"))
        assert.deepStrictEqual(
          third.flatMap((m) => (m._tag === "Insert" ? [m.new.id] : [])),
          [7]
        )
      })
    )

    it.effect("initial with an existing slot, and publications with no table, fail at build with what to do", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* exec(sql, [
          "CREATE TABLE ex (id int PRIMARY KEY)",
          "CREATE PUBLICATION p_ex FOR TABLE ex",
          "CREATE SCHEMA empty_schema",
          "CREATE PUBLICATION p_empty FOR TABLES IN SCHEMA empty_schema",
          "SELECT pg_create_logical_replication_slot('s_ex', 'pgoutput')"
        ])
        const exists = yield* Effect.flip(replicate(db, { slot: "s_ex", publications: ["p_ex"], snapshot: "initial" }))
        assert.strictEqual(exists._tag === "ReplicationError" ? exists.reason._tag : exists._tag, "AlreadyExists")
        assert.include(exists.message, "when_needed")
        const empty = yield* Effect.flip(
          withService(db, { slot: "s_empty", publications: ["p_empty"], snapshot: "initial" }, (repl) =>
            Stream.runDrain(repl.stream)
          )
        )
        assert.strictEqual(empty._tag === "ReplicationError" ? empty.reason._tag : empty._tag, "InvalidOption")
        assert.include(empty.message, "hold no table")
      })
    )

    it.effect("initial_only: the snapshot alone, then the stream ends and no slot is left", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* exec(sql, [
          "CREATE TABLE io (id int PRIMARY KEY)",
          "INSERT INTO io SELECT generate_series(1, 3)",
          "CREATE PUBLICATION p_io FOR TABLE io"
        ])
        const all = yield* withService(db, { slot: "s_io", publications: ["p_io"], snapshot: "initial_only" }, (repl) =>
          Effect.map(Stream.runCollect(repl.stream), (c) => Array.from(c))
        )
        assert.deepStrictEqual(readIds(all), [1, 2, 3])
        assert.strictEqual(all.at(-1)?._tag, "SnapshotComplete")
        assert.strictEqual(
          yield* scalar(sql, "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name LIKE 's_io%'"),
          "0"
        )
      })
    )

    it.effect(
      "the walsender holding the temporary slot dies before the snapshot is confirmed: a Snapshot error",
      () => {
        const logs = TestLogger.make()
        return Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* exec(sql, [
            "CREATE TABLE lost (id int PRIMARY KEY)",
            "INSERT INTO lost SELECT generate_series(1, 3)",
            "CREATE PUBLICATION p_lost FOR TABLE lost"
          ])
          const failure = yield* withService(
            db,
            { slot: "s_lost", publications: ["p_lost"], snapshot: "initial" },
            (repl) =>
              Effect.gen(function* () {
                yield* snapshotOf(repl)
                // Not committed yet: the temporary slot's walsender is killed.
                yield* exec(sql, [
                  "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name LIKE 's_lost_snap_%'"
                ])
                return yield* Effect.flip(Stream.runDrain(repl.stream))
              })
          )
          assert.strictEqual(failure.reason._tag, "Snapshot")
          assert.include(failure.message, "Start again")
          assert.strictEqual(yield* slotCount(db, "s_lost"), "0")
          // The terminated session was reported before the next one found the temporary slot gone.
          assertReconnectsLogged(logs)
        }).pipe(TestLogger.provide(logs))
      }
    )
  }
)
