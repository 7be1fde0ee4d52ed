/**
 * Turns the cluster benchmark's measurements into the Markdown that benchCluster.ts prints and BENCHMARKS.md quotes:
 * one row per variant (medians of the runs: drain time and rate once consuming, start-up, wall including start-up,
 * client CPU of all its processes, peak RSS), the cluster ÷ the separate processes, and the target (the
 * cluster drains within 10% of four single-slot processes). Pure.
 */
import { megabytes, seconds, type Target, times, verdict } from "../Format.ts"
import { type Machine, machineText } from "../Machine.ts"
import { median, ratio } from "../Stats.ts"

/** One run of one variant. */
export interface DrainMeasurement {
  /** From starting the processes to the last consumer reaching its gate on the placement the drain ran with. */
  readonly startupMs: number
  /** From opening the gates to every slot's confirmed_flush_lsn at the backlog's end. */
  readonly drainMs: number
  /** The same, per slot (in slot order). */
  readonly slotDrainMs: ReadonlyArray<number>
  /** user + system of all the variant's processes, up to the gate and during the drain. */
  readonly cpuStartupMs: number
  readonly cpuDrainMs: number
  /** The drain's CPU time of the busiest process (a runner with two slots does two slots' work on one thread). */
  readonly busiestCpuDrainMs: number
  /** The drain's CPU time of each slot's walsender (in slot order). */
  readonly walsenderCpuDrainMs: ReadonlyArray<number>
  /** VmHWM summed over the processes, and the largest one's. */
  readonly peakRssKb: number
  readonly maxProcessRssKb: number
  /** Consumers started beyond one per slot before the gate (a slot that moved while the cluster formed). */
  readonly startupMoves: number
  /** Consumers stopped after the gate opened (a move during the drain: should be 0). */
  readonly movesDuringDrain: number
  /** Slots per process, in process order. */
  readonly placement: ReadonlyArray<number>
}

export type VariantId = "separate" | "cluster"

export interface VariantInfo {
  readonly id: VariantId
  readonly label: string
  readonly processes: number
}

export interface ClusterResult {
  /** Transactions of the backlog per slot (each slot also confirms one closing transaction). */
  readonly perSlot: number
  readonly slots: number
  readonly variants: ReadonlyArray<VariantInfo>
  readonly runs: ReadonlyMap<VariantId, ReadonlyArray<DrainMeasurement>>
  readonly failures: ReadonlyMap<VariantId, string>
}

/** The issue's target: the cluster's drain takes at most this many times the separate processes'. */
export const drainTarget = 1.1

export interface DrainSummary {
  readonly runs: number
  readonly startupMs: number
  readonly drainMs: number
  readonly wallMs: number
  readonly slowestSlotMs: number
  readonly fastestSlotMs: number
  readonly cpuStartupMs: number
  readonly cpuDrainMs: number
  readonly busiestCpuDrainMs: number
  readonly busiestWalsenderCpuMs: number
  /** What the drain would take if every process had a core of its own: see `cpuBoundMs`. */
  readonly cpuBoundMs: number
  readonly peakRssKb: number
  readonly maxProcessRssKb: number
  readonly startupMoves: number
  readonly movesDuringDrain: number
  /** Every run's placement, e.g. "2+1+1, 1+2+1". */
  readonly placements: string
}

/**
 * The drain's wall if every client process and every walsender had a core to itself and none waited for another: the
 * largest CPU time among them (a runner holding two slots does both on one thread). On a shared machine the measured
 * walls depend on what else runs; this estimate does not.
 */
export const cpuBoundMs = (r: Pick<DrainMeasurement, "busiestCpuDrainMs" | "walsenderCpuDrainMs">): number =>
  Math.max(r.busiestCpuDrainMs, ...r.walsenderCpuDrainMs)

/** Medians of every field, each taken separately; moves during the drain are summed (any is worth seeing). */
export const summarizeDrain = (runs: ReadonlyArray<DrainMeasurement>): DrainSummary => ({
  runs: runs.length,
  startupMs: median(runs.map((r) => r.startupMs)),
  drainMs: median(runs.map((r) => r.drainMs)),
  wallMs: median(runs.map((r) => r.startupMs + r.drainMs)),
  slowestSlotMs: median(runs.map((r) => Math.max(...r.slotDrainMs))),
  fastestSlotMs: median(runs.map((r) => Math.min(...r.slotDrainMs))),
  cpuStartupMs: median(runs.map((r) => r.cpuStartupMs)),
  cpuDrainMs: median(runs.map((r) => r.cpuDrainMs)),
  busiestCpuDrainMs: median(runs.map((r) => r.busiestCpuDrainMs)),
  busiestWalsenderCpuMs: median(runs.map((r) => Math.max(...r.walsenderCpuDrainMs))),
  cpuBoundMs: median(runs.map(cpuBoundMs)),
  peakRssKb: median(runs.map((r) => r.peakRssKb)),
  maxProcessRssKb: median(runs.map((r) => r.maxProcessRssKb)),
  startupMoves: median(runs.map((r) => r.startupMoves)),
  movesDuringDrain: runs.reduce((sum, r) => sum + r.movesDuringDrain, 0),
  placements: runs.map((r) => r.placement.join("+")).join(", ")
})

