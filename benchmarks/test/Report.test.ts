import { describe, expect, it } from "vitest"
import { clients } from "../src/Clients.ts"
import { parseStatCpu } from "../src/Proc.ts"
import { budgetText, type DecodeResult, targets, type WorkloadResult } from "../src/Report.ts"
import { type Measurement, parseTimes } from "../src/Runner.ts"
import { median, summarize } from "../src/Stats.ts"

const run = (wallMs: number, cpuMs: number, serverCpuMs: number, maxRssKb = 100 * 1024): Measurement => ({
  wallMs,
  processWallMs: wallMs,
  cpuUserMs: cpuMs,
  cpuSystemMs: 0,
  maxRssKb,
  serverCpuMs,
  serverSystemMs: 0,
  bothIdle: 0,
  changes: 10,
  commits: 1
})

describe("median", () => {
  it("takes the middle of an odd count and the mean of the middle two of an even count", () => {
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 3, 2])).toBe(2.5)
    expect(median([])).toBeNaN()
  })

  it("summarizes every field over the runs separately", () => {
    const s = summarize([run(10, 5, 1), run(30, 1, 3), run(20, 3, 2)])
    expect(s).toMatchObject({ runs: 3, wallMs: 20, cpuMs: 3, cpuMinMs: 1, cpuMaxMs: 5, serverCpuMs: 2 })
  })
})

describe("parseStatCpu", () => {
  it("reads utime and stime after a command name holding spaces and parentheses", () => {
    // Fields 14 and 15 (utime, stime) are 250 and 50 ticks.
    const stat = "4242 (postgres: walsender (x) y) S 1 2 3 0 -1 4194304 10 0 0 0 250 50 0 0 20 0 1 0 100 1000 200"
    const cpu = parseStatCpu(stat)
    expect(cpu).toBeDefined()
    expect(cpu!.userMs + cpu!.systemMs).toBeGreaterThan(0)
    expect(cpu!.userMs / cpu!.systemMs).toBeCloseTo(5)
  })

  it("rejects text that is not a stat line", () => {
    expect(parseStatCpu("no parenthesis here")).toBeUndefined()
  })
})

describe("parseTimes", () => {
  it("reads the children's user and system time of bash's times builtin, minutes included", () => {
    expect(parseTimes("1m2.500s 0m0.040s")).toEqual({ user: 62_500, system: 40 })
    expect(() => parseTimes("garbage here")).toThrow("unexpected 'times' output")
  })
})

describe("targets", () => {
  const result = (workload: "A" | "C", runs: Record<string, ReadonlyArray<Measurement>>): WorkloadResult => ({
    workload,
    title: "t",
    expectedChanges: 10,
    runs: new Map(Object.entries(runs)) as WorkloadResult["runs"],
    failures: new Map()
  })

  it("compares pgcdc with the best JS peer, its walsender and pg_recvlogical", () => {
    const texts = targets(
      [
        result("A", {
          recvlogical: [run(1000, 100, 900)],
          pglr: [run(1200, 800, 500)],
          postgresjs: [run(1300, 600, 500)],
          pgcdc: [run(1040, 290, 600)]
        })
      ],
      clients
    )
    expect(texts.map((t) => t.met)).toEqual([true, true, true])
    expect(texts[0]!.text).toContain("postgres.js")
  })

  it("reports a missed target and the memory target on C", () => {
    const [cpuVsPeer, cpuVsWalsender, wall] = targets(
      [result("A", { recvlogical: [run(1000, 100, 900)], pglr: [run(1200, 800, 500)], pgcdc: [run(1100, 500, 600)] })],
      clients
    )
    expect([cpuVsPeer!.met, cpuVsWalsender!.met, wall!.met]).toEqual([false, false, false])
    const [memory] = targets([result("C", { pgcdc: [run(1, 1, 1, 200 * 1024)] })], clients)
    expect(memory!.met).toBe(false)
    expect(memory!.text).toContain("200 MB")
  })

  it("states A's CPU budget per row beside the drain's and the decoders' cost per row", () => {
    const decoded = (id: string, passMs: number, firstPassMs: number): DecodeResult => ({
      id,
      label: id,
      messages: 12,
      rows: 10,
      bytes: 1000,
      passMs,
      firstPassMs,
      passes: 5,
      rowsSeen: 10
    })
    const text = budgetText(
      [result("A", { pglr: [run(1200, 800, 500)], pgcdc: [run(1100, 500, 600)], "pgcdc-core": [run(1000, 400, 400)] })],
      [decoded("json-floor", 2, 4), decoded("pgcdc", 3, 6), decoded("pgcdc-values", 5, 9)],
      clients
    )
    // ½ × min(best JS peer 800 ms, the pgcdc clients' median walsender 600 ms) = 300 ms for 10 rows: 30 ms per row.
    expect(text).toContain("allow 0.30 s for 10 rows")
    expect(text).toContain(": 30000.00 µs per row")
    expect(text).toContain("pg-logical-replication 80000.00 µs")
    expect(text).toContain("JSON.parse of the jsonb text alone 200.00 µs warm, 400.00 µs in a cold first pass")
    expect(text).toContain("WalDecoder (every value decoded) 500.00 µs warm, 900.00 µs")
    expect(budgetText([result("C", { pgcdc: [run(1, 1, 1)] })], [], clients)).toBe("")
  })
})
