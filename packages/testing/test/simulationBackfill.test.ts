/**
 * The simulation with backfills on the fake server: the consumer loses a table at random Commits and backfills it
 * while the workload goes on, crashing during backfills and after (each restart resumes them from the progress
 * table); every lost table must come back equal to the model, with no row lost and none stale. Consumers that drop
 * a backfill's rows, or apply them again a transaction later (behind newer changes), are caught with the seed. Runs under
 * TestClock like simulation.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import type { WalMessage } from "@pgcdc/replication"
import { Effect } from "effect"
import { applyThenCommit, type Consumer } from "../src/simulation/Consumer.ts"
import * as FakeBackend from "../src/simulation/FakeBackend.ts"
import { Simulation, type SimulationOptions } from "../src/simulation/Simulation.ts"

const onFake = (options: Omit<SimulationOptions, "backend">) =>
  Effect.flatMap(Effect.orDie(FakeBackend.make()), (backend) => Simulation.run({ ...options, backend })).pipe(
    Effect.scoped
  )

const options = {
  seed: 77,
  iterations: 100,
  backfill: { rows: 40, chunkSize: 6 },
  workload: { keySpace: 50 }
} as const

describe("Simulation with backfills on the fake server", () => {
  it.effect(
    "lost tables come back through backfills while the workload runs, through crashes and resumes",
    () =>
      Effect.gen(function* () {
        const report = yield* onFake(options)
        const { backfills } = report
        // The run did what it claims: several backfills, rows handed out, crashes during them, resumed runs.
        assert.isAtLeast(backfills.started, 5)
        assert.isAtLeast(backfills.completed, backfills.started)
        assert.isAbove(backfills.reads, 100)
        assert.isAbove(backfills.crashes, 5)
        assert.isAbove(backfills.resumed, 5)
        assert.isTrue(report.trace.some((line) => /^lose the \d+ rows of sim_77_b/.test(line)))
        assert.isAbove(report.committed, 100)
        assert.isAbove(report.crashes, backfills.crashes)
        console.log(`fake simulation with backfills: ${JSON.stringify({ ...report, trace: report.trace.length })}`)
        // Deterministic like any run.
        assert.deepStrictEqual((yield* onFake(options)).trace, report.trace)
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "a consumer that drops a backfill's rows is caught: the lost table never comes back",
    () =>
      Effect.gen(function* () {
        const dropsReads: Consumer = {
          name: "drops backfill rows (wrong)",
          session: (ctx) => {
            const apply = applyThenCommit.session(ctx)
            return (m) => (m._tag === "Read" ? Effect.void : apply(m))
          }
        }
        const failure = yield* Effect.flip(onFake({ ...options, consumer: dropsReads }))
        assert.match(failure.message, /^Simulation failed with seed 77 at iteration \d+/)
        assert.include(failure.message, "differs from the model")
        assert.match(failure.message, /model \{[^}]*\}, replica absent/)
      }),
    { timeout: 60_000 }
  )

  it.effect(
    "a consumer that applies a chunk's rows again one transaction later (behind newer changes) is caught: stale rows",
    () =>
      Effect.gen(function* () {
        // It applies every Read at once, as it should, and once more after the next transaction: no row goes
        // missing, but a row that transaction changed goes back to the backfill's older copy.
        const stale: Consumer = {
          name: "applies backfill rows again a transaction later (wrong)",
          session: (ctx) => {
            const apply = applyThenCommit.session(ctx)
            let held: Array<WalMessage> = []
            let due: Array<WalMessage> = []
            return (m) =>
              Effect.gen(function* () {
                yield* apply(m)
                if (m._tag === "Read") held.push(m)
                if (m._tag !== "Commit") return
                for (const read of due) yield* apply(read)
                due = held
                held = []
              })
          }
        }
        const failure = yield* Effect.flip(onFake({ ...options, consumer: stale }))
        assert.include(failure.message, "differs from the model")
        // Rows the replica holds with other values, or that the model no longer has: never a missing one.
        assert.match(failure.message, /replica \{/)
        assert.notInclude(failure.message, "replica absent")
      }),
    { timeout: 60_000 }
  )
})