/** Transactions per second: every slot's backlog and its closing transaction, over the drain. */
export const drainRate = (result: Pick<ClusterResult, "perSlot" | "slots">, drainMs: number): number =>
  drainMs > 0 ? ((result.perSlot + 1) * result.slots) / (drainMs / 1000) : Number.NaN

const count = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–")

const summaries = (result: ClusterResult) =>
  result.variants.flatMap((variant) => {
    const runs = result.runs.get(variant.id)
    return runs === undefined || runs.length === 0 ? [] : [{ variant, summary: summarizeDrain(runs) }]
  })

export const variantTable = (result: ClusterResult): string => {
  const lines = [
    "| variant | processes | drain (s) | transactions/s once consuming | fastest–slowest slot (s) | start-up (s) | wall including start-up (s) | client CPU, drain (s) | busiest process's CPU, drain (s) | busiest walsender's CPU, drain (s) | drain if CPU-bound (s) | client CPU, start-up (s) | peak RSS, all processes (MB) | largest process (MB) | slots per process | moves at start-up | moves during drain |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
  ]
  for (const { variant, summary: s } of summaries(result)) {
    lines.push(
      `| ${variant.label} | ${variant.processes} | ${seconds(s.drainMs)} | ${count(drainRate(result, s.drainMs))} | ${seconds(s.fastestSlotMs)}–${seconds(s.slowestSlotMs)} | ${seconds(s.startupMs)} | ${seconds(s.wallMs)} | ${seconds(s.cpuDrainMs)} | ${seconds(s.busiestCpuDrainMs)} | ${seconds(s.busiestWalsenderCpuMs)} | ${seconds(s.cpuBoundMs)} | ${seconds(s.cpuStartupMs)} | ${megabytes(s.peakRssKb)} | ${megabytes(s.maxProcessRssKb)} | ${s.placements} | ${s.startupMoves} | ${s.movesDuringDrain} |`
    )
  }
  for (const [id, message] of result.failures) {
    const label = result.variants.find((v) => v.id === id)?.label ?? id
    lines.push(`| ${label} | failed: ${message.split("\n")[0]} |${" |".repeat(15)}`)
  }
  return lines.join("\n")
}

const pair = (result: ClusterResult) => {
  const all = summaries(result)
  return {
    separate: all.find((s) => s.variant.id === "separate")?.summary,
    cluster: all.find((s) => s.variant.id === "cluster")?.summary
  }
}

/** The cluster ÷ the separate processes for each measure (below 1: the cluster is faster or lighter). */
export const ratioLine = (result: ClusterResult): string => {
  const { separate, cluster } = pair(result)
  if (separate === undefined || cluster === undefined) return ""
  const r = (f: (s: DrainSummary) => number) => times(ratio(f(cluster), f(separate)))
  return `Cluster ÷ separate processes: drain ${r((s) => s.drainMs)}, drain if CPU-bound ${r((s) => s.cpuBoundMs)}, wall including start-up ${r((s) => s.wallMs)}, start-up ${r((s) => s.startupMs)}, client CPU during the drain ${r((s) => s.cpuDrainMs)}, peak RSS of all processes ${r((s) => s.peakRssKb)}.`
}

export const clusterTargets = (result: ClusterResult): Array<Target> => {
  const { separate, cluster } = pair(result)
  if (separate === undefined || cluster === undefined) {
    return [{ met: undefined, text: "drain within 10% of four single-slot processes (a variant did not run)" }]
  }
  const r = ratio(cluster.drainMs, separate.drainMs)
  const targets: Array<Target> = [
    {
      met: r <= drainTarget,
      text: `four slots on three runners drain within ${Math.round((drainTarget - 1) * 100)}% of four single-slot processes: ${seconds(cluster.drainMs)} s ÷ ${seconds(separate.drainMs)} s = ${times(r)} ≤ ${times(drainTarget)}`
    }
  ]
  const bound = ratio(cluster.cpuBoundMs, separate.cpuBoundMs)
  targets.push({
    met: bound <= drainTarget,
    text: `the same, CPU-bound estimate (every process on a core of its own): ${seconds(cluster.cpuBoundMs)} s ÷ ${seconds(separate.cpuBoundMs)} s = ${times(bound)} ≤ ${times(drainTarget)}`
  })
  if (cluster.movesDuringDrain > 0) {
    targets.push({ met: false, text: `no slot moved during a drain (${cluster.movesDuringDrain} did)` })
  }
  return targets
}

export const renderCluster = (machine: Machine, result: ClusterResult, header: string, facts: string): string => {
  const parts = [header, "", machineText(machine), facts, "", variantTable(result), ""]
  const ratios = ratioLine(result)
  if (ratios !== "") parts.push(ratios, "")
  parts.push("Targets (reported, not asserted):", "")
  for (const t of clusterTargets(result)) parts.push(`- ${verdict(t.met)} ${t.text}`)
  return parts.join("\n")
}
