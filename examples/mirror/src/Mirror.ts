/**
 * The table mirror: a writer changes a table at random while a consumer keeps an in-memory Map equal to it from
 * the replication stream; at the end the Map is compared with the table. With a target database (`--target`), the
 * consumer is `@pgcdc/sink-postgres` applying the stream to a table there (Target.ts), and that table is compared.
 *
 * Steps: pick a server (Server.ts), set up the table and publication (Setup.ts), start the Replication service with
 * an initial snapshot (it creates the slot and hands the table's rows as `Read` messages before the changes), run the writer and the consumer as two fibers with a live status
 * line, stop the writer after the duration, wait until the consumer has applied everything up to the writer's last
 * WAL position, then SELECT the table and compare.
 *
 * Every resource lives in a scope, so an interruption (Ctrl-C) stops the fibers, sends a last status update with
 * the committed position, closes the sessions, drops the slot when asked, and stops the embedded server and removes
 * its data. It deliberately prints and returns a verdict rather than exiting: `main.ts` turns it into an exit code.
 */
import {
  Connection,
  type ConnectionConfig,
  type ConnectionError,
  type ConnectionShape,
  Connector
} from "@pgcdc/connection"

import { Main } from "@pgcdc/cli"
import {
  Lsn,
  Replication,
  type ReplicationError,
  type ReplicationShape,
  Slot,
  type Transactions
} from "@pgcdc/replication"
import type { PostgresSink, SinkError } from "@pgcdc/sink-postgres"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { differences } from "./Compare.ts"
import { consume, makeState, type MirrorState } from "./Consumer.ts"
import { prepareTable, resetSlot } from "./Setup.ts"
import { MirrorError } from "./MirrorError.ts"
import { isIdentifier, type Names, namesOf, readAll, sessionSettings } from "./MirrorTable.ts"
import type { Screen } from "./Screen.ts"
import { bytes } from "./Screen.ts"
import * as Server from "./Server.ts"
import * as Target from "./Target.ts"
import * as Writer from "./Writer.ts"
import * as path from "node:path"

export interface MirrorOptions {
  /** How long the writer writes, in seconds. */
  readonly durationSeconds: number
  /** Statements per second; 0 as fast as possible. */
  readonly rate: number
  /** Ids range over 1..tableSize. */
  readonly tableSize: number
  /** Keep the embedded server running at the end (until Ctrl-C) and print its URL. */
  readonly keep: boolean
  /** Drop the slot on exit (otherwise it stays, at the committed position). */
  readonly dropSlot: boolean
  /** A libpq URL; otherwise PGCDC_URL, the PG* variables or an embedded server. */
  readonly url: string | undefined
  /** A libpq URL of a database to apply the table into through PostgresSink, instead of the in-memory Map. */
  readonly target?: string | undefined
  /** Base name of the table, publication and slot. */
  readonly name: string
  /** How long to wait for the consumer to catch up after the writer stops. Default 60 seconds. */
  readonly catchUpTimeout?: Duration.Input | undefined
}

export interface Verdict {
  readonly equal: boolean
  /** Rows in the table at the end. */
  readonly rows: number
  /** What the table was compared with: "the mirror" (the Map) or the target's table. */
  readonly mirror: string
  /** The target's `pgcdc_sink_progress` row for the slot after catching up, with `--target`. */
  readonly sinkProgress?: PostgresSink.Progress | undefined
  readonly differences: ReadonlyArray<string>
  readonly changes: number
  readonly transactions: number
  readonly statementsWritten: number
  /** Rows the writer's statements changed, and its transactions that changed one: what the stream carries. */
  readonly rowsChanged: number
  readonly transactionsWithChanges: number
  readonly committed: Lsn.Lsn
}

export type MirrorFailure =
  | MirrorError
  | Main.UsageError
  | ConnectionError
  | ReplicationError
  | SinkError
  | Transactions.TransactionError

