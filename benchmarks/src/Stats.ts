/**
 * Medians of repeated runs, and the measurements a report needs. Pure functions, tested in test/Stats.test.ts.
 */
import type { Measurement } from "./Runner.ts"

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The median of every field, each taken separately over the runs. */
export interface Summary {
  readonly runs: number
  readonly wallMs: number
  /** user + system. */
  readonly cpuMs: number
  /** The lowest and highest client CPU (user + system) of the runs: how much the runs differed. */
  readonly cpuMinMs: number
  readonly cpuMaxMs: number
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
  /** The whole process (start-up included), and its lowest and highest over the runs. */
  readonly processWallMs: number
  readonly processCpuMs: number
  readonly processCpuMinMs: number
  readonly processCpuMaxMs: number
  readonly importCpuMs: number
  readonly importRssKb: number
  readonly maxRssKb: number
  readonly serverCpuMs: number
  readonly serverSystemMs: number
  readonly bothIdle: number
  readonly changes: number
}

export const summarize = (runs: ReadonlyArray<Measurement>): Summary => ({
  runs: runs.length,
  wallMs: median(runs.map((r) => r.wallMs)),
  cpuMs: median(runs.map((r) => r.cpuUserMs + r.cpuSystemMs)),
  cpuMinMs: Math.min(...runs.map((r) => r.cpuUserMs + r.cpuSystemMs)),
  cpuMaxMs: Math.max(...runs.map((r) => r.cpuUserMs + r.cpuSystemMs)),
  cpuUserMs: median(runs.map((r) => r.cpuUserMs)),
  cpuSystemMs: median(runs.map((r) => r.cpuSystemMs)),
  processWallMs: median(runs.map((r) => r.processWallMs)),
  processCpuMs: median(runs.map((r) => r.processCpuMs)),
  processCpuMinMs: Math.min(...runs.map((r) => r.processCpuMs)),
  processCpuMaxMs: Math.max(...runs.map((r) => r.processCpuMs)),
  importCpuMs: median(runs.map((r) => r.importCpuMs)),
  importRssKb: median(runs.map((r) => r.importRssKb)),
  maxRssKb: median(runs.map((r) => r.maxRssKb)),
  serverCpuMs: median(runs.map((r) => r.serverCpuMs)),
  serverSystemMs: median(runs.map((r) => r.serverSystemMs)),
  bothIdle: median(runs.map((r) => r.bothIdle)),
  changes: median(runs.map((r) => r.changes))
})

/** `a / b`, or NaN when `b` is not positive. */
export const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN)
