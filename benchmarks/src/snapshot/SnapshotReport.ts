/**
 * Turns the snapshot benchmark's measurements into the Markdown that benchSnapshot.ts prints and BENCHMARKS.md
 * quotes: the table's size, one row per client (medians of the runs: wall, rows/s, MB/s, client CPU, server CPU,
 * peak RSS), pgcdc's rates ÷ psql's COPY and pg_dump's, and whether the issue's targets are met. Pure.
 *
 * Rates divide the same work by each client's wall time: the table's rows, and the bytes of its COPY text (what
 * every client reads from the server, whatever it then does with it). Beside the measured ratio, a CPU-bound
 * estimate (`cpuBoundMs`) that does not depend on what else the shared machine runs.
 */
import { megabytes, seconds, type Target, times, verdict } from "../Format.ts"
import { type Machine, machineText } from "../Machine.ts"
import type { Measurement } from "../Runner.ts"
import { ratio, type Summary, summarize } from "../Stats.ts"

/** psql and pg_dump are the peers; "raw" is pgcdc's COPY drain without decoding; "pgcdc" a snapshot client. */
export type SnapshotRole = "psql" | "pg_dump" | "raw" | "pgcdc"

export interface SnapshotClientInfo {
  readonly id: string
  readonly label: string
  readonly role: SnapshotRole
}

export interface TableFacts {
  readonly rows: number
  /** pg_total_relation_size: heap, TOAST and index. */
  readonly totalBytes: number
  readonly heapPages: number
  /** Bytes of the COPY text of every row, newlines included. */
  readonly copyTextBytes: number
  /** pgcdc's pages per COPY chunk, and the chunks the table makes. */
  readonly pagesPerChunk: number
  readonly chunks: number
}

export interface SnapshotResult {
  readonly facts: TableFacts
  readonly clients: ReadonlyArray<SnapshotClientInfo>
  readonly runs: ReadonlyMap<string, ReadonlyArray<Measurement>>
  readonly failures: ReadonlyMap<string, string>
}

/** The issue's targets: pgcdc's snapshot at least this share of psql's COPY rate, and its peak RSS under this. */
export const rateTarget = 0.8
export const rssTargetMb = 200

const MB = 1024 * 1024

/** Rows (or bytes) per second of wall time. */
export const perSecond = (amount: number, wallMs: number): number =>
  wallMs > 0 ? amount / (wallMs / 1000) : Number.NaN

const count = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–")
const mbPerSecond = (facts: TableFacts, wallMs: number) => (perSecond(facts.copyTextBytes, wallMs) / MB).toFixed(1)

interface Row {
  readonly client: SnapshotClientInfo
  readonly summary: Summary
}

const rowsOf = (result: SnapshotResult): Array<Row> =>
  result.clients.flatMap((client) => {
    const runs = result.runs.get(client.id)
    return runs === undefined || runs.length === 0 ? [] : [{ client, summary: summarize(runs) }]
  })

const byRole = (rows: ReadonlyArray<Row>, role: SnapshotRole) => rows.find((r) => r.client.role === role)

export const factsText = (f: TableFacts): string =>
  [
    `- Table: ${count(f.rows)} rows; pg_total_relation_size ${(f.totalBytes / MB).toFixed(0)} MB (heap ${count(f.heapPages)} pages of 8 kB); COPY text ${(f.copyTextBytes / MB).toFixed(1)} MB (${(f.copyTextBytes / f.rows).toFixed(0)} bytes per row). MB here are 2^20 bytes.`,
    `- pgcdc reads a table in COPY chunks of at most ${count(f.pagesPerChunk)} pages (its default): this table is ${f.chunks} chunk${f.chunks === 1 ? "" : "s"}, so at most ${f.chunks} session${f.chunks === 1 ? "" : "s"} read${f.chunks === 1 ? "s" : ""} it at once whatever \`snapshotSessions\` says.`
  ].join("\n")

