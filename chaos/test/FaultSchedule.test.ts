/**
 * The fault schedule is a pure function of the seed: the same seed gives the same schedule, a short run has every
 * kind of fault, and faults never overlap.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FaultSchedule from "../src/FaultSchedule.ts"
import * as Workload from "../src/Workload.ts"

const options = (seed: number, durationMs = 30_000) => ({ seed, durationMs, walSenderTimeoutMs: 2000 })

describe("FaultSchedule", () => {
  it("the same seed gives the same schedule, another seed another one", () => {
    for (const seed of [0, 1, 42, 123_456]) {
      assert.deepStrictEqual(FaultSchedule.make(options(seed)), FaultSchedule.make(options(seed)))
      assert.strictEqual(
        FaultSchedule.format(FaultSchedule.make(options(seed))),
        FaultSchedule.format(FaultSchedule.make(options(seed)))
      )
    }
    assert.notStrictEqual(
      JSON.stringify(FaultSchedule.make(options(1)).faults),
      JSON.stringify(FaultSchedule.make(options(2)).faults)
    )
  })

  it("a 30 s run has each fault kind of the issue at least once, and no freeze", () => {
    for (let seed = 0; seed < 200; seed++) {
      const schedule = FaultSchedule.make(options(seed))
      const kinds = new Set(schedule.faults.map((f) => f.kind))
      for (const kind of FaultSchedule.standardKinds) assert.isTrue(kinds.has(kind), `seed ${seed} lacks ${kind}`)
      assert.isFalse(kinds.has("freeze"))
      assert.isAtMost(schedule.endMs, 36_000, `seed ${seed}: the first round should fit in about 30 s`)
    }
  })

  it("faults never overlap, stalls outlast wal_sender_timeout, and long runs cycle through every kind", () => {
    for (let seed = 0; seed < 50; seed++) {
      const schedule = FaultSchedule.make(options(seed, 300_000))
      schedule.faults.forEach((fault, i) => {
        assert.strictEqual(fault.index, i)
        const next = schedule.faults[i + 1]
        if (next !== undefined) assert.isAbove(next.atMs, fault.atMs + FaultSchedule.allowanceMs(fault))
        if (fault.kind === "stall") assert.isAbove(fault.durationMs, 2000 * 1.5 - 1)
      })
      assert.isAtMost(schedule.endMs, 300_000)
      const counts = FaultSchedule.standardKinds.map((k) => schedule.faults.filter((f) => f.kind === k).length)
      // Every kind once per round: counts differ by at most one.
      assert.isAtMost(Math.max(...counts) - Math.min(...counts), 1)
      assert.isAtLeast(Math.min(...counts), 8)
    }
  })

  it("draws only the kinds asked for", () => {
    const schedule = FaultSchedule.make({ ...options(3, 20_000), kinds: ["kill", "freeze"] })
    assert.deepStrictEqual([...new Set(schedule.faults.map((f) => f.kind))].sort(), ["freeze", "kill"])
  })
})

describe("Workload", () => {
  it("a transaction is a pure function of the seed and its sequence number, and logs that number", () => {
    assert.strictEqual(Workload.transactionSql(5, 17), Workload.transactionSql(5, 17))
    assert.notStrictEqual(Workload.transactionSql(5, 17), Workload.transactionSql(5, 18))
    for (let seq = 1; seq < 100; seq++) {
      const statements = Workload.statements(5, seq)
      assert.strictEqual(statements.filter((s) => s === `INSERT INTO chaos_log (seq) VALUES (${seq})`).length, 1)
    }
  })
})
