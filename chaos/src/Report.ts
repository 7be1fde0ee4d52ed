/**
 * The figures of a chaos run for people: faults injected per kind, how long the consumer took to get a session back
 * after each (the `Reconnected` event, or for a kill the new process's start), how long until a transaction written
 * after the fault reached the journal, duplicates per kill, and the verdict, as text and as JSON.
 *
 * It computes nothing that decides the verdict (see Verifier.ts).
 */
import type { TimedEvent } from "./ConsumerProcess.ts"
import type { FaultRecord } from "./Faults.ts"
import type { FaultSchedule } from "./FaultSchedule.ts"
import type { JournalEntry } from "./Journal.ts"
import type { Verdict } from "./Verifier.ts"
import type { WriterStats } from "./Writer.ts"

export interface FaultOutcome {
  readonly record: FaultRecord
  /** Fault start to the consumer's next session (Reconnected), or to a new process's start after a kill. */
  readonly reconnectMs: number | null
  /**
   * Fault start to the first journal line of a transaction committed after the fault ended; null when that came
   * only after the next fault had started (which then counts in it).
   */
  readonly catchUpMs: number | null
}

export interface KindSummary {
  readonly kind: string
  readonly count: number
  readonly failedToInject: number
  readonly maxReconnectMs: number | null
  readonly maxCatchUpMs: number | null
}

export interface RunReport {
  readonly seed: number
  readonly durationMs: number
  readonly schedule: FaultSchedule
  readonly outcomes: ReadonlyArray<FaultOutcome>
  readonly kinds: ReadonlyArray<KindSummary>
  readonly writer: WriterStats
  readonly verdict: Verdict
  /** Where the journal, the consumer logs, the server log copy and report.json are, if they were kept. */
  readonly dir: string
  readonly kept: boolean
}

export const outcomes = (
  records: ReadonlyArray<FaultRecord>,
  events: ReadonlyArray<TimedEvent>,
  entries: ReadonlyArray<JournalEntry>,
  acknowledged: ReadonlyMap<number, number>
): Array<FaultOutcome> => {
  const firstAt = new Map<number, number>()
  for (const e of entries) if (e.seq !== null && !firstAt.has(e.seq)) firstAt.set(e.seq, e.at)
  return records.map((record, i) => {
    const nextStart = records[i + 1]?.startedAt ?? Number.POSITIVE_INFINITY
    let reconnectMs: number | null = null
    if (record.kind === "kill") {
      const ms = record.details.nextStartedMs
      reconnectMs = typeof ms === "number" ? ms : null
    } else if (record.kind !== "stall") {
      const next = events.find((e) => e.event.ev === "reconnected" && e.event.at >= record.startedAt)
      reconnectMs = next === undefined ? null : next.event.at - record.startedAt
    }
    let catchUp: number | undefined
    for (const [seq, ackAt] of acknowledged) {
      if (ackAt < record.endedAt) continue
      const at = firstAt.get(seq)
      if (at !== undefined && (catchUp === undefined || at < catchUp)) catchUp = at
    }
    return {
      record,
      reconnectMs,
      catchUpMs: catchUp === undefined || catchUp >= nextStart ? null : catchUp - record.startedAt
    }
  })
}

const maxOf = (values: ReadonlyArray<number | null>): number | null => {
  const present = values.filter((v): v is number => v !== null)
  return present.length === 0 ? null : Math.max(...present)
}

export const summarize = (list: ReadonlyArray<FaultOutcome>): Array<KindSummary> => {
  const kinds = [...new Set(list.map((o) => o.record.kind))]
  return kinds.map((kind) => {
    const of = list.filter((o) => o.record.kind === kind)
    return {
      kind,
      count: of.length,
      failedToInject: of.filter((o) => o.record.error !== undefined).length,
      maxReconnectMs: maxOf(of.map((o) => o.reconnectMs)),
      maxCatchUpMs: maxOf(of.map((o) => o.catchUpMs))
    }
  })
}

const ms = (v: number | null) => (v === null ? "-" : `${v} ms`)

export const format = (report: RunReport): string => {
  const f = report.verdict.figures
  const lines = [
    `seed ${report.seed}: ${report.verdict.ok ? "PASS" : "FAIL"} after ${(report.durationMs / 1000).toFixed(1)} s`,
    `  writer: ${report.writer.acknowledged} transactions acknowledged, ${report.writer.inDoubtCommitted} in-doubt found committed, ${report.writer.inDoubtRetried} in-doubt sent again, ${report.writer.sessions} sessions`,
    `  journal: ${f.journalLines} lines, ${f.transactions} distinct transactions of ${f.committed} committed, ${f.lost} lost, ${f.duplicates} duplicates, ${f.runs} consumer runs, ${f.walsenderTimeouts} walsender timeouts`,
    "  faults (count, max reconnect, max catch-up):",
    ...report.kinds.map(
      (k) =>
        `    ${k.kind.padEnd(18)} ${String(k.count).padStart(3)}  ${ms(k.maxReconnectMs).padStart(9)}  ${ms(k.maxCatchUpMs).padStart(9)}${k.failedToInject > 0 ? `  (${k.failedToInject} not injected)` : ""}`
    ),
    "  duplicates per kill (repeated / of them journaled by the killed run / journaled in its last flushDelay / oldest repeat before the kill):",
    ...f.kills.map(
      (k) =>
        `    run ${String(k.killedRun).padStart(3)}: ${k.duplicates} / ${k.journaledByKilled} / ${k.journaledInFlushDelay} / ${ms(k.oldestRepeatedMs)}${k.afterServerCrash ? " (after a server crash: the slot was back at its last checkpoint)" : ""}`
    ),
    ...report.verdict.violations.map((v) => `  VIOLATION ${v}`),
    report.kept ? `  files: ${report.dir}` : "  files: removed (the run passed; --keep keeps them)"
  ]
  return lines.join("\n")
}

/** report.json: the report without the schedule's functions (it has none) and with maps spelled out. */
export const toJson = (report: RunReport): string => JSON.stringify(report, null, 2)
