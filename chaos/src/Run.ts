/**
 * One chaos run, start to verdict: an embedded PostgreSQL 18 (synchronous_commit=on, wal_sender_timeout=2s), the
 * schema, slot and publication, the consumer process, the writer, the seeded faults at their planned offsets, then
 * the writer stops, the consumer catches up and is stopped cleanly, and the verifier judges what is left. Returns
 * the report; the files (journal, consumer logs, a copy of the server log, the final tables, report.json) stay in a temporary
 * directory when the run fails or `keep` is set.
 *
 * It does not decide anything itself: the schedule comes from FaultSchedule.ts, the faults from Faults.ts, the
 * verdict from Verifier.ts.
 */
import { TestDatabase } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { ChaosError, query, scalar } from "./Admin.ts"
import * as ConsumerProcess from "./ConsumerProcess.ts"
import type { ConsumerBug } from "./ConsumerProtocol.ts"
import * as FaultSchedule from "./FaultSchedule.ts"
import * as Faults from "./Faults.ts"
import * as Journal from "./Journal.ts"
import * as Report from "./Report.ts"
import * as Verifier from "./Verifier.ts"
import { logTable, schemaSql, slot, table } from "./Workload.ts"
import * as Writer from "./Writer.ts"

/** The server's wal_sender_timeout: short, so that a consumer that stops answering is noticed within the run. */
export const walSenderTimeoutMs = 2000
/** The service's default flushDelay, which the consumer keeps. */
export const flushDelayMs = 1000
/** Leeway for timers on a loaded machine when judging what a kill may repeat. */
export const slackMs = 300
/** After the writer stops, how long the journal may stand still before the consumer counts as stuck. */
const catchUpStallMs = 30_000

export interface RunOptions {
  readonly seed: number
  /** How long the writer runs (at least until the first round of faults is over). */
  readonly durationMs: number
  readonly kinds?: ReadonlyArray<FaultSchedule.FaultKind> | undefined
  readonly bug?: ConsumerBug | undefined
  /** Pause between two writer transactions; default 20 ms. */
  readonly writeIntervalMs?: number | undefined
  /** Keep the files of a passing run too. */
  readonly keep?: boolean | undefined
  readonly say?: ((line: string) => void) | undefined
}

const tail = (file: string, lines: number) =>
  Effect.promise(() =>
    fs.readFile(file, "utf8").then(
      (text) => text.trimEnd().split("\n").slice(-lines).join(" | "),
      () => ""
    )
  )