const check = (options: MirrorOptions): Effect.Effect<void, Main.UsageError> => {
  const problems: Array<string> = []
  if (!isIdentifier(options.name)) problems.push(`--name "${options.name}" must be a lower-case SQL identifier`)
  if (!(options.durationSeconds > 0)) problems.push("--duration must be more than 0 seconds")
  if (!(options.rate >= 0)) problems.push("--rate must be 0 (unlimited) or more")
  if (!Number.isInteger(options.tableSize) || options.tableSize < 1) problems.push("--table-size must be at least 1")
  return problems.length === 0 ? Effect.void : Effect.fail(new Main.UsageError({ message: problems.join("; ") }))
}

const walsenderConfig = (config: ConnectionConfig): ConnectionConfig => ({ ...config, replication: "logical" })

/**
 * The end of the WAL written so far, read on the writer's session after its last commit. The insert position, not
 * `pg_current_wal_lsn()` (the write position): with `synchronous_commit = off` (as on the test servers) the write
 * position can still be before the last commit record, and waiting for it would compare too early.
 */
const currentWalLsn = (conn: ConnectionShape) =>
  Effect.map(conn.query("SELECT pg_current_wal_insert_lsn()::text"), (results) =>
    Lsn.unsafeParse(results[0]?.rows[0]?.[0] ?? "0/0")
  )

/** A fiber that must not end before we say so: its end (or failure) is a failure of the mirror. */
const mustRun = <E>(fiber: Fiber.Fiber<void, E>, what: string): Effect.Effect<never, E | MirrorError> =>
  Effect.andThen(Fiber.join(fiber), Effect.fail(new MirrorError({ message: `The ${what} stopped unexpectedly` })))

const dropSlotOnExit = (config: ConnectionConfig, slot: string, screen: Screen) =>
  Effect.addFinalizer(() =>
    Effect.gen(function* () {
      const conn = yield* Connection.make(walsenderConfig(config))
      // WAIT: the walsender that streamed from the slot may still be releasing it.
      yield* Slot.drop(slot, { wait: true, ifExists: true }).pipe(Effect.provideService(Connection, conn))
      yield* screen.line(`dropped replication slot ${slot}`)
    }).pipe(
      Effect.scoped,
      Effect.catch((e) => screen.line(`could not drop replication slot ${slot}: ${e.message}`))
    )
  )

const statusLine = (
  state: MirrorState,
  replication: ReplicationShape,
  screen: Screen,
  interval: Duration.Duration,
  withMap: boolean
) =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    let lastTime = started
    let lastChanges = state.changes
    for (;;) {
      yield* Effect.sleep(interval)
      const now = yield* Clock.currentTimeMillis
      const status = yield* replication.status
      const perSecond = ((state.changes - lastChanges) * 1000) / Math.max(1, now - lastTime)
      lastTime = now
      lastChanges = state.changes
      yield* screen.status(
        `${((now - started) / 1000).toFixed(1)}s  ${perSecond.toFixed(0)} changes/s  ` +
          `${state.changes} changes in ${state.transactions} transactions  ${withMap ? `rows ${state.rows.size}  ` : ""}` +
          `lag ${bytes(status.lagBytes)}  committed ${Lsn.format(status.committed)}`
      )
    }
  })

/**
 * Waits until the consumer has applied everything the writer wrote: the last applied commit reaches `target`, or
 * the server has decoded past `target` (its walEnd) and everything received is applied and committed.
 */
const caughtUp = (state: MirrorState, replication: ReplicationShape, target: Lsn.Lsn) =>
  Effect.gen(function* () {
    for (;;) {
      const status = yield* replication.status
      if (state.applied >= target) return
      if (status.serverWalEnd >= target && status.committed >= status.received && !state.inTransaction) return
      yield* Effect.sleep("50 millis")
    }
  })

