/**
 * The deterministic simulation against real PostgreSQL 18: the same harness, workload and consumer as on the fake,
 * with the table itself compared too (model == table == replica after every iteration), random consumer crashes
 * and walsender connections terminated at random, a run that starts from an initial snapshot and one with backfills. Iterations are
 * bounded to keep the file at a few seconds.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Result } from "effect"
import { commitBeforeApply } from "../../src/simulation/Consumer.ts"
import * as PostgresBackend from "../../src/simulation/PostgresBackend.ts"
import { Simulation } from "../../src/simulation/Simulation.ts"
import { TestDatabase } from "../../src/TestDatabase.ts"
import * as TestLogger from "../../src/TestLogger.ts"

// A small logical_decoding_work_mem, so that the streamed variant's large transactions are streamed.
layer(TestDatabase.layer({ major: 18, settings: { logical_decoding_work_mem: "64kB" } }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("Simulation on PostgreSQL 18", (it) => {
  it.effect(
    "model, table and replica stay equal through crashes and dropped connections",
    () => {
      // Each dropped connection makes the service log its reconnect: kept here, and asserted.
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const backend = yield* PostgresBackend.fromDatabase(yield* TestDatabase)
        const started = performance.now()
        const report = yield* Simulation.run({
          seed: 18,
          iterations: 200,
          backend,
          crashProbability: 0.02,
          dropProbability: 0.005
        })
        const seconds = (performance.now() - started) / 1000
        assert.isAbove(report.committed, 250)
        assert.isAbove(report.crashes, 5)
        assert.isAbove(report.drops, 2)
        assert.isAbove(report.replayedTransactions, 0)
        assert.isAbove(logs.messages("Warn").length, 0, "the dropped connections were not logged")
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
        console.log(
          `PostgreSQL simulation: ${(report.iterations / seconds).toFixed(0)} iterations/s`,
          JSON.stringify({ ...report, trace: report.trace.length })
        )
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    },
    { timeout: 120_000 }
  )

  it.effect(
    "with large transactions streamed in progress (some rolled back) the three stay equal",
    () => {
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const backend = yield* PostgresBackend.fromDatabase(yield* TestDatabase)
        const report = yield* Simulation.run({
          seed: 1818,
          iterations: 80,
          backend,
          workload: { streamedProbability: 0.15 },
          // Crash points come per message: a 400-row transaction must get through them, so they are rarer here.
          crashProbability: 0.002,
          dropProbability: 0.0005
        })
        const streamed = report.trace.filter((line) => line.includes(" streamed "))
        assert.isAbove(streamed.filter((line) => line.includes(": commit streamed")).length, 5)
        assert.isAbove(streamed.filter((line) => line.includes(": rollback streamed")).length, 0)
        assert.isAbove(report.crashes, 3)
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
        console.log(
          `PostgreSQL simulation with streaming: ${JSON.stringify({ ...report, trace: report.trace.length })}`
        )
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    },
    { timeout: 120_000 }
  )

  it.effect(
    "from an initial snapshot of tables that hold rows, crashing during the snapshot and after: the three stay equal",
    () => {
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const backend = yield* PostgresBackend.fromDatabase(yield* TestDatabase)
        const report = yield* Simulation.run({
          seed: 1206,
          iterations: 40,
          backend,
          name: "simsnap",
          snapshot: { rows: 30, crashProbability: 0.05, writeProbability: 0.1 },
          workload: { keySpace: 40 },
          crashProbability: 0.02
        })
        // Taken again after a crash before it was confirmed, then streamed from the slot it created.
        assert.isAbove(report.snapshotCrashes, 0)
        // (A crash after SnapshotComplete is committed but before the slot exists takes it again too.)
        assert.isAtLeast(report.snapshots, report.snapshotCrashes + 1)
        assert.isAbove(report.crashes, report.snapshotCrashes)
        assert.isAbove(report.writesDuringSnapshot, 0)
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
        console.log(
          `PostgreSQL simulation from a snapshot: ${JSON.stringify({ ...report, trace: report.trace.length })}`
        )
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    },
    { timeout: 120_000 }
  )

  it.effect(
    "with backfills of lost tables while the workload runs, crashing during them: the three stay equal",
    () => {
      // Each crash ends a session (57P01 when the simulation terminates it): reconnect warnings, and no other.
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const backend = yield* PostgresBackend.fromDatabase(yield* TestDatabase)
        // The seed and options of the fake's run in simulationBackfill.test.ts, run twice as long: on a real server
        // the timing of crashes against backfills varies, and 100 iterations started as few as 2 backfills.
        const report = yield* Simulation.run({
          seed: 77,
          iterations: 200,
          backend,
          backfill: { rows: 40, chunkSize: 6 },
          workload: { keySpace: 50 }
        })
        const { backfills } = report
        assert.isAtLeast(backfills.started, 2)
        assert.isAtLeast(backfills.completed, backfills.started)
        assert.isAbove(backfills.reads, 50)
        assert.isAbove(backfills.crashes, 0)
        assert.isAbove(backfills.resumed, 0)
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
        console.log(
          `PostgreSQL simulation with backfills: ${JSON.stringify({ ...report, trace: report.trace.length })}`
        )
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    },
    { timeout: 120_000 }
  )

  it.effect(
    "the wrong consumer is caught on the real server too, with the seed",
    () => {
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const backend = yield* PostgresBackend.fromDatabase(yield* TestDatabase)
        const result = yield* Effect.result(
          Simulation.run({ seed: 7, iterations: 300, backend, consumer: commitBeforeApply, dropProbability: 0 })
        )
        assert.isTrue(Result.isFailure(result))
        if (Result.isFailure(result)) {
          assert.match(result.failure.message, /^Simulation failed with seed 7 at iteration \d+/)
          assert.include(result.failure.message, "differs from the model")
        }
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    },
    { timeout: 120_000 }
  )
})