export const run = (options: RunOptions): Effect.Effect<Report.RunReport, ChaosError> =>
  Effect.gen(function* () {
    const seed = options.seed
    const say = options.say ?? ((line: string) => console.log(line))
    const schedule = FaultSchedule.make({
      seed,
      durationMs: options.durationMs,
      walSenderTimeoutMs,
      kinds: options.kinds
    })
    say(FaultSchedule.format(schedule))

    const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), `pgcdc-chaos-${seed}-`)))
    const journal = path.join(dir, "journal.jsonl")
    const stallFile = path.join(dir, "stall-ms")
    const db = yield* TestDatabase.make({
      major: 18,
      settings: { synchronous_commit: "on", wal_sender_timeout: `${walSenderTimeoutMs}ms` }
    }).pipe(Effect.mapError((e) => new ChaosError({ message: `seed ${seed}: ${e.message}`, cause: e })))
    const control = db.control
    if (control === undefined) {
      return yield* new ChaosError({
        message: `seed ${seed}: the chaos test restarts its server and needs an embedded one (unset PGCDC_TEST_URL)`
      })
    }
    for (const sql of schemaSql) yield* query(db, sql)

    const crashes = yield* Queue.unbounded<ConsumerProcess.RunRecord>()
    const consumers = yield* ConsumerProcess.make({
      db,
      dir,
      journal,
      stallFile,
      bug: options.bug ?? "none",
      onCrash: (record) => {
        Queue.offerUnsafe(crashes, record)
      }
    })
    yield* consumers.start
    let stopping = false
    // A consumer that ended by itself is a failure of the run, but the run goes on with a new one, to see more.
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          const crashed = yield* Queue.take(crashes)
          if (stopping) return
          say(`  consumer run ${crashed.run} ended by itself (exit code ${String(crashed.exitCode)}); starting another`)
          yield* Faults.slotReleased(db, 15_000)
          yield* Effect.sleep(500)
          yield* Effect.ignore(consumers.start)
        })
      )
    )

    const writer = yield* Writer.start({ db, seed, intervalMs: options.writeIntervalMs ?? 20 })
    const ctx: Faults.FaultContext = { db, control, consumers, writer, journal, stallFile }
    const t0 = Date.now()
    const records: Array<Faults.FaultRecord> = []
    // A fault that overruns its slot (a fast shutdown waits for a lagging consumer to confirm everything) delays the
    // rest of the schedule by as much, so that faults never pile up on each other.
    let delayMs = 0
    for (const fault of schedule.faults) {
      const wait = t0 + fault.atMs + delayMs - Date.now()
      if (wait > 0) yield* Effect.sleep(wait)
      const record = yield* Faults.execute(ctx, fault)
      records.push(record)
      delayMs = Math.max(delayMs, record.endedAt - (t0 + fault.atMs + FaultSchedule.allowanceMs(fault)))
      const late = record.startedAt - t0 - fault.atMs
      say(
        `  #${String(fault.index).padStart(2)} +${((record.startedAt - t0) / 1000).toFixed(1).padStart(6)} s ${fault.kind} in ${record.endedAt - record.startedAt} ms${late > 100 ? ` (${late} ms late)` : ""}${record.error === undefined ? "" : ` NOT INJECTED: ${record.error}`} ${JSON.stringify(record.details)}`
      )
    }
    const rest = t0 + schedule.endMs + delayMs - Date.now()
    if (rest > 0) yield* Effect.sleep(rest)
    yield* writer.stop

    // Catch-up: until the last committed transaction is in the journal (every earlier one is there too, or lost),
    // for as long as the consumer makes progress: a consumer that lags behind a fast writer gets the time it needs.
    const last = Number((yield* scalar(db, `SELECT coalesce(max(seq), 0) FROM ${logTable}`)) ?? "0")
    let caughtUp = false
    let size = -1
    let progressAt = Date.now()
    while (!caughtUp && Date.now() - progressAt < catchUpStallMs) {
      const entries = (yield* Journal.read(journal)).entries
      caughtUp = entries.some((e) => e.seq === last)
      if (entries.length !== size) {
        size = entries.length
        progressAt = Date.now()
      }
      if (!caughtUp) yield* Effect.sleep(500)
    }
    if (!caughtUp) say(`  the consumer stopped making progress before it journaled seq ${last}, the last commit`)
    stopping = true
    yield* consumers.stop
    const endMs = Date.now() - t0

    const finalConfirmed = yield* scalar(
      db,
      `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '${slot}'`
    )
    const items = (yield* query(db, `SELECT id::text, val::text, note FROM ${table} ORDER BY id`)).map(
      (r) => [r[0] ?? "", r[1] ?? "", r[2] ?? ""] as const
    )
    const logged = (yield* query(db, `SELECT seq::text FROM ${logTable}`)).map((r) => Number(r[0]))
    yield* Effect.promise(() => fs.writeFile(path.join(dir, "tables.json"), JSON.stringify({ items, logged })))
    const serverLog = yield* Effect.promise(() => fs.readFile(control.logFile, "utf8").catch(() => ""))
    yield* Effect.promise(() => fs.writeFile(path.join(dir, "server.log"), serverLog))
    const parsed = yield* Journal.read(journal)

    const runs = yield* Effect.forEach(consumers.runs, (r) =>
      Effect.map(tail(r.logFile, r.endedBy === "crash" ? 8 : 0), (logTail) => ({
        run: r.run,
        endedBy: r.endedBy,
        exitCode: r.exitCode,
        exitSignal: r.exitSignal,
        logTail
      }))
    )
    const kills = records.flatMap((r) =>
      r.kind === "kill" && typeof r.details.killedRun === "number" && typeof r.details.confirmedAtKill === "string"
        ? [
            {
              killedRun: r.details.killedRun,
              killedAt: Number(r.details.killedAt),
              confirmedAtKill: r.details.confirmedAtKill
            }
          ]
        : []
    )
    // From the stall event to half a second after its end (a lost session shows right after the stall; the next
    // fault starts over a second later).
    const stalls: Array<Verifier.Window> = []
    consumers.events.forEach((e, i) => {
      if (e.event.ev !== "stall") return
      const end = consumers.events.slice(i).find((x) => x.run === e.run && x.event.ev === "stall-end")
      stalls.push({ run: e.run, from: e.event.at, to: (end?.event.at ?? e.event.at + e.event.ms) + 500 })
    })
    const serverCrashes = records.flatMap((r) =>
      r.kind === "restart-immediate" ? [{ run: 0, from: r.startedAt, to: r.endedAt }] : []
    )
    const reconnects = consumers.events.flatMap((e) =>
      e.event.ev === "reconnected" ? [{ run: e.run, at: e.event.at }] : []
    )

    const verdict = Verifier.verify({
      seed,
      entries: parsed.entries,
      badLines: parsed.bad,
      runs,
      kills,
      stalls,
      reconnects,
      items,
      logged,
      acknowledged: [...writer.acknowledged.keys()],
      serverLog,
      caughtUp,
      serverCrashes,
      finalConfirmed,
      flushDelayMs,
      slackMs
    })
    const outcomes = Report.outcomes(records, consumers.events, parsed.entries, writer.acknowledged)
    const report: Report.RunReport = {
      seed,
      durationMs: endMs,
      schedule,
      outcomes,
      kinds: Report.summarize(outcomes),
      writer: writer.stats(),
      verdict,
      dir,
      kept: !verdict.ok || options.keep === true
    }
    yield* Effect.promise(() => fs.writeFile(path.join(dir, "report.json"), Report.toJson(report)))
    if (!report.kept) yield* Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
    return report
  }).pipe(
    Effect.scoped,
    // The writer's and the harness's sessions log the server's shutdown notices; the consumers' logs are kept.
    Effect.provideService(References.MinimumLogLevel, "Error")
  )