const mirror = (
  options: MirrorOptions,
  server: Server.Server,
  targetServer: Server.Server | undefined,
  names: Names,
  screen: Screen
): Effect.Effect<Verdict, MirrorFailure, Scope.Scope> =>
  Effect.gen(function* () {
    const sql = yield* Connection.make(server.config)
    yield* sql.query(sessionSettings)
    const target = targetServer === undefined ? undefined : yield* Target.open(targetServer, sql, names)
    if (target !== undefined) {
      yield* screen.line(
        `target: ${target.server.description}: table ${names.table} applied there exactly once by PostgresSink (progress in pgcdc_sink_progress)`
      )
    }
    yield* prepareTable(sql, names, options.tableSize)
    if (options.dropSlot) yield* dropSlotOnExit(server.config, names.slot, screen)

    // Runs after the replication session has closed (finalizers run in reverse order).
    let replicationForReport: ReplicationShape | undefined
    yield* Effect.addFinalizer((exit) =>
      Exit.hasInterrupts(exit) && replicationForReport !== undefined
        ? Effect.flatMap(replicationForReport.status, (s) =>
            screen.line(`interrupted: committed position ${Lsn.format(s.committed)} reported to the server`)
          )
        : Effect.void
    )

    const replaced = yield* resetSlot(sql, names)
    const replication = yield* Replication.make({
      slot: names.slot,
      publications: [names.publication],
      statusInterval: "1 second",
      // The table's rows as of one consistent point, then every change after it; the slot is created by it.
      snapshot: "initial"
    }).pipe(Effect.provideService(Connector, Connector.make(walsenderConfig(server.config))))
    replicationForReport = replication
    const state = makeState()
    yield* screen.line(
      `${replaced ? "dropped the slot of an earlier run; " : ""}taking a snapshot of ${names.table}, then streaming its changes`
    )
    const writerSession = yield* Connection.make(server.config)
    const stop = yield* Ref.make(false)
    const stats: Writer.WriterStats = { transactions: 0, statements: 0, rowsChanged: 0, transactionsWithChanges: 0 }
    const writerOptions = { table: names.table, rate: options.rate, tableSize: options.tableSize }

    const consumer = yield* Effect.forkScoped(
      target === undefined ? consume(replication, state) : Target.consume(replication, state, target, names)
    )
    const writer = yield* Effect.forkScoped(Writer.run(writerSession, writerOptions, stop, stats))
    const progress = yield* Effect.forkScoped(
      statusLine(state, replication, screen, Duration.millis(screen.isTTY ? 250 : 1000), target === undefined)
    )
    yield* screen.line(
      `writing for ${options.durationSeconds}s at ${options.rate > 0 ? `${options.rate} statements/s` : "full speed"} ` +
        `on ids 1..${options.tableSize}; Ctrl-C stops`
    )

    const consumerRuns = mustRun(consumer, "consumer")
    yield* Effect.raceFirst(
      Effect.sleep(Duration.seconds(options.durationSeconds)),
      Effect.raceFirst(consumerRuns, mustRun(writer, "writer"))
    )
    yield* Ref.set(stop, true)
    yield* Fiber.join(writer)
    const written = yield* currentWalLsn(writerSession)
    yield* screen.line(writerSummary(stats))
    yield* screen.line(`waiting for the consumer to reach ${Lsn.format(written)}`)
    const limit = options.catchUpTimeout ?? Duration.seconds(60)
    const reached = yield* Effect.raceFirst(caughtUp(state, replication, written), consumerRuns).pipe(
      Effect.timeoutOption(limit)
    )
    yield* Fiber.interrupt(progress)
    yield* screen.settle
    const status = yield* replication.status
    if (Option.isNone(reached)) {
      return yield* new MirrorError({
        message: `The consumer did not reach ${Lsn.format(written)} within ${Duration.format(Duration.fromInputUnsafe(limit))} (applied ${Lsn.format(state.applied)}, received ${Lsn.format(status.received)}, server at ${Lsn.format(status.serverWalEnd)})`
      })
    }
    yield* screen.line(
      `consumer caught up: ${state.changes} changes in ${state.transactions} transactions applied ` +
        `after a snapshot of ${state.snapshotRows} rows at ${state.snapshotPoint === undefined ? "(none)" : Lsn.format(state.snapshotPoint)}, ` +
        `committed ${Lsn.format(status.committed)}`
    )

    const table = yield* readAll(sql, names.table)
    const copy = target === undefined ? { rows: state.rows, progress: undefined } : yield* Target.read(target, names)
    const mirrorName = target === undefined ? "the mirror" : `${names.table} on the target`
    const found = [...state.anomalies, ...differences(table, copy.rows, mirrorName)]
    return {
      equal: found.length === 0,
      rows: table.size,
      mirror: mirrorName,
      sinkProgress: copy.progress,
      differences: found,
      changes: state.changes,
      transactions: state.transactions,
      statementsWritten: stats.statements,
      rowsChanged: stats.rowsChanged,
      transactionsWithChanges: stats.transactionsWithChanges,
      committed: status.committed
    } satisfies Verdict
  })

