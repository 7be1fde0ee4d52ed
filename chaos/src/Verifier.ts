/**
 * The verdict of a chaos run, a pure function of what the run left behind: the journal, the consumer runs and how
 * each ended, the kills (with the slot's confirmed position at each), the stalls, the final tables, the writer's
 * acknowledged commits and the server log. Every violation names the seed.
 *
 * What it checks (the issue's list, plus what follows from the contract):
 * 1. Nothing lost: every transaction in the log table (every committed writer transaction) is in the journal, and
 *    every commit the server acknowledged is in the log table (synchronous_commit=on).
 * 2. Order: within one consumer process, commit LSNs strictly increase (no transaction handed out older than one
 *    already handed out, none twice), and no process skips a transaction between its first and last one.
 * 3. Duplicates only across a kill, and only of recent work: after a kill at time K, a transaction is repeated only
 *    if the killed process did not journal it, or journaled (and committed) it after K - flushDelay - slack; never
 *    one at or below the slot's confirmed_flush_lsn read after the kill. One exception to the flushDelay bound, which
 *    is PostgreSQL's: a slot's confirmed position reaches disk only at a checkpoint, so a server crash (restart -m
 *    immediate) takes it back to the last checkpoint until the consumer reports again; a kill after such a crash,
 *    before the killed process had a session for a second, may repeat more (reported as `afterServerCrash`).
 * 4. Replay: applying the journal in order, idempotently by primary key (TOASTed values that did not change keep
 *    the previous value), gives exactly the tables at the end.
 * 5. No walsender timeouts in the server log; no session lost while the consumer stalled.
 * 6. No consumer process ended by itself, the last one stopped cleanly, and its final status update reached the
 *    slot (confirmed_flush_lsn at least its last commit).
 *
 * It does not read files or the server (Run.ts gathers the inputs) and does not print anything.
 */
import { type JournalEntry, type JournalRow, type JournalValue, parseLsn } from "./Journal.ts"
import { logTable, table } from "./Workload.ts"

export interface RunInfo {
  readonly run: number
  readonly endedBy: "kill" | "stop" | "crash" | undefined
  readonly exitCode: number | null | undefined
  readonly exitSignal: string | null | undefined
  /** The last lines of its stderr, for a run that ended by itself. */
  readonly logTail: string
}

export interface KillInfo {
  readonly killedRun: number
  readonly killedAt: number
  /** The slot's confirmed_flush_lsn once the killed process's walsender had exited ("X/Y"). */
  readonly confirmedAtKill: string
}

export interface Window {
  readonly run: number
  readonly from: number
  readonly to: number
}

export interface VerifyInput {
  readonly seed: number
  /** The journal, in file order. */
  readonly entries: ReadonlyArray<JournalEntry>
  readonly badLines: ReadonlyArray<{ readonly line: number; readonly text: string }>
  readonly runs: ReadonlyArray<RunInfo>
  readonly kills: ReadonlyArray<KillInfo>
  /** When the consumer's handler stalled, with the time right after it when a lost session would show. */
  readonly stalls: ReadonlyArray<Window>
  /** Reconnected events: run and time. */
  readonly reconnects: ReadonlyArray<{ readonly run: number; readonly at: number }>
  /** The final rows of the items table as text: id, val, note. */
  readonly items: ReadonlyArray<readonly [string, string, string]>
  /** The final sequence numbers in the log table. */
  readonly logged: ReadonlyArray<number>
  /** Sequence numbers whose commit the server acknowledged to the writer (or that it found committed). */
  readonly acknowledged: ReadonlyArray<number>
  readonly serverLog: string
  /** Whether the consumer journaled the last commit before it was stopped. */
  readonly caughtUp: boolean
  /** When the server crashed (pg_ctl restart -m immediate): start and end of each. */
  readonly serverCrashes: ReadonlyArray<{ readonly from: number; readonly to: number }>
  /** The slot's confirmed_flush_lsn after the last consumer stopped ("X/Y"), null if unknown. */
  readonly finalConfirmed: string | null
  readonly flushDelayMs: number
  /** How much later than flushDelay a commit may still be unconfirmed at a kill (timers, a loaded machine). */
  readonly slackMs: number
}

