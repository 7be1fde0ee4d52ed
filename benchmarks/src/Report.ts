/**
 * Turns measurements into the Markdown that bench.ts prints and BENCHMARKS.md quotes: one table per workload
 * (medians, and the range of client CPU over the runs), pgcdc's ratios to each peer, the decode micro-benchmark, and
 * whether each target of the issue is met.
 *
 * Targets are reported, never asserted: the run's exit status does not depend on them.
 */
import type { ClientId, ClientSpec } from "./Clients.ts"
import { megabytes as mb, percent as pct, seconds as s, type Target, verdict, times as x } from "./Format.ts"
import { type Machine, machineText } from "./Machine.ts"
import type { Measurement } from "./Runner.ts"
import { ratio, type Summary, summarize } from "./Stats.ts"
import type { WorkloadName } from "./Workloads.ts"

export interface WorkloadResult {
  readonly workload: WorkloadName
  readonly title: string
  readonly expectedChanges: number
  readonly runs: ReadonlyMap<ClientId, ReadonlyArray<Measurement>>
  readonly failures: ReadonlyMap<ClientId, string>
}

export interface DecodeResult {
  /** The decoder's id (decode/Decoders.ts). */
  readonly id: string
  readonly label: string
  readonly messages: number
  readonly rows: number
  readonly bytes: number
  /** Median time of one pass over the captured messages. */
  readonly passMs: number
  /** The first pass of the process, cold (the timed passes follow two warm-up passes). */
  readonly firstPassMs: number
  readonly passes: number
  /** Rows seen by the decoder in one pass (a check that it decoded everything). */
  readonly rowsSeen: number
}

const summaries = (result: WorkloadResult, specs: ReadonlyArray<ClientSpec>) =>
  specs.flatMap((spec) => {
    const runs = result.runs.get(spec.id)
    return runs === undefined || runs.length === 0 ? [] : [{ spec, summary: summarize(runs) }]
  })

