import { describe, expect, it } from "vitest"
import {
  type ClusterResult,
  clusterTargets,
  cpuBoundMs,
  type DrainMeasurement,
  drainRate,
  ratioLine,
  summarizeDrain,
  type VariantInfo,
  variantTable
} from "../src/cluster/ClusterReport.ts"
import { lsnValue } from "../src/cluster/DrainRun.ts"

const variants: ReadonlyArray<VariantInfo> = [
  { id: "separate", label: "separate", processes: 4 },
  { id: "cluster", label: "cluster", processes: 3 }
]

const run = (drainMs: number, overrides: Partial<DrainMeasurement> = {}): DrainMeasurement => ({
  startupMs: 2000,
  drainMs,
  slotDrainMs: [drainMs - 300, drainMs, drainMs - 100, drainMs - 200],
  cpuStartupMs: 3000,
  cpuDrainMs: 1000,
  busiestCpuDrainMs: 400,
  walsenderCpuDrainMs: [900, 950, 800, 700],
  peakRssKb: 400 * 1024,
  maxProcessRssKb: 120 * 1024,
  startupMoves: 0,
  movesDuringDrain: 0,
  placement: [1, 1, 1, 1],
  ...overrides
})

const result = (
  separate: ReadonlyArray<DrainMeasurement>,
  cluster: ReadonlyArray<DrainMeasurement>
): ClusterResult => ({
  perSlot: 999,
  slots: 4,
  variants,
  runs: new Map([
    ["separate", separate],
    ["cluster", cluster]
  ]),
  failures: new Map()
})

describe("ClusterReport", () => {
  it("takes the median of every field separately and keeps every run's placement", () => {
    const s = summarizeDrain([
      run(5000, { startupMs: 9000, placement: [2, 1, 1] }),
      run(4000, { startupMs: 1000, placement: [1, 2, 1] }),
      run(6000, { startupMs: 3000, placement: [1, 1, 2], movesDuringDrain: 1 })
    ])
    expect(s.drainMs).toBe(5000)
    expect(s.startupMs).toBe(3000)
    // The wall of each run is its start-up plus its drain (11000, 5000, 9000): the median of those, not of the parts.
    expect(s.wallMs).toBe(9000)
    expect(s.slowestSlotMs).toBe(5000)
    expect(s.fastestSlotMs).toBe(4700)
    expect(s.placements).toBe("2+1+1, 1+2+1, 1+1+2")
    expect(s.movesDuringDrain).toBe(1)
  })

  it("counts every slot's backlog and its closing transaction in the rate", () => {
    expect(drainRate({ perSlot: 999, slots: 4 }, 2000)).toBe(2000)
    expect(drainRate({ perSlot: 999, slots: 4 }, 0)).toBeNaN()
  })

  it("meets the target when the cluster's drain is at most 1.10 times the separate processes'", () => {
    const met = clusterTargets(result([run(10_000)], [run(10_900)]))
    expect(met[0]!.met).toBe(true)
    expect(met[0]!.text).toContain("1.09×")
    const missed = clusterTargets(result([run(10_000)], [run(11_200)]))
    expect(missed[0]!.met).toBe(false)
  })

  it("bounds a CPU-bound drain by its busiest process or walsender, and judges the estimate separately", () => {
    expect(cpuBoundMs({ busiestCpuDrainMs: 400, walsenderCpuDrainMs: [900, 950, 800, 700] })).toBe(950)
    expect(cpuBoundMs({ busiestCpuDrainMs: 2100, walsenderCpuDrainMs: [900, 950, 800, 700] })).toBe(2100)
    // Measured walls equal, but the cluster's one runner does four slots' work on one thread: 2.1 s against 0.95 s.
    const targets = clusterTargets(result([run(10_000)], [run(10_000, { busiestCpuDrainMs: 2100 })]))
    expect(targets.map((t) => t.met)).toEqual([true, false])
    expect(targets[1]!.text).toContain("2.21×")
  })

  it("flags a move during a drain, and says nothing is measured without both variants", () => {
    const moved = clusterTargets(result([run(10_000)], [run(10_000, { movesDuringDrain: 2 })]))
    expect(moved.map((t) => t.met)).toEqual([true, true, false])
    expect(clusterTargets(result([run(10_000)], []))[0]!.met).toBeUndefined()
    expect(ratioLine(result([run(10_000)], []))).toBe("")
  })

  it("prints one row per variant that ran and one per failure", () => {
    const r: ClusterResult = { ...result([run(2000)], []), failures: new Map([["cluster", "timed out\nstack"]]) }
    const table = variantTable(r).split("\n")
    expect(table).toHaveLength(4)
    expect(table[2]).toMatch(
      /^\| separate \| 4 \| 2\.00 \| 2,000 \| 1\.70–2\.00 \| 2\.00 \| 4\.00 \| 1\.00 \| 0\.40 \| 0\.95 \| 0\.95 \| 3\.00 \| 400 \| 120 \| 1\+1\+1\+1 \| 0 \| 0 \|$/
    )
    expect(table[3]).toBe("| cluster | failed: timed out | | | | | | | | | | | | | | | |")
  })

  it("reads an LSN as a number", () => {
    expect(lsnValue("0/1DBAF60")).toBe(0x1dbaf60)
    expect(lsnValue("16/B374D848")).toBe(0x16 * 2 ** 32 + 0xb374d848)
    expect(lsnValue("1/0")).toBeGreaterThan(lsnValue("0/FFFFFFFF"))
  })
})
