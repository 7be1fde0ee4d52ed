/**
 * The harness's side of the consumer process: spawns `node src/consumer.ts` (run 1, 2, ... one process per run),
 * collects its events (JSON lines on stdout) and its log (stderr and the other stdout lines, one file per run), kills, stops and signals it, and restarts it
 * when it exits without being asked to — which the verifier reports as a failure, since a consumer on pgcdc must
 * never end by itself.
 *
 * It does not decide when to kill or stall (see Faults.ts) and does not interpret the journal.
 */
import type { TestDatabaseInfo } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type * as Scope from "effect/Scope"
import { type ChildProcess, spawn } from "node:child_process"
import { appendFileSync, closeSync, openSync } from "node:fs"
import * as path from "node:path"
import { ChaosError, poll } from "./Admin.ts"
import { type ConsumerBug, type ConsumerConfig, type ConsumerEvent, exitCodes, parseEvent } from "./ConsumerProtocol.ts"
import { publication, slot } from "./Workload.ts"

export const consumerScript = path.join(import.meta.dirname, "consumer.ts")

export interface RunRecord {
  readonly run: number
  readonly pid: number | undefined
  readonly spawnedAt: number
  /** When it printed "started" (the service is up). */
  startedAt: number | undefined
  exitedAt: number | undefined
  exitCode: number | null | undefined
  exitSignal: string | null | undefined
  /** Why it ended: killed or stopped by the harness, or on its own ("crash"). */
  endedBy: "kill" | "stop" | "crash" | undefined
  readonly logFile: string
}

export interface TimedEvent {
  readonly run: number
  readonly event: ConsumerEvent
}

export interface Consumers {
  readonly runs: ReadonlyArray<RunRecord>
  readonly events: ReadonlyArray<TimedEvent>
  readonly current: () => RunRecord | undefined
  /** Spawns the next run and waits until its service has started (or the process exits). */
  readonly start: Effect.Effect<RunRecord, ChaosError>
  /** SIGKILL to the current run; returns once it has exited. */
  readonly kill: Effect.Effect<RunRecord, ChaosError>
  /** SIGTERM to the current run (a clean stop); SIGKILL if it is not gone after 20 s. */
  readonly stop: Effect.Effect<RunRecord | undefined>
  /** Sends a signal (SIGUSR2, SIGSTOP, SIGCONT) to the current run. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void, ChaosError>
}

export interface ConsumersOptions {
  readonly db: TestDatabaseInfo
  readonly dir: string
  readonly journal: string
  readonly stallFile: string
  readonly bug: ConsumerBug
  /** Called when a run exits without being asked to (after it is recorded); the harness then starts the next. */
  readonly onCrash: (record: RunRecord) => void
}

export const make = (options: ConsumersOptions): Effect.Effect<Consumers, never, Scope.Scope> =>
  Effect.gen(function* () {
    const runs: Array<RunRecord> = []
    const events: Array<TimedEvent> = []
    const children = new Map<number, ChildProcess>()
    let expecting: "kill" | "stop" | undefined
    const lock = yield* Semaphore.make(1)

    const spawnRun = (): RunRecord => {
      const run = runs.length + 1
      const config: ConsumerConfig = {
        run,
        host: options.db.host,
        port: options.db.port,
        user: options.db.user,
        password: options.db.password,
        database: options.db.database,
        slot,
        publication,
        journal: options.journal,
        stallFile: options.stallFile,
        bug: options.bug
      }
      const logFile = path.join(options.dir, `consumer-${run}.log`)
      const log = openSync(logFile, "a")
      const child = spawn(process.execPath, [consumerScript, JSON.stringify(config)], {
        stdio: ["ignore", "pipe", log]
      })
      closeSync(log)
      const record: RunRecord = {
        run,
        pid: child.pid,
        spawnedAt: Date.now(),
        startedAt: undefined,
        exitedAt: undefined,
        exitCode: undefined,
        exitSignal: undefined,
        endedBy: undefined,
        logFile
      }
      runs.push(record)
      children.set(run, child)
      let partial = ""
      child.stdout?.setEncoding("utf8")
      child.stdout?.on("data", (chunk: string) => {
        partial += chunk
        const lines = partial.split("\n")
        partial = lines.pop() ?? ""
        for (const line of lines) {
          const event = parseEvent(line)
          if (event === undefined) {
            // The library's log lines (Effect's default logger writes to stdout) go with stderr into the run's log.
            appendFileSync(logFile, `${line}\n`)
            continue
          }
          if (event.ev === "started") record.startedAt = event.at
          events.push({ run, event })
        }
      })
      child.on("exit", (code, signal) => {
        record.exitedAt = Date.now()
        record.exitCode = code
        record.exitSignal = signal
        children.delete(run)
        if (expecting !== undefined && runs.at(-1) === record) {
          record.endedBy = expecting
          expecting = undefined
        } else {
          record.endedBy = "crash"
          options.onCrash(record)
        }
      })
      return record
    }

    const exited = (record: RunRecord, limitMs: number) =>
      poll(
        Effect.sync(() => (record.exitedAt === undefined ? undefined : record)),
        10,
        limitMs
      )

    const current = () => {
      const last = runs.at(-1)
      return last !== undefined && last.exitedAt === undefined ? last : undefined
    }

    const start = lock.withPermit(
      Effect.gen(function* () {
        const record = spawnRun()
        const ready = yield* poll(
          Effect.sync(() => (record.startedAt !== undefined || record.exitedAt !== undefined ? true : undefined)),
          20,
          60_000
        )
        if (ready === undefined || record.startedAt === undefined) {
          return yield* new ChaosError({
            message: `consumer run ${record.run} did not start (exit code ${String(record.exitCode)}); see ${record.logFile}`
          })
        }
        return record
      })
    )

    const kill = lock.withPermit(
      Effect.gen(function* () {
        const record = current()
        const child = record === undefined ? undefined : children.get(record.run)
        if (record === undefined || child === undefined) {
          return yield* new ChaosError({ message: "no consumer process to kill" })
        }
        expecting = "kill"
        child.kill("SIGKILL")
        const gone = yield* exited(record, 10_000)
        if (gone === undefined) return yield* new ChaosError({ message: `consumer run ${record.run} survived SIGKILL` })
        return record
      })
    )

    const stop = lock.withPermit(
      Effect.gen(function* () {
        const record = current()
        const child = record === undefined ? undefined : children.get(record.run)
        if (record === undefined || child === undefined) return undefined
        expecting = "stop"
        child.kill("SIGTERM")
        if ((yield* exited(record, 20_000)) === undefined) {
          child.kill("SIGKILL")
          yield* exited(record, 10_000)
        }
        return record
      })
    )

    const signal = (sig: NodeJS.Signals) =>
      Effect.suspend(() => {
        const record = current()
        const child = record === undefined ? undefined : children.get(record.run)
        if (child === undefined) return Effect.fail(new ChaosError({ message: `no consumer process to send ${sig}` }))
        child.kill(sig)
        return Effect.void
      })

    // Whatever happens to the run, no consumer outlives the harness.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        expecting = "stop"
        for (const child of children.values()) child.kill("SIGKILL")
      })
    )

    return { runs, events, current, start, kill, stop, signal }
  })

/** Whether a run's exit is the clean stop it was asked for. */
export const stoppedCleanly = (record: RunRecord): boolean =>
  record.endedBy === "stop" && record.exitCode === exitCodes.stopped
