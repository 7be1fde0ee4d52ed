import { describe, expect, it } from "vitest"
import type { Measurement } from "../src/Runner.ts"
import {
  clientTable,
  cpuBoundMs,
  factsText,
  perSecond,
  ratioTable,
  type SnapshotClientInfo,
  type SnapshotResult,
  snapshotTargets
} from "../src/snapshot/SnapshotReport.ts"

const clients: ReadonlyArray<SnapshotClientInfo> = [
  { id: "psql", label: "psql", role: "psql" },
  { id: "pg_dump", label: "pg_dump", role: "pg_dump" },
  { id: "raw", label: "raw drain", role: "raw" },
  { id: "one", label: "pgcdc 1", role: "pgcdc" }
]

const run = (wallMs: number, cpuMs: number, maxRssMb: number, rows = 1000): Measurement => ({
  wallMs,
  processWallMs: wallMs + 300,
  cpuUserMs: cpuMs,
  cpuSystemMs: 0,
  processCpuMs: cpuMs + 200,
  importCpuMs: 150,
  importRssKb: 60 * 1024,
  maxRssKb: maxRssMb * 1024,
  serverCpuMs: 900,
  serverSystemMs: 100,
  bothIdle: 0,
  changes: rows,
  commits: -1
})

const facts = {
  rows: 1000,
  totalBytes: 3 * 1048576,
  heapPages: 40,
  copyTextBytes: 2 * 1048576,
  pagesPerChunk: 32,
  chunks: 2
}

const result = (runs: Record<string, ReadonlyArray<Measurement>>): SnapshotResult => ({
  facts,
  clients,
  runs: new Map(Object.entries(runs)),
  failures: new Map()
})

describe("snapshot report", () => {
  it("computes rates per second of wall time", () => {
    expect(perSecond(1000, 500)).toBe(2000)
    expect(perSecond(1000, 0)).toBeNaN()
  })

  it("states the table's sizes and how many chunks (so sessions) pgcdc can use", () => {
    const text = factsText(facts)
    expect(text).toContain("1,000 rows; pg_total_relation_size 3 MB")
    expect(text).toContain("COPY text 2.0 MB (2097 bytes per row)")
    expect(text).toContain("this table is 2 chunks, so at most 2 sessions read it at once")
  })

  it("prints medians of the runs with rows/s and MB/s of the COPY text, and flags a wrong row count", () => {
    const table = clientTable(
      result({
        psql: [run(1000, 100, 10, -1), run(3000, 300, 12, -1), run(2000, 200, 11, -1)],
        one: [run(4000, 1, 100, 999)]
      })
    )
    // psql's median wall is 2 s: 500 rows/s, 1.0 MB/s; pgcdc 1 read 999 of 1000 rows.
    expect(table).toContain("| psql | 2.00 | 500 | 1.0 | 0.20 (0.20+0.00) | 0.90 | 11 | 2.30 | n/a |")
    expect(table).toContain("999 (expected 1,000)")
  })

  it("divides pgcdc's rates by psql's and pg_dump's, and checks the targets", () => {
    const r = result({
      psql: [run(1000, 100, 10, -1)],
      pg_dump: [run(1250, 100, 12, -1)],
      raw: [run(900, 150, 100)],
      one: [run(1300, 1800, 150)]
    })
    const ratios = ratioTable(r)
    // pgcdc 1: 1000 / 1300 = 0.77 of psql's rate, 1250 / 1300 = 0.96 of pg_dump's; CPU-bound, psql waits on its
    // server (900 ms) and pgcdc on itself (1800 ms): 0.50; 18× psql's CPU, 15× its RSS.
    expect(ratios).toContain("| pgcdc 1 | 0.77× | 0.96× | 0.50× | 18.00× | 15.00× |")
    expect(ratios).toContain("| raw drain | 1.11× | 1.39× | 1.00× |")
    const [rate, rss] = snapshotTargets(r)
    expect(rate!.met).toBe(false)
    expect(rate!.text).toContain("ratio 0.77×")
    expect(rss!.met).toBe(true)
    const fast = snapshotTargets(result({ psql: [run(1000, 100, 10, -1)], one: [run(1250, 800, 250)] }))
    expect(fast.map((t) => t.met)).toEqual([true, false])
  })

  it("estimates the CPU-bound wall as the larger of the client's and the server's CPU", () => {
    expect(cpuBoundMs({ cpuMs: 4500, serverCpuMs: 2500 })).toBe(4500)
    expect(cpuBoundMs({ cpuMs: 400, serverCpuMs: 2500 })).toBe(2500)
  })

  it("says what it could not measure", () => {
    expect(snapshotTargets(result({ one: [run(1000, 1, 1)] }))[0]!.met).toBeUndefined()
    expect(snapshotTargets(result({ psql: [run(1000, 1, 1)] }))[0]!.text).toBe("no pgcdc snapshot client ran")
    expect(ratioTable(result({ one: [run(1000, 1, 1)] }))).toBe("")
  })
})