export const workloadTable = (result: WorkloadResult, specs: ReadonlyArray<ClientSpec>): string => {
  const lines = [
    `### Workload ${result.workload}: ${result.title}`,
    "",
    "| client | wall (s) | client CPU (s) user+sys | client CPU, runs' range (s) | walsender CPU (s) user+sys | client CPU ÷ walsender CPU | both idle | peak RSS (MB) | changes seen |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  ]
  for (const { spec, summary } of summaries(result, specs)) {
    const changes =
      summary.changes < 0
        ? "n/a"
        : `${summary.changes.toLocaleString("en-US")}${summary.changes === result.expectedChanges ? "" : ` (expected ${result.expectedChanges.toLocaleString("en-US")})`}`
    lines.push(
      `| ${spec.label} | ${s(summary.wallMs)} | ${s(summary.cpuMs)} (${s(summary.cpuUserMs)}+${s(summary.cpuSystemMs)}) | ${summary.runs > 1 ? `${s(summary.cpuMinMs)}–${s(summary.cpuMaxMs)}` : "–"} | ${s(summary.serverCpuMs)} (${s(summary.serverCpuMs - summary.serverSystemMs)}+${s(summary.serverSystemMs)}) | ${x(ratio(summary.cpuMs, summary.serverCpuMs))} | ${pct(summary.bothIdle)} | ${mb(summary.maxRssKb)} | ${changes} |`
    )
  }
  for (const [id, message] of result.failures) {
    lines.push(`| ${specs.find((c) => c.id === id)?.label ?? id} | failed: ${message.split("\n")[0]} | | | | | | | |`)
  }
  const all = summaries(result, specs)
  const pgcdc = all.filter((c) => c.spec.pgcdc)
  const peers = all.filter((c) => !c.spec.pgcdc && c.spec.baselineOf === undefined)
  const baselines = all.filter((c) => c.spec.baselineOf !== undefined)
  if (baselines.length > 0) {
    lines.push("", "this checkout ÷ the baseline checkout (below 1: this one is lighter or faster):", "")
    lines.push("| pgcdc client | wall | client CPU | peak RSS |", "|---|---:|---:|---:|")
    for (const b of baselines) {
      const now = all.find((c) => c.spec.id === b.spec.baselineOf)
      if (now === undefined) continue
      lines.push(
        `| ${now.spec.label} | ${x(ratio(now.summary.wallMs, b.summary.wallMs))} | ${x(ratio(now.summary.cpuMs, b.summary.cpuMs))} | ${x(ratio(now.summary.maxRssKb, b.summary.maxRssKb))} |`
      )
    }
  }
  if (pgcdc.length > 0 && peers.length > 0) {
    lines.push("", "pgcdc ÷ peer (below 1 is better for pgcdc):", "")
    lines.push("| pgcdc client | peer | wall | client CPU | peak RSS |", "|---|---|---:|---:|---:|")
    for (const p of pgcdc) {
      for (const q of peers) {
        lines.push(
          `| ${p.spec.label} | ${q.spec.label} | ${x(ratio(p.summary.wallMs, q.summary.wallMs))} | ${x(ratio(p.summary.cpuMs, q.summary.cpuMs))} | ${x(ratio(p.summary.maxRssKb, q.summary.maxRssKb))} |`
        )
      }
    }
  }
  return lines.join("\n")
}

/** The issue's targets, evaluated for every pgcdc client that ran. */
export const targets = (results: ReadonlyArray<WorkloadResult>, specs: ReadonlyArray<ClientSpec>): Array<Target> => {
  const out: Array<Target> = []
  for (const result of results) {
    const all = summaries(result, specs)
    const pgcdc = all.filter((c) => c.spec.pgcdc)
    if (pgcdc.length === 0) {
      out.push({ met: undefined, text: `${result.workload}: no pgcdc client ran` })
      continue
    }
    for (const { spec, summary } of pgcdc) {
      if (result.workload === "A" || result.workload === "B") {
        const js = all.filter((c) => c.spec.jsPeer).sort((a, b) => a.summary.cpuMs - b.summary.cpuMs)[0]
        out.push(
          js === undefined
            ? { met: undefined, text: `${result.workload}: ${spec.label} client CPU vs best JS peer (no JS peer ran)` }
            : {
                met: summary.cpuMs <= js.summary.cpuMs / 2,
                text: `${result.workload}: ${spec.label} client CPU ${s(summary.cpuMs)} s ≤ ½ × best JS peer (${js.spec.label} ${s(js.summary.cpuMs)} s → ${s(js.summary.cpuMs / 2)} s)`
              }
        )
        out.push({
          met: summary.cpuMs <= summary.serverCpuMs / 2,
          text: `${result.workload}: ${spec.label} client CPU ${s(summary.cpuMs)} s ≤ ½ × its walsender's CPU (${s(summary.serverCpuMs)} s → ${s(summary.serverCpuMs / 2)} s)`
        })
        const floor = all.find((c) => c.spec.id === "recvlogical")
        out.push(
          floor === undefined
            ? { met: undefined, text: `${result.workload}: ${spec.label} wall time vs pg_recvlogical (not run)` }
            : {
                met: summary.wallMs <= floor.summary.wallMs * 1.05,
                text: `${result.workload}: ${spec.label} wall ${s(summary.wallMs)} s within 5% of pg_recvlogical (${s(floor.summary.wallMs)} s → ≤ ${s(floor.summary.wallMs * 1.05)} s; ratio ${x(ratio(summary.wallMs, floor.summary.wallMs))})`
              }
        )
      } else {
        out.push({
          met: summary.maxRssKb < 150 * 1024,
          text: `${result.workload}: ${spec.label} peak RSS ${mb(summary.maxRssKb)} MB < 150 MB`
        })
      }
    }
  }
  return out
}

export const decodeTable = (rows: ReadonlyArray<DecodeResult>): string => {
  if (rows.length === 0) return ""
  const first = rows[0]!
  const lines = [
    `### Decode micro-benchmark: ${first.messages.toLocaleString("en-US")} captured pgoutput messages (${first.rows.toLocaleString("en-US")} rows, ${(first.bytes / 1048576).toFixed(1)} MB), decoded in-process`,
    "",
    "| decoder | ms per pass (median) | ns per row | MB/s | first pass, cold (ms) | rows decoded per pass |",
    "|---|---:|---:|---:|---:|---:|"
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${r.passMs.toFixed(1)} | ${((r.passMs * 1e6) / r.rows).toFixed(0)} | ${(r.bytes / 1048576 / (r.passMs / 1000)).toFixed(0)} | ${r.firstPassMs.toFixed(0)} | ${r.rowsSeen.toLocaleString("en-US")} |`
    )
  }
  return lines.join("\n")
}

/**
 * Workload A's CPU budget per row under the targets, what each client spent per row in the drain, and what the
 * decode micro-benchmark measured in process for the parts every value-decoding client pays: where the CPU targets
 * stand against what the engine itself costs.
 */
export const budgetText = (
  results: ReadonlyArray<WorkloadResult>,
  decode: ReadonlyArray<DecodeResult>,
  specs: ReadonlyArray<ClientSpec>
): string => {
  const a = results.find((r) => r.workload === "A")
  if (a === undefined) return ""
  const all = summaries(a, specs)
  const js = all.filter((c) => c.spec.jsPeer).sort((p, q) => p.summary.cpuMs - q.summary.cpuMs)[0]
  const pgcdc = all.filter((c) => c.spec.pgcdc)
  if (js === undefined || pgcdc.length === 0) return ""
  const rows = a.expectedChanges
  const us = (ms: number) => ((ms * 1000) / rows).toFixed(2)
  const walsenders = pgcdc.map((c) => c.summary.serverCpuMs).sort((p, q) => p - q)
  const walsender = walsenders[Math.floor(walsenders.length / 2)]!
  const budget = Math.min(js.summary.cpuMs, walsender) / 2
  const lines = [
    "### Workload A: the CPU budget per row",
    "",
    `- The CPU targets allow ${s(budget)} s for ${rows.toLocaleString("en-US")} rows (½ × the lower of the best JS peer, ${s(js.summary.cpuMs)} s, and the pgcdc clients' median walsender, ${s(walsender)} s): ${us(budget)} µs per row for everything (socket, framing, pgoutput, five values, delivery).`,
    `- Spent per row in the drain (client CPU ÷ rows): ${all.map((c) => `${c.spec.label} ${us(c.summary.cpuMs)} µs`).join(", ")}.`
  ]
  const byId = (id: string) => decode.find((d) => d.id === id)
  const parts = [
    ["JSON.parse of the jsonb text alone", byId("json-floor")],
    ["@pgcdc/protocol (XLogData, pgoutput, TupleData strings)", byId("pgcdc")],
    ["WalDecoder (every value decoded)", byId("pgcdc-values")]
  ] as const
  const measured = parts.flatMap(([what, d]) =>
    d === undefined
      ? []
      : [
          `${what} ${((d.passMs * 1000) / d.rows).toFixed(2)} µs warm, ${((d.firstPassMs * 1000) / d.rows).toFixed(2)} µs in a cold first pass`
        ]
  )
  if (measured.length > 0) {
    lines.push(`- In process, without a socket (decode micro-benchmark, per row): ${measured.join("; ")}.`)
  }
  return lines.join("\n")
}

export const render = (
  machine: Machine,
  results: ReadonlyArray<WorkloadResult>,
  decode: ReadonlyArray<DecodeResult>,
  specs: ReadonlyArray<ClientSpec>,
  header: string
): string => {
  const parts = [header, "", machineText(machine), ""]
  for (const r of results) parts.push(workloadTable(r, specs), "")
  if (decode.length > 0) parts.push(decodeTable(decode), "")
  const budget = budgetText(results, decode, specs)
  if (budget !== "") parts.push(budget, "")
  parts.push("### Targets (reported, not asserted)", "")
  for (const t of targets(results, specs)) parts.push(`- ${verdict(t.met)} ${t.text}`)
  return parts.join("\n")
}

export type { Summary, Target }