export interface KillFigures {
  readonly killedRun: number
  /** Transactions the next processes handed out again. */
  readonly duplicates: number
  /** Of those, how many the killed process had journaled (and so committed, or was about to). */
  readonly journaledByKilled: number
  /** How long before the kill the oldest repeated transaction of the killed process was journaled; null if none. */
  readonly oldestRepeatedMs: number | null
  /** Transactions the killed process journaled in its last flushDelay: what the contract lets come again. */
  readonly journaledInFlushDelay: number
  /** Transactions the killed process journaled beyond the slot's confirmed position at the kill. */
  readonly beyondConfirmed: number
  /**
   * The server crashed after transactions that came again were journaled, and the killed process had no session for
   * a second since: the slot was back at its last checkpoint, and the flushDelay bound did not apply.
   */
  readonly afterServerCrash: boolean
}

export interface Figures {
  readonly journalLines: number
  /** Distinct writer transactions in the journal. */
  readonly transactions: number
  readonly committed: number
  readonly lost: number
  readonly runs: number
  readonly duplicates: number
  readonly kills: ReadonlyArray<KillFigures>
  readonly walsenderTimeouts: number
}

export interface Verdict {
  readonly ok: boolean
  readonly violations: ReadonlyArray<string>
  readonly figures: Figures
}

export const walsenderTimeoutMessage = "terminating walsender process due to replication timeout"

/** How long a new session needs to report the consumer's position (a status update every third of 2 s, and leeway). */
const sessionToReportMs = 1000

/** How many violations of one kind are spelled out before "... and N more". */
const listLimit = 10

const listed = <A>(items: ReadonlyArray<A>, show: (a: A) => string): string =>
  items.length <= listLimit
    ? items.map(show).join(", ")
    : `${items.slice(0, listLimit).map(show).join(", ")} ... and ${items.length - listLimit} more`

interface Located {
  readonly entry: JournalEntry
  readonly lsn: bigint
  /** Position in the journal file. */
  readonly index: number
}

const textOf = (v: JournalValue): string | null => {
  if (v === null) return null
  if (typeof v === "object") return "int8" in v ? v.int8 : "(unchanged toast)"
  return String(v)
}

const isToast = (v: JournalValue | undefined): boolean => typeof v === "object" && v !== null && "toast" in v

/**
 * Replays the journal in file order, idempotently by primary key. Problems are pushed on `problems`.
 *
 * An unchanged TOAST value takes the previous value of the row (at its old key when the key changed). A transaction
 * applied again after a kill meets a newer state, where that row may have moved on or be gone: then the value is
 * taken from the row at the new key if there is one, and otherwise left unknown — the rest of the repeated
 * transactions bring the state back to where it was, and the comparison with the table at the end judges. Only a
 * first application that lacks the row is a problem in itself.
 */
export const replay = (
  entries: ReadonlyArray<JournalEntry>,
  problems: Array<string>
): { readonly items: Map<string, { val: string | null; note: string | null }>; readonly logged: Set<string> } => {
  const items = new Map<string, { val: string | null; note: string | null }>()
  const logged = new Set<string>()
  const column = (row: JournalRow | undefined, name: string) => (row === undefined ? undefined : row[name])
  let applied = -1n
  for (const entry of entries) {
    const lsn = parseLsn(entry.lsn)
    const repeated = lsn <= applied
    if (lsn > applied) applied = lsn
    for (const change of entry.changes) {
      if (change.table === logTable) {
        const seq = column(change.row ?? change.key, "seq")
        const key = seq === undefined ? undefined : textOf(seq)
        if (key === undefined || key === null) continue
        if (change.op === "D") logged.delete(key)
        else logged.add(key)
        continue
      }
      if (change.table !== table) {
        if (change.op === "T") {
          items.clear()
          logged.clear()
        }
        continue
      }
      if (change.op === "T") {
        items.clear()
        continue
      }
      const keyId = column(change.key, "id")
      const newId = column(change.row, "id")
      if (change.op === "D") {
        if (keyId !== undefined) items.delete(String(textOf(keyId)))
        continue
      }
      if (newId === undefined || change.row === undefined) {
        problems.push(`${change.op} on ${table} without a new row at LSN ${entry.lsn}`)
        continue
      }
      const id = String(textOf(newId))
      const previousId = keyId === undefined ? id : String(textOf(keyId))
      const previous = items.get(previousId) ?? (repeated ? items.get(id) : undefined)
      if (keyId !== undefined) items.delete(previousId)
      const merged = (name: "val" | "note") => {
        const v = change.row?.[name]
        if (!isToast(v)) return v === undefined ? null : textOf(v)
        if (previous === undefined) {
          if (!repeated) {
            problems.push(
              `an unchanged TOAST value of ${table} id ${id} at LSN ${entry.lsn}, for a row the replay lacks`
            )
          }
          return null
        }
        return previous[name]
      }
      items.set(id, { val: merged("val"), note: merged("note") })
    }
  }
  return { items, logged }
}