/**
 * What the writer did, in the consumer's terms: the stream carries one change per row changed and one transaction
 * per transaction that changed a row, so the two counts after "changed a row" are what the consumer should apply.
 */
const writerSummary = (stats: Writer.WriterStats): string => {
  const unchanged = stats.statements - stats.rowsChanged
  const empty = stats.transactions - stats.transactionsWithChanges
  return (
    `writer stopped after ${stats.statements} statements in ${stats.transactions} transactions; ` +
    `${unchanged} statements changed no row (an insert of an id that exists, an update or delete of one that does not) ` +
    `and ${empty} transactions changed none, so the stream carries ${stats.rowsChanged} changes in ` +
    `${stats.transactionsWithChanges} transactions`
  )
}

const shownDifferences = 20

const report = (verdict: Verdict, names: Names, screen: Screen) =>
  Effect.gen(function* () {
    if (verdict.sinkProgress !== undefined) {
      yield* screen.line(
        `target: pgcdc_sink_progress row ${names.slot} at commit ${Lsn.format(verdict.sinkProgress.commitLsn)}`
      )
    }
    if (verdict.equal) {
      yield* screen.line(`verdict: equal (${verdict.rows} rows in table ${names.table} and in ${verdict.mirror})`)
      return
    }
    yield* screen.line(`verdict: NOT equal (${verdict.differences.length} differences)`)
    for (const d of verdict.differences.slice(0, shownDifferences)) yield* screen.line(`  ${d}`)
    if (verdict.differences.length > shownDifferences) {
      yield* screen.line(`  ... and ${verdict.differences.length - shownDifferences} more`)
    }
  })

/**
 * Runs the mirror and prints its progress and verdict on `screen`. Succeeds with the verdict, whether equal or not;
 * fails when the mirror could not run. With `keep` and an embedded server, it then waits until interrupted.
 */
export const run = (options: MirrorOptions, screen: Screen): Effect.Effect<Verdict, MirrorFailure> =>
  Effect.gen(function* () {
    yield* check(options)
    const names = namesOf(options.name)
    // A bad --target fails before an embedded server is started for nothing.
    const target = options.target === undefined ? undefined : yield* Server.fromUrl(options.target, "--target")
    if (options.url === undefined && process.env.PGCDC_URL === undefined) {
      yield* screen.line("starting an embedded PostgreSQL 18 (set PGCDC_URL or pass --url to use your own server)")
    }
    const server = yield* Server.acquire(options.url)
    const embedded = server.embedded
    yield* screen.line(
      `server: ${server.description}${embedded === undefined ? "" : ` (${embedded.source}, PostgreSQL ${embedded.major}${embedded.dataDir === undefined ? "" : `, data in ${path.dirname(embedded.dataDir)}`})`}`
    )
    if (server.embedded?.source === "embedded") {
      yield* Effect.addFinalizer(() => screen.line("stopping the embedded server and removing its data"))
    }
    const verdict = yield* mirror(options, server, target, names, screen).pipe(Effect.scoped)
    yield* report(verdict, names, screen)
    if (options.keep && server.embedded !== undefined) {
      yield* screen.line(`the embedded server keeps running at ${server.url}; Ctrl-C stops it and removes its data`)
      yield* Effect.never
    }
    return verdict
  }).pipe(Effect.scoped)
