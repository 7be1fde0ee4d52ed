/**
 * The deterministic simulation (src/simulation) on the fake server: thousands of iterations with random crashes and
 * dropped connections end with model == replica; a deliberately wrong consumer (commits before it applies, crashes
 * in between) is caught with the seed in the message; the same seed gives the same trace. Runs under TestClock: the
 * fake and the in-memory connection need no time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { applyThenCommit, type Consumer, commitBeforeApply } from "../src/simulation/Consumer.ts"
import * as FakeBackend from "../src/simulation/FakeBackend.ts"
import { Random } from "../src/simulation/Random.ts"
import { Simulation, type SimulationOptions } from "../src/simulation/Simulation.ts"

const onFake = (options: Omit<SimulationOptions, "backend">) =>
  Effect.flatMap(Effect.orDie(FakeBackend.make()), (backend) => Simulation.run({ ...options, backend })).pipe(
    Effect.scoped
  )

describe("Random", () => {
  it("is determined by its seed, and forks are independent of draws", () => {
    const a = new Random(42)
    const b = new Random(42)
    const draws = Array.from({ length: 5 }, () => a.uint32())
    assert.deepStrictEqual(
      Array.from({ length: 5 }, () => b.uint32()),
      draws
    )
    assert.notDeepEqual(
      Array.from({ length: 5 }, () => new Random(43).uint32()),
      draws
    )
    assert.deepStrictEqual(new Random(42).fork("x").uint32(), a.fork("x").uint32())
    const c = new Random(7)
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 4000; i++) counts[c.int(4)]!++
    // Roughly uniform: every bucket within 15% of 1000.
    assert.isTrue(
      counts.every((n) => n > 850 && n < 1150),
      String(counts)
    )
  })
})

describe("Simulation on the fake server", () => {
  it.effect(
    "thousands of iterations with crashes and drops: model and replica stay equal",
    () =>
      Effect.gen(function* () {
        const started = performance.now()
        const report = yield* onFake({ seed: 20261121, iterations: 2000, crashProbability: 0.01 })
        const seconds = (performance.now() - started) / 1000
        assert.strictEqual(report.iterations, 2000)
        // The run did what it claims: real work, crashes, drops and replays.
        assert.isAbove(report.committed, 3000)
        assert.isAbove(report.rolledBack, 500)
        assert.isAbove(report.crashes, 100)
        assert.isAbove(report.drops, 20)
        assert.isAbove(report.replayedTransactions, 20)
        assert.isAbove(report.sessions, report.restarts)
        // Figures for the report (not asserted: speed is for benchmarks).
        console.log(
          `fake simulation: ${(report.iterations / seconds).toFixed(0)} iterations/s, ${(report.messages / seconds).toFixed(0)} messages/s`,
          JSON.stringify({ ...report, trace: report.trace.length })
        )
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "with streamed transactions, some rolled back: held until StreamCommit, dropped on StreamAbort",
    () =>
      Effect.gen(function* () {
        const report = yield* onFake({
          seed: 31,
          iterations: 500,
          workload: { streamedProbability: 0.1, streamedRows: 20 }
        })
        const streamed = report.trace.filter((line) => line.includes(" streamed "))
        assert.isAbove(streamed.filter((line) => line.includes(": commit streamed")).length, 50)
        assert.isAbove(streamed.filter((line) => line.includes(": rollback streamed")).length, 10)
        assert.isAbove(report.crashes, 50)
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "from an initial snapshot of tables that hold rows, crashing during the snapshot and after: model, table and replica stay equal",
    () =>
      Effect.gen(function* () {
        const options = {
          seed: 1206,
          iterations: 300,
          snapshot: { rows: 40, crashProbability: 0.02 },
          workload: { keySpace: 50 }
        } as const
        const report = yield* onFake(options)
        // A crash before SnapshotComplete was committed left no slot: the next start took the snapshot again.
        assert.isAbove(report.snapshotCrashes, 0)
        // (A crash after SnapshotComplete is committed but before the slot exists takes it again too.)
        assert.isAtLeast(report.snapshots, report.snapshotCrashes + 1)
        assert.isTrue(report.trace.some((line) => line.startsWith("start with a snapshot")))
        // Crashes after it streamed from the slot the snapshot created.
        assert.isAbove(report.crashes, report.snapshotCrashes + 10)
        assert.isAbove(report.writesDuringSnapshot, 0)
        assert.isAbove(report.committed, 300)
        // Deterministic like any run.
        assert.deepStrictEqual((yield* onFake(options)).trace, report.trace)
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "a consumer that keeps what an abandoned snapshot applied (it does not empty the table at SnapshotBegin) is caught",
    () =>
      Effect.gen(function* () {
        // A row the first, unconfirmed attempt read, deleted before the next attempt's consistent point: neither the
        // new snapshot nor the stream after it mentions it again.
        const keepsStaleRows: Consumer = {
          name: "keeps the rows of an abandoned snapshot (wrong)",
          session: (ctx) => {
            const apply = applyThenCommit.session(ctx)
            return (m) => (m._tag === "SnapshotBegin" ? Effect.void : apply(m))
          }
        }
        const options = {
          seed: 1,
          iterations: 50,
          snapshot: { rows: 40, crashProbability: 0.02, writeProbability: 0.1 },
          workload: { keySpace: 50 }
        } as const
        // The same run passes with the consumer that empties the table at SnapshotBegin.
        assert.isAbove((yield* onFake(options)).snapshotCrashes, 0)
        const result = yield* Effect.result(onFake({ ...options, consumer: keepsStaleRows }))
        assert.isTrue(Result.isFailure(result))
        if (!Result.isFailure(result)) return
        assert.include(result.failure.message, "differs from the model")
        assert.isTrue(result.failure.trace.some((line) => line.startsWith("start with a snapshot")))
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "several seeds pass, seed 2 included (it caught consumers that re-apply committed transactions)",
    () => Effect.forEach([1, 2, 3, 4, 5], (seed) => onFake({ seed, iterations: 200 }), { discard: true }),
    { timeout: 60_000 }
  )

  it.effect(
    "a consumer that commits before it applies is caught, and the message names the seed",
    () =>
      Effect.gen(function* () {
        const result = yield* Effect.result(onFake({ seed: 7, iterations: 2000, consumer: commitBeforeApply }))
        assert.isTrue(Result.isFailure(result))
        if (!Result.isFailure(result)) return
        const failure = result.failure
        assert.strictEqual(failure.seed, 7)
        assert.match(failure.message, /^Simulation failed with seed 7 at iteration \d+/)
        assert.include(failure.message, "differs from the model")
        // The lost transaction was confirmed and never applied: the crash between commit and apply happened.
        assert.isTrue(failure.trace.some((line) => line.startsWith("crash after commit, before apply")))
        assert.isBelow(failure.iteration, 2000)
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "the same seed reproduces the same run: the same trace, the same failure",
    () =>
      Effect.gen(function* () {
        const first = yield* onFake({ seed: 99, iterations: 300 })
        const second = yield* onFake({ seed: 99, iterations: 300 })
        assert.deepStrictEqual(second.trace, first.trace)
        assert.deepStrictEqual({ ...second, trace: [] }, { ...first, trace: [] })
        const other = yield* onFake({ seed: 100, iterations: 300 })
        assert.notDeepEqual(other.trace, first.trace)

        const wrong = (seed: number) => Effect.flip(onFake({ seed, iterations: 2000, consumer: commitBeforeApply }))
        const a = yield* wrong(7)
        const b = yield* wrong(7)
        assert.strictEqual(b.message, a.message)
        assert.deepStrictEqual(b.trace, a.trace)
      }),
    { timeout: 60_000 }
  )
})