export const clientTable = (result: SnapshotResult): string => {
  const { facts } = result
  const lines = [
    "| client | wall (s) | rows/s | MB/s | client CPU (s) user+sys | server CPU (s) | peak RSS (MB) | wall with process start (s) | rows read |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  ]
  for (const { client, summary } of rowsOf(result)) {
    const rows =
      summary.changes < 0
        ? "n/a"
        : `${count(summary.changes)}${summary.changes === facts.rows ? "" : ` (expected ${count(facts.rows)})`}`
    lines.push(
      `| ${client.label} | ${seconds(summary.wallMs)} | ${count(perSecond(facts.rows, summary.wallMs))} | ${mbPerSecond(facts, summary.wallMs)} | ${seconds(summary.cpuMs)} (${seconds(summary.cpuUserMs)}+${seconds(summary.cpuSystemMs)}) | ${seconds(summary.serverCpuMs)} | ${megabytes(summary.maxRssKb)} | ${seconds(summary.processWallMs)} | ${rows} |`
    )
  }
  for (const [id, message] of result.failures) {
    const label = result.clients.find((c) => c.id === id)?.label ?? id
    lines.push(`| ${label} | failed: ${message.split("\n")[0]} | | | | | | | |`)
  }
  return lines.join("\n")
}

/**
 * The wall time a client would take if it and its server processes each had a core to themselves and never waited
 * for each other: the larger of the two CPU times. On a shared machine the measured walls depend on what else runs;
 * this estimate does not (it ignores that several server sessions could use several cores).
 */
export const cpuBoundMs = (s: Pick<Summary, "cpuMs" | "serverCpuMs">): number => Math.max(s.cpuMs, s.serverCpuMs)

/** pgcdc's rates ÷ the peers' (above 1: pgcdc is faster), measured and CPU-bound; its client CPU and RSS ÷ psql's. */
export const ratioTable = (result: SnapshotResult): string => {
  const rows = rowsOf(result)
  const psql = byRole(rows, "psql")
  const dump = byRole(rows, "pg_dump")
  const ours = rows.filter((r) => r.client.role === "pgcdc" || r.client.role === "raw")
  if (ours.length === 0 || (psql === undefined && dump === undefined)) return ""
  const lines = [
    "| pgcdc client | rate ÷ psql COPY | rate ÷ pg_dump | rate ÷ psql COPY, CPU-bound estimate | client CPU ÷ psql's | peak RSS ÷ psql's |",
    "|---|---:|---:|---:|---:|---:|"
  ]
  // `f(peer) / f(ours)`, or "–" without the peer. The same rows and bytes for everyone: a rate ratio is the inverse
  // ratio of wall times.
  const inverse = (ours: Row, peer: Row | undefined, f: (s: Summary) => number) =>
    times(peer === undefined ? Number.NaN : ratio(f(peer.summary), f(ours.summary)))
  const wall = (s: Summary) => s.wallMs
  for (const r of ours) {
    const share = (f: (s: Summary) => number) =>
      times(psql === undefined ? Number.NaN : ratio(f(r.summary), f(psql.summary)))
    lines.push(
      `| ${r.client.label} | ${inverse(r, psql, wall)} | ${inverse(r, dump, wall)} | ${inverse(r, psql, cpuBoundMs)} | ${share((s) => s.cpuMs)} | ${share((s) => s.maxRssKb)} |`
    )
  }
  return lines.join("\n")
}

/** For every pgcdc snapshot client: its rate against psql's COPY, and its peak RSS. */
export const snapshotTargets = (result: SnapshotResult): Array<Target> => {
  const rows = rowsOf(result)
  const psql = byRole(rows, "psql")
  const out: Array<Target> = []
  for (const { client, summary } of rows.filter((r) => r.client.role === "pgcdc")) {
    const rows = result.facts.rows
    out.push(
      psql === undefined
        ? { met: undefined, text: `${client.label}: rate vs psql COPY (psql did not run)` }
        : {
            met: ratio(psql.summary.wallMs, summary.wallMs) >= rateTarget,
            text: `${client.label}: ${count(perSecond(rows, summary.wallMs))} rows/s ≥ ${rateTarget} × psql COPY's ${count(perSecond(rows, psql.summary.wallMs))} rows/s (ratio ${times(ratio(psql.summary.wallMs, summary.wallMs))}; CPU-bound estimate ${times(ratio(cpuBoundMs(psql.summary), cpuBoundMs(summary)))})`
          }
    )
    out.push({
      met: summary.maxRssKb < rssTargetMb * 1024,
      text: `${client.label}: peak RSS ${megabytes(summary.maxRssKb)} MB < ${rssTargetMb} MB`
    })
  }
  if (out.length === 0) out.push({ met: undefined, text: "no pgcdc snapshot client ran" })
  return out
}

export const renderSnapshot = (machine: Machine, result: SnapshotResult, header: string): string => {
  const parts = [header, "", machineText(machine), factsText(result.facts), "", clientTable(result), ""]
  const ratios = ratioTable(result)
  if (ratios !== "")
    parts.push("pgcdc ÷ peer (a rate above 1: pgcdc is faster; CPU and RSS below 1: lighter):", "", ratios, "")
  parts.push("Targets (reported, not asserted):", "")
  for (const t of snapshotTargets(result)) parts.push(`- ${verdict(t.met)} ${t.text}`)
  return parts.join("\n")
}