export const verify = (input: VerifyInput): Verdict => {
  const violations: Array<string> = []
  const violation = (text: string) => violations.push(`seed ${input.seed}: ${text}`)

  if (input.badLines.length > 0) {
    violation(`the journal has lines that are not entries: ${listed(input.badLines, (b) => `line ${b.line}`)}`)
  }

  const located: Array<Located> = input.entries.map((entry, index) => ({ entry, lsn: parseLsn(entry.lsn), index }))
  const withoutSeq = located.filter((l) => l.entry.seq === null)
  if (withoutSeq.length > 0) {
    violation(`transactions without a writer sequence number: ${listed(withoutSeq, (l) => l.entry.lsn)}`)
  }

  // Runs, in file order: one consumer process at a time, each after the previous.
  const byRun = new Map<number, Array<Located>>()
  let lastRun = 0
  for (const l of located) {
    if (l.entry.run < lastRun) {
      violation(`journal line ${l.index + 1} of run ${l.entry.run} follows lines of run ${lastRun}`)
    }
    lastRun = Math.max(lastRun, l.entry.run)
    const list = byRun.get(l.entry.run) ?? []
    list.push(l)
    byRun.set(l.entry.run, list)
  }

  // 2. Order within a process.
  for (const [run, list] of byRun) {
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1]!
      const cur = list[i]!
      if (cur.lsn <= prev.lsn) {
        violation(
          `consumer run ${run} was handed transaction ${cur.entry.lsn} (seq ${cur.entry.seq}) after ${prev.entry.lsn} (seq ${prev.entry.seq}): older than one it already had`
        )
        break
      }
    }
  }

  // One commit LSN per sequence number and the other way round.
  const lsnOfSeq = new Map<number, bigint>()
  const seqOfLsn = new Map<bigint, number>()
  for (const l of located) {
    const seq = l.entry.seq
    if (seq === null) continue
    const known = lsnOfSeq.get(seq)
    if (known !== undefined && known !== l.lsn) {
      violation(`seq ${seq} was journaled with two commit LSNs`)
    }
    lsnOfSeq.set(seq, l.lsn)
    const other = seqOfLsn.get(l.lsn)
    if (other !== undefined && other !== seq)
      violation(`commit LSN ${l.entry.lsn} was journaled for seq ${other} and ${seq}`)
    seqOfLsn.set(l.lsn, seq)
  }

  // No process skips a transaction between its first and its last.
  const allLsns = [...seqOfLsn.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  for (const [run, list] of byRun) {
    const have = new Set(list.map((l) => l.lsn))
    const lo = list[0]!.lsn
    const hi = list.at(-1)!.lsn
    const skipped = allLsns.filter((lsn) => lsn > lo && lsn < hi && !have.has(lsn))
    if (skipped.length > 0) {
      violation(
        `consumer run ${run} skipped transactions between its first and last: ${listed(skipped, (lsn) => `seq ${seqOfLsn.get(lsn)}`)}`
      )
    }
  }

  // 1. Nothing lost.
  const journaled = new Set(lsnOfSeq.keys())
  const loggedSet = new Set(input.logged)
  const lost = input.logged.filter((seq) => !journaled.has(seq)).sort((a, b) => a - b)
  if (!input.caughtUp) {
    violation("the consumer stopped making progress before it had journaled the last commit")
  }
  if (lost.length > 0) {
    violation(
      `${lost.length} committed transactions never reached the journal${input.caughtUp ? "" : " (the consumer was stuck)"}: ${listed(lost, (s) => `seq ${s}`)}`
    )
  }
  const phantom = [...journaled].filter((seq) => !loggedSet.has(seq))
  if (phantom.length > 0) {
    violation(`journaled transactions that are not in ${logTable}: ${listed(phantom, (s) => `seq ${s}`)}`)
  }
  const unlogged = input.acknowledged.filter((seq) => !loggedSet.has(seq))
  if (unlogged.length > 0) {
    violation(
      `commits the server acknowledged are missing from ${logTable} (the server lost them): ${listed(unlogged, (s) => `seq ${s}`)}`
    )
  }

  // 3. Duplicates only across a kill, only of recent or uncommitted work.
  const runInfo = new Map(input.runs.map((r) => [r.run, r]))
  const killOf = new Map(input.kills.map((k) => [k.killedRun, k]))
  const killFigures: Array<KillFigures> = []
  let duplicates = 0
  const runNumbers = [...byRun.keys()].sort((a, b) => a - b)
  /** The latest journal line (before the current run) of each LSN. */
  const latestBefore = new Map<bigint, Located>()
  let maxBefore = -1n
  const maxRun = Math.max(0, ...input.runs.map((r) => r.run), ...runNumbers)
  for (let run = 1; run <= maxRun; run++) {
    const list = byRun.get(run) ?? []
    const repeated = list.filter((l) => l.lsn <= maxBefore && latestBefore.has(l.lsn))
    duplicates += repeated.length
    if (repeated.length > 0) {
      const previousRun = run - 1
      const ending = runInfo.get(previousRun)?.endedBy
      if (ending !== "kill" && ending !== "crash") {
        violation(
          `consumer run ${run} repeated ${repeated.length} transactions though run ${previousRun} was not killed (${ending ?? "unknown"}): ${listed(repeated, (l) => `seq ${l.entry.seq}`)}`
        )
      }
    }
    // The kill that ended the previous run: were the repeats recent enough?
    const kill = killOf.get(run - 1)
    if (kill !== undefined) {
      const confirmed = parseLsn(kill.confirmedAtKill)
      const killedLines = byRun.get(kill.killedRun) ?? []
      const fromKilled = repeated.flatMap((l) => {
        const earlier = latestBefore.get(l.lsn)
        return earlier !== undefined && earlier.entry.run === kill.killedRun ? [earlier] : []
      })
      const tooOld = fromKilled.filter((l) => l.entry.at < kill.killedAt - input.flushDelayMs - input.slackMs)
      const oldest = Math.min(...tooOld.map((l) => l.entry.at))
      const afterServerCrash =
        tooOld.length > 0 &&
        input.serverCrashes.some(
          (crash) =>
            crash.from >= oldest &&
            crash.from <= kill.killedAt &&
            !input.reconnects.some(
              (r) => r.run === kill.killedRun && r.at >= crash.to && r.at <= kill.killedAt - sessionToReportMs
            )
        )
      if (tooOld.length > 0 && !afterServerCrash) {
        violation(
          `after the kill of run ${kill.killedRun}, ${tooOld.length} transactions it had committed more than flushDelay (${input.flushDelayMs} ms) + ${input.slackMs} ms before the kill came again: ${listed(tooOld, (l) => `seq ${l.entry.seq} (${kill.killedAt - l.entry.at} ms before)`)}`
        )
      }
      const confirmedAgain = repeated.filter((l) => l.lsn <= confirmed)
      if (confirmedAgain.length > 0) {
        violation(
          `after the kill of run ${kill.killedRun}, the slot resent transactions at or below its confirmed position ${kill.confirmedAtKill}: ${listed(confirmedAgain, (l) => `seq ${l.entry.seq}`)}`
        )
      }
      killFigures.push({
        killedRun: kill.killedRun,
        duplicates: repeated.length,
        journaledByKilled: fromKilled.length,
        oldestRepeatedMs:
          fromKilled.length === 0 ? null : Math.max(...fromKilled.map((l) => kill.killedAt - l.entry.at)),
        journaledInFlushDelay: killedLines.filter((l) => l.entry.at >= kill.killedAt - input.flushDelayMs).length,
        beyondConfirmed: killedLines.filter((l) => l.lsn > confirmed).length,
        afterServerCrash
      })
    }
    for (const l of list) {
      latestBefore.set(l.lsn, l)
      if (l.lsn > maxBefore) maxBefore = l.lsn
    }
  }

  // 4. Replay equals the tables.
  const problems: Array<string> = []
  const replayed = replay(input.entries, problems)
  for (const p of problems) violation(`replay: ${p}`)
  const differences: Array<string> = []
  const tableIds = new Set<string>()
  for (const [id, val, note] of input.items) {
    tableIds.add(id)
    const r = replayed.items.get(id)
    if (r === undefined) differences.push(`id ${id} is in the table, not in the replay`)
    else if (r.val !== val || r.note !== note) {
      differences.push(
        `id ${id}: table (${val}, ${JSON.stringify(note.slice(0, 20))}), replay (${r.val}, ${JSON.stringify(r.note?.slice(0, 20))})`
      )
    }
  }
  for (const id of replayed.items.keys()) {
    if (!tableIds.has(id)) differences.push(`id ${id} is in the replay, not in the table`)
  }
  if (differences.length > 0) {
    violation(`replaying the journal does not give ${table}: ${listed(differences, (d) => d)}`)
  }
  const replayedLog = [...replayed.logged].map(Number)
  if (replayedLog.length !== loggedSet.size || replayedLog.some((s) => !loggedSet.has(s))) {
    violation(`replaying the journal gives ${replayedLog.length} rows of ${logTable}, the table has ${loggedSet.size}`)
  }

  // 5. The server never timed the consumer out; no session was lost during a stall.
  const timeoutLines = input.serverLog.split("\n").filter((line) => line.includes(walsenderTimeoutMessage))
  if (timeoutLines.length > 0) {
    violation(`the server log has ${timeoutLines.length} walsender timeouts: ${timeoutLines[0]}`)
  }
  for (const stall of input.stalls) {
    const lost = input.reconnects.filter((r) => r.run === stall.run && r.at >= stall.from && r.at <= stall.to)
    if (lost.length > 0) {
      violation(`consumer run ${stall.run} lost its session while it stalled (${stall.to - stall.from} ms)`)
    }
  }

  // 6. No process ended by itself; the last stopped cleanly and its last commit reached the slot.
  for (const r of input.runs) {
    if (r.endedBy === "crash") {
      violation(
        `consumer run ${r.run} ended by itself (exit code ${String(r.exitCode)}, signal ${String(r.exitSignal)}): ${r.logTail}`
      )
    }
  }
  const last = input.runs.at(-1)
  if (last !== undefined && (last.endedBy !== "stop" || last.exitCode !== 0)) {
    violation(`the last consumer run ${last.run} did not stop cleanly on SIGTERM (exit code ${String(last.exitCode)})`)
  }
  const lastLine = located.at(-1)
  if (lastLine !== undefined && last !== undefined && lastLine.entry.run === last.run) {
    if (input.finalConfirmed === null || parseLsn(input.finalConfirmed) < lastLine.lsn) {
      violation(
        `after the clean stop the slot's confirmed_flush_lsn is ${input.finalConfirmed ?? "unknown"}, before the last commit ${lastLine.entry.lsn}`
      )
    }
  }

  return {
    ok: violations.length === 0,
    violations,
    figures: {
      journalLines: input.entries.length,
      transactions: journaled.size,
      committed: loggedSet.size,
      lost: lost.length,
      runs: input.runs.length,
      duplicates,
      kills: killFigures,
      walsenderTimeouts: timeoutLines.length
    }
  }
}
