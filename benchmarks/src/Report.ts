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

const range = (summary: Summary, whole: boolean) =>
  summary.runs > 1
    ? whole
      ? `${s(summary.processCpuMinMs)}–${s(summary.processCpuMaxMs)}`
      : `${s(summary.cpuMinMs)}–${s(summary.cpuMaxMs)}`
    : "–"

export const workloadTable = (result: WorkloadResult, specs: ReadonlyArray<ClientSpec>): string => {
  const all = summaries(result, specs)
  const floor = all.find((c) => c.spec.id === "recvlogical")
  const lines = [
    `### Workload ${result.workload}: ${result.title}`,
    "",
    "Wall and client CPU are the whole client process up to the end marker (Node's start-up, imports and connecting included; for pg_recvlogical its whole life); the drain columns start at START_REPLICATION.",
    "",
    "| client | wall (s) | wall ÷ pg_recvlogical | client CPU (s) | client CPU, runs' range (s) | drain wall (s) | drain CPU (s) user+sys | walsender CPU (s) user+sys | both idle | peak RSS (MB) | changes seen |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  ]
  for (const { spec, summary } of all) {
    const changes =
      summary.changes < 0
        ? "n/a"
        : `${summary.changes.toLocaleString("en-US")}${summary.changes === result.expectedChanges ? "" : ` (expected ${result.expectedChanges.toLocaleString("en-US")})`}`
    const vsFloor = floor === undefined ? Number.NaN : ratio(summary.processWallMs, floor.summary.processWallMs)
    lines.push(
      `| ${spec.label} | ${s(summary.processWallMs)} | ${x(vsFloor)} | ${s(summary.processCpuMs)} | ${range(summary, true)} | ${s(summary.wallMs)} | ${s(summary.cpuMs)} (${s(summary.cpuUserMs)}+${s(summary.cpuSystemMs)}) | ${s(summary.serverCpuMs)} (${s(summary.serverCpuMs - summary.serverSystemMs)}+${s(summary.serverSystemMs)}) | ${pct(summary.bothIdle)} | ${mb(summary.maxRssKb)} | ${changes} |`
    )
  }
  for (const [id, message] of result.failures) {
    lines.push(
      `| ${specs.find((c) => c.id === id)?.label ?? id} | failed: ${message.split("\n")[0]} | | | | | | | | | |`
    )
  }
  const pgcdc = all.filter((c) => c.spec.pgcdc)
  const peers = all.filter((c) => !c.spec.pgcdc && c.spec.baselineOf === undefined)
  const baselines = all.filter((c) => c.spec.baselineOf !== undefined)
  if (baselines.length > 0) {
    lines.push("", "this checkout ÷ the baseline checkout (below 1: this one is lighter or faster):", "")
    lines.push(
      "| pgcdc client | wall | client CPU | drain CPU | start-up CPU | RSS after start-up | peak RSS |",
      "|---|---:|---:|---:|---:|---:|---:|"
    )
    for (const b of baselines) {
      const now = all.find((c) => c.spec.id === b.spec.baselineOf)
      if (now === undefined) continue
      const r = (f: (m: Summary) => number) => x(ratio(f(now.summary), f(b.summary)))
      lines.push(
        `| ${now.spec.label} | ${r((m) => m.processWallMs)} | ${r((m) => m.processCpuMs)} | ${r((m) => m.cpuMs)} | ${r((m) => m.importCpuMs)} | ${r((m) => m.importRssKb)} | ${r((m) => m.maxRssKb)} |`
      )
    }
  }
  if (pgcdc.length > 0 && peers.length > 0) {
    lines.push("", "pgcdc ÷ peer (below 1 is better for pgcdc):", "")
    lines.push("| pgcdc client | peer | wall | client CPU | peak RSS |", "|---|---|---:|---:|---:|")
    for (const p of pgcdc) {
      for (const q of peers) {
        lines.push(
          `| ${p.spec.label} | ${q.spec.label} | ${x(ratio(p.summary.processWallMs, q.summary.processWallMs))} | ${x(ratio(p.summary.processCpuMs, q.summary.processCpuMs))} | ${x(ratio(p.summary.maxRssKb, q.summary.maxRssKb))} |`
        )
      }
    }
  }
  return lines.join("\n")
}

/**
 * What each Node client costs before it reads anything: CPU time and resident memory when its first line runs (Node's
 * own start-up and every import), the median over every run of every workload.
 */
export const startupTable = (results: ReadonlyArray<WorkloadResult>, specs: ReadonlyArray<ClientSpec>): string => {
  const rows = specs.flatMap((spec) => {
    const runs = results.flatMap((r) => r.runs.get(spec.id) ?? [])
    if (runs.length === 0 || !runs.some((m) => Number.isFinite(m.importCpuMs))) return []
    const summary = summarize(runs)
    return [`| ${spec.label} | ${runs.length} | ${s(summary.importCpuMs)} | ${mb(summary.importRssKb)} |`]
  })
  if (rows.length === 0) return ""
  return [
    "### Start-up: Node, then every import of the client",
    "",
    "| client | runs | CPU when the first line runs (s) | resident memory then (MB) |",
    "|---|---:|---:|---:|",
    ...rows
  ].join("\n")
}

/**
 * The issue's targets: on A and B, `batches` at or below every JavaScript peer's client CPU, `stream` within 10% of
 * `batches`, and both within 1.05 × pg_recvlogical's wall time; on every workload no peak RSS above the baseline
 * checkout's (when one ran); on C a peak RSS under 150 MB.
 */
export const targets = (results: ReadonlyArray<WorkloadResult>, specs: ReadonlyArray<ClientSpec>): Array<Target> => {
  const out: Array<Target> = []
  for (const result of results) {
    const all = summaries(result, specs)
    const find = (id: string) => all.find((c) => c.spec.id === id)
    const w = result.workload
    const batches = find("pgcdc-batches")
    const stream = find("pgcdc")
    if (w === "A" || w === "B") {
      const peers = all.filter((c) => c.spec.jsPeer).sort((a, b) => a.summary.processCpuMs - b.summary.processCpuMs)
      if (batches !== undefined) {
        for (const peer of peers) {
          out.push({
            met: batches.summary.processCpuMs <= peer.summary.processCpuMs,
            text: `${w}: pgcdc batches client CPU ${s(batches.summary.processCpuMs)} s ≤ ${peer.spec.label} ${s(peer.summary.processCpuMs)} s (ratio ${x(ratio(batches.summary.processCpuMs, peer.summary.processCpuMs))})`
          })
        }
      }
      if (batches !== undefined && stream !== undefined) {
        out.push({
          met: stream.summary.processCpuMs <= 1.1 * batches.summary.processCpuMs,
          text: `${w}: pgcdc stream client CPU ${s(stream.summary.processCpuMs)} s within 10% of batches ${s(batches.summary.processCpuMs)} s (ratio ${x(ratio(stream.summary.processCpuMs, batches.summary.processCpuMs))})`
        })
      }
      const floor = find("recvlogical")
      for (const c of [stream, batches]) {
        if (c === undefined) continue
        out.push(
          floor === undefined
            ? { met: undefined, text: `${w}: ${c.spec.label} wall time vs pg_recvlogical (not run)` }
            : {
                met: c.summary.processWallMs <= floor.summary.processWallMs * 1.05,
                text: `${w}: ${c.spec.label} wall ${s(c.summary.processWallMs)} s within 1.05 × pg_recvlogical ${s(floor.summary.processWallMs)} s (ratio ${x(ratio(c.summary.processWallMs, floor.summary.processWallMs))})`
              }
        )
      }
    }
    for (const b of all.filter((c) => c.spec.baselineOf !== undefined)) {
      const now = find(b.spec.baselineOf!)
      if (now === undefined) continue
      out.push({
        met: now.summary.maxRssKb <= b.summary.maxRssKb,
        text: `${w}: ${now.spec.label} peak RSS ${mb(now.summary.maxRssKb)} MB, no more than the baseline's ${mb(b.summary.maxRssKb)} MB`
      })
    }
    if (w === "C") {
      for (const c of all.filter((c) => c.spec.pgcdc)) {
        out.push({
          met: c.summary.maxRssKb < 150 * 1024,
          text: `C: ${c.spec.label} peak RSS ${mb(c.summary.maxRssKb)} MB < 150 MB`
        })
      }
    }
  }
  return out
}

/**
 * Where the client CPU of the targets goes, for A and B: pgcdc `batches`' drain CPU (from START_REPLICATION) against
 * each JavaScript peer's, and its start-up CPU (Node and every import) against theirs. Not a target: it says whether a
 * missed client-CPU target is lost in the drain or before the first line runs.
 */
export const cpuSplitText = (results: ReadonlyArray<WorkloadResult>, specs: ReadonlyArray<ClientSpec>): string => {
  const lines: Array<string> = []
  for (const result of results) {
    if (result.workload !== "A" && result.workload !== "B") continue
    const all = summaries(result, specs)
    const batches = all.find((c) => c.spec.id === "pgcdc-batches")
    const peers = all.filter((c) => c.spec.jsPeer)
    if (batches === undefined || peers.length === 0) continue
    const b = batches.summary
    const drains = peers.map((p) => `${p.spec.label} ${s(p.summary.cpuMs)} s (${x(ratio(b.cpuMs, p.summary.cpuMs))})`)
    const startups = peers.map((p) => `${p.spec.label} ${s(p.summary.importCpuMs)} s`)
    lines.push(
      `- ${result.workload}: drain CPU, pgcdc batches ${s(b.cpuMs)} s against ${drains.join(", ")}; start-up CPU, pgcdc batches ${s(b.importCpuMs)} s against ${startups.join(", ")}.`
    )
  }
  if (lines.length === 0) return ""
  return ["### Client CPU split: the drain and the start-up (not a target)", "", ...lines].join("\n")
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
 * Workload A per row: what each client spent per row in the drain and in all (start-up included), and what the decode
 * micro-benchmark measured in process for the parts every value-decoding client pays.
 */
export const perRowText = (
  results: ReadonlyArray<WorkloadResult>,
  decode: ReadonlyArray<DecodeResult>,
  specs: ReadonlyArray<ClientSpec>
): string => {
  const a = results.find((r) => r.workload === "A")
  if (a === undefined) return ""
  const all = summaries(a, specs)
  if (all.length === 0) return ""
  const rows = a.expectedChanges
  const us = (ms: number) => ((ms * 1000) / rows).toFixed(2)
  const lines = [
    "### Workload A: CPU per row",
    "",
    `- Spent per row in the drain (drain CPU ÷ ${rows.toLocaleString("en-US")} rows): ${all.map((c) => `${c.spec.label} ${us(c.summary.cpuMs)} µs`).join(", ")}.`,
    `- In all (client CPU ÷ rows, start-up included): ${all.map((c) => `${c.spec.label} ${us(c.summary.processCpuMs)} µs`).join(", ")}.`
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

/**
 * Lazy values against eager (the `pgcdc-{eager,lazy}-{key,all}` clients): for a consumer that reads the key and one
 * that reads every column, the client CPU (start-up included) and the drain CPU of each form and their ratio.
 */
export const lazyTable = (results: ReadonlyArray<WorkloadResult>, specs: ReadonlyArray<ClientSpec>): string => {
  const rows: Array<string> = []
  for (const result of results) {
    const all = summaries(result, specs)
    const find = (id: string) => all.find((c) => c.spec.id === id)?.summary
    for (const [reads, what] of [
      ["key", "the key"],
      ["all", "every column"]
    ] as const) {
      const eager = find(`pgcdc-eager-${reads}`)
      const lazy = find(`pgcdc-lazy-${reads}`)
      if (eager === undefined || lazy === undefined) continue
      rows.push(
        `| ${result.workload} | ${what} | ${s(eager.processCpuMs)} | ${s(lazy.processCpuMs)} | ${x(ratio(lazy.processCpuMs, eager.processCpuMs))} | ${s(eager.cpuMs)} | ${s(lazy.cpuMs)} | ${x(ratio(lazy.cpuMs, eager.cpuMs))} | ${mb(eager.maxRssKb)} | ${mb(lazy.maxRssKb)} |`
      )
    }
  }
  if (rows.length === 0) return ""
  return [
    "### Lazy values against eager (batches consumers)",
    "",
    "| workload | the consumer reads | client CPU eager (s) | lazy (s) | lazy ÷ eager | drain CPU eager (s) | lazy (s) | lazy ÷ eager | peak RSS eager (MB) | lazy (MB) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows
  ].join("\n")
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
  const startup = startupTable(results, specs)
  if (startup !== "") parts.push(startup, "")
  const lazy = lazyTable(results, specs)
  if (lazy !== "") parts.push(lazy, "")
  if (decode.length > 0) parts.push(decodeTable(decode), "")
  const perRow = perRowText(results, decode, specs)
  if (perRow !== "") parts.push(perRow, "")
  parts.push("### Targets (reported, not asserted)", "")
  for (const t of targets(results, specs)) parts.push(`- ${verdict(t.met)} ${t.text}`)
  const split = cpuSplitText(results, specs)
  if (split !== "") parts.push("", split)
  return parts.join("\n")
}

export type { Summary, Target }
