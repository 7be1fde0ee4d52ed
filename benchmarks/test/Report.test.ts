import { describe, expect, it } from "vitest"
import { clients } from "../src/Clients.ts"
import { parseStatCpu } from "../src/Proc.ts"
import {
  cpuSplitText,
  type DecodeResult,
  lazyTable,
  perRowText,
  startupTable,
  targets,
  type WorkloadResult
} from "../src/Report.ts"
import { type Measurement, parseTimes } from "../src/Runner.ts"
import { median, summarize } from "../src/Stats.ts"

/** A run whose drain took `wallMs` and `cpuMs`; the whole process 100 ms more of each (start-up). */
const run = (wallMs: number, cpuMs: number, serverCpuMs: number, maxRssKb = 100 * 1024): Measurement => ({
  wallMs,
  cpuUserMs: cpuMs,
  cpuSystemMs: 0,
  processWallMs: wallMs + 100,
  processCpuMs: cpuMs + 100,
  importCpuMs: 80,
  importRssKb: 50 * 1024,
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

  it("compares batches with every JS peer, stream with batches, and both with pg_recvlogical's wall, start-up included", () => {
    const texts = targets(
      [
        result("A", {
          recvlogical: [run(1100, 100, 900)],
          pglr: [run(1200, 800, 500)],
          "pglr-noack": [run(1000, 400, 500)],
          postgresjs: [run(1300, 600, 500)],
          "pgcdc-batches": [run(1040, 300, 600)],
          pgcdc: [run(1040, 330, 600)]
        })
      ],
      clients
    )
    // Three peers, stream vs batches, two walls; the lowest peer first.
    expect(texts.map((t) => t.met)).toEqual([true, true, true, true, true, true])
    expect(texts[0]!.text).toContain("no acknowledgements 0.50 s")
    expect(texts[3]!.text).toContain("within 10% of batches 0.40 s")
  })

  it("reports missed targets, RSS against the baseline, and the memory target on C", () => {
    const texts = targets(
      [
        result("A", {
          recvlogical: [run(1000, 100, 900)],
          "pglr-noack": [run(1000, 300, 500)],
          "pgcdc-batches": [run(1100, 500, 600)],
          pgcdc: [run(1100, 700, 600)]
        })
      ],
      clients
    )
    expect(texts.map((t) => t.met)).toEqual([false, false, false, false])
    const base = { ...clients.find((c) => c.id === "pgcdc")!, id: "base-pgcdc", pgcdc: false, baselineOf: "pgcdc" }
    const memory = targets(
      [result("C", { pgcdc: [run(1, 1, 1, 200 * 1024)], "base-pgcdc": [run(1, 1, 1, 190 * 1024)] })],
      [...clients, base]
    )
    expect(memory.map((t) => t.met)).toEqual([false, false])
    expect(memory[0]!.text).toContain("baseline's 190 MB")
    expect(memory[1]!.text).toContain("200 MB")
  })

  it("splits batches' client CPU into the drain and the start-up against each peer, on A and B only", () => {
    const withStartup = (m: Measurement, importCpuMs: number): Measurement => ({ ...m, importCpuMs })
    const text = cpuSplitText(
      [
        result("A", {
          postgresjs: [withStartup(run(1000, 600, 500), 150)],
          "pgcdc-batches": [withStartup(run(1000, 300, 500), 420)]
        }),
        result("C", { postgresjs: [run(1, 1, 1)], "pgcdc-batches": [run(1, 1, 1)] })
      ],
      clients
    )
    expect(text.split("\n").filter((l) => l.startsWith("- "))).toEqual([
      "- A: drain CPU, pgcdc batches 0.30 s against postgres.js subscribe 0.60 s (0.50×); start-up CPU, pgcdc batches 0.42 s against postgres.js subscribe 0.15 s."
    ])
    expect(cpuSplitText([result("A", { postgresjs: [run(1, 1, 1)] })], clients)).toBe("")
  })

  it("sets lazy values against eager for the key-only and the every-column consumer", () => {
    const text = lazyTable(
      [
        result("A", {
          "pgcdc-eager-key": [run(1000, 400, 500)],
          "pgcdc-lazy-key": [run(1000, 200, 500)],
          "pgcdc-eager-all": [run(1000, 400, 500)]
        })
      ],
      clients
    )
    // The every-column pair is incomplete (no lazy run): only the key row.
    expect(text.split("\n").filter((l) => l.startsWith("| A"))).toEqual([
      "| A | the key | 0.50 | 0.30 | 0.60× | 0.40 | 0.20 | 0.50× | 100 | 100 |"
    ])
    expect(lazyTable([result("A", { pgcdc: [run(1, 1, 1)] })], clients)).toBe("")
  })

  it("states A's CPU per row in the drain and in all beside the decoders' cost per row", () => {
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
    const text = perRowText(
      [result("A", { pglr: [run(1200, 800, 500)], pgcdc: [run(1100, 500, 600)] })],
      [decoded("json-floor", 2, 4), decoded("pgcdc", 3, 6), decoded("pgcdc-values", 5, 9)],
      clients
    )
    expect(text).toContain("pg-logical-replication 80000.00 µs")
    expect(text).toContain("pg-logical-replication 90000.00 µs")
    expect(text).toContain("JSON.parse of the jsonb text alone 200.00 µs warm, 400.00 µs in a cold first pass")
    expect(text).toContain("WalDecoder (every value decoded) 500.00 µs warm, 900.00 µs")
    expect(perRowText([result("C", { pgcdc: [run(1, 1, 1)] })], [], clients)).toBe("")
  })

  it("lists every client's start-up cost once, over all workloads", () => {
    const text = startupTable(
      [result("A", { pgcdc: [run(1, 1, 1)] }), result("C", { pgcdc: [run(1, 1, 1)], recvlogical: [] })],
      clients
    )
    expect(text).toContain("| pgcdc Replication stream | 2 | 0.08 | 50 |")
    expect(text).not.toContain("pg_recvlogical")
  })
})
