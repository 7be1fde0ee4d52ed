/**
 * The deterministic simulation: from a seed, random batches of transactions (inserts, updates, deletes, truncates,
 * some rolled back) are written to a `Backend` and applied to a model; a `Consumer` builds a replica from the
 * `Replication` stream; after every iteration the model, the replica and (where the backend stores rows) the table
 * must be equal. The consumer crashes at random crash points (the harness drops its stream without another commit
 * and restarts from the slot) and the harness drops the walsender connection at random (the service reconnects by
 * itself), which is how the run proves at-least-once delivery with an idempotent consumer.
 *
 * Each iteration ends with a marker transaction (a transactional logical message); the consumer has caught up once
 * the marker's Commit has been handled, or once the slot's confirmed position is past it (a wrong consumer may have
 * confirmed it without handling it). On the fake server under TestClock a seed reproduces the run exactly (the same
 * `trace`); on a real server LSNs and the timing of status updates differ between runs, the workload does not.
 *
 * With `workload.streamedProbability`, some transactions are large enough to be streamed (`streaming: "on"`), some
 * of them rolled back (StreamAbort, or nothing at all when PostgreSQL already knows of the abort when it decodes).
 *
 * With `snapshot`, the tables hold rows before any slot exists and every start of the consumer asks for
 * `snapshot: "when_needed"`: the first start reads the rows (SnapshotBegin, Read, SnapshotEnd, SnapshotComplete) and
 * creates the slot once the consumer commits SnapshotComplete; a crash before that leaves no slot, so the next start
 * takes the snapshot again; a crash after it streams from the slot. While the snapshot is delivered the harness
 * crashes the consumer with its own probability and commits workload transactions (after the snapshot's consistent
 * point: they must come as the stream, not as rows).
 *
 * A failure is a `SimulationFailure` whose message starts with the seed. It deliberately does not shrink failing
 * runs or generate schema changes and subtransactions.
 */
import type { ConnectionError } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import { type ReplicationError, type ReplicationShape, WalMessage } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { replicate } from "../conformance/Conformance.ts"
import type { Backend, BackendError, TableSpec, Transaction } from "./Backend.ts"
import { applyThenCommit, type Consumer, Crash, type Handler } from "./Consumer.ts"
import { diff, Tables } from "./Model.ts"
import { Random } from "./Random.ts"
import {
  defaultTables,
  describeTransaction,
  generateTransaction,
  initialRows,
  type WorkloadOptions
} from "./Workload.ts"

export interface SimulationOptions {
  /** A non-negative safe integer; the same seed gives the same workload, crash points and drops. */
  readonly seed: number
  readonly iterations: number
  readonly backend: Backend
  /** Default `applyThenCommit`. */
  readonly consumer?: Consumer | undefined
  /** Chance that a crash point crashes the consumer. Default 0.03. */
  readonly crashProbability?: number | undefined
  /** Chance, per delivered message, that the harness drops the walsender connection. Default 0.005. */
  readonly dropProbability?: number | undefined
  readonly workload?: WorkloadOptions | undefined
  /** Prefix of the tables, slot and publication. Default `sim_<seed>`. */
  readonly name?: string | undefined
  /** Default: `<name>_a` (primary key identity) and `<name>_b` (REPLICA IDENTITY FULL), columns id, v, n. */
  readonly tables?: ReadonlyArray<TableSpec> | undefined
  /** Start from an initial snapshot of tables that already hold rows (see the module header). */
  readonly snapshot?: SnapshotSimulationOptions | undefined
}

export interface SnapshotSimulationOptions {
  /**
   * Rows each table holds before the first start (keys 1 to `rows`; give the workload a `keySpace` as large for its
   * updates and deletes to meet them). Keep it under the service's `bufferSize` (1024) on PostgreSQL: a workload
   * TRUNCATE during the snapshot waits for the snapshot's sessions, which wait for the consumer.
   */
  readonly rows: number
  /** Chance that a crash point crashes the consumer while it handles a snapshot message. Default 0.01. */
  readonly crashProbability?: number | undefined
  /** Chance, per snapshot message, that the harness commits a workload transaction then. Default 0.05. */
  readonly writeProbability?: number | undefined
}

export interface SimulationReport {
  readonly seed: number
  readonly iterations: number
  /** Transactions written: committed and rolled back (markers not counted). */
  readonly committed: number
  readonly rolledBack: number
  /** Row operations in committed transactions. */
  readonly operations: number
  /** Messages delivered to the consumer, replays included. */
  readonly messages: number
  /** Transactions delivered again after a consumer crash (at-least-once at work; a dropped connection repeats none). */
  readonly replayedTransactions: number
  readonly crashes: number
  readonly drops: number
  /** Replication services started by the harness (1 + restarts after crashes). */
  readonly restarts: number
  /**
   * Starts that took an initial snapshot (no slot existed), and crashes before the consumer committed one's
   * SnapshotComplete (a crash just after it, before the slot is created, also makes the next start take it again).
   */
  readonly snapshots: number
  readonly snapshotCrashes: number
  /** Transactions the harness committed while a snapshot was delivered. */
  readonly writesDuringSnapshot: number
  /** Walsender sessions in total, the service's own reconnects included. */
  readonly sessions: number
  /** Rows per table at the end. */
  readonly rows: Readonly<Record<string, number>>
  /** What happened, one line per event; equal for equal seeds on the fake. */
  readonly trace: ReadonlyArray<string>
}

export class SimulationFailure extends Schema.TaggedError<SimulationFailure>()("SimulationFailure", {
  seed: Schema.Number,
  iteration: Schema.Number,
  message: Schema.String,
  trace: Schema.Array(Schema.String)
}) {}

const MARKER = "pgcdc-simulation"
const textDecoder = new TextDecoder()

interface Session {
  readonly scope: Scope.Closeable
  readonly replication: ReplicationShape
  readonly handler: Handler
  /** It started with an initial snapshot that its consumer has not committed yet. */
  snapshotPending: boolean
}

const snapshotMessages = new Set(["SnapshotBegin", "Read", "SnapshotEnd", "SnapshotComplete"])

export const run = (options: SimulationOptions): Effect.Effect<SimulationReport, SimulationFailure> =>
  Effect.suspend(() => {
    const { seed, backend } = options
    const consumer = options.consumer ?? applyThenCommit
    const crashProbability = options.crashProbability ?? 0.03
    const dropProbability = options.dropProbability ?? 0.005
    const trace: Array<string> = []
    let iteration = -1

    const failure = (reason: string) =>
      new SimulationFailure({
        seed,
        iteration,
        message: [
          `Simulation failed with seed ${seed} at iteration ${iteration} (consumer "${consumer.name}", ${backend.name}): ${reason}`,
          `Reproduce with Simulation.run({ seed: ${seed}, iterations: ${options.iterations}, ... }). Last events:`,
          ...trace.slice(-15).map((line) => `  ${line}`)
        ].join("\n"),
        trace: [...trace]
      })

    const body = Effect.gen(function* () {
      if (!Number.isSafeInteger(seed) || seed < 0)
        return yield* Effect.fail(failure("the seed must be a non-negative integer"))
      const root = new Random(seed)
      const workRandom = root.fork("workload")
      const faultRandom = root.fork("faults")
      // Drawn from only with a snapshot, so the runs without one keep their workloads and faults.
      const snapshotRandom = root.fork("snapshot")
      const name = options.name ?? `sim_${seed}`
      const tables = options.tables ?? defaultTables(name)
      const slot = `${name}_slot`
      const publication = `${name}_pub`
      const snapshot = options.snapshot
      yield* backend.setup({ slot, publication, tables, createSlot: snapshot === undefined })

      const streaming = (options.workload?.streamedProbability ?? 0) > 0
      let seriesFrom = 100_000
      const model = new Tables(tables)
      const replica = new Tables(tables)
      const stats = {
        committed: 0,
        rolledBack: 0,
        operations: 0,
        messages: 0,
        replayed: 0,
        crashes: 0,
        drops: 0,
        snapshots: 0,
        snapshotCrashes: 0,
        writesDuringSnapshot: 0
      }
      let restarts = 0
      let sessionsBefore = 0
      let highestCommit = Lsn.zero
      let session: Session | undefined
      /** The message being handled is part of a snapshot: crash points use the snapshot's probability. */
      let inSnapshot = false

      /** Writes a transaction to the backend and, once committed, to the model. */
      const write = (tx: Transaction, label: string) =>
        Effect.gen(function* () {
          for (const op of tx.ops) if (op._tag === "InsertSeries") seriesFrom = op.from + op.count
          yield* backend.transaction(tx)
          trace.push(`${label}: ${describeTransaction(tx)}`)
          if (tx.rollback === true) {
            stats.rolledBack++
            return
          }
          stats.committed++
          for (const op of tx.ops) {
            model.apply(op)
            stats.operations++
          }
        })

      if (snapshot !== undefined) {
        // Before any slot: what the first start reads as its snapshot.
        for (const tx of initialRows(workRandom, tables, snapshot.rows)) {
          yield* backend.transaction(tx)
          for (const op of tx.ops) model.apply(op)
        }
        trace.push(`${snapshot.rows} rows in each table before the first start`)
      }

      const open = Effect.gen(function* () {
        const scope = yield* Scope.make()
        // No session is streaming now, so whether the slot exists, and where, is settled.
        const slotExisted = snapshot === undefined || (yield* backend.slotExists(slot))
        const replication = yield* Scope.provide(
          replicate(backend, {
            slot,
            publications: [publication],
            messages: true,
            ...(streaming ? { streaming: "on" as const } : {}),
            ...(snapshot !== undefined ? { snapshot: "when_needed" as const } : {})
          }),
          scope
        )
        restarts++
        const from = (yield* replication.status).committed
        if (slotExisted) {
          // A (re)start from the slot must begin exactly at its confirmed position.
          const confirmed = yield* backend.confirmedFlush(slot)
          if (from !== confirmed) {
            return yield* Effect.fail(
              failure(`the service started from ${Lsn.format(from)}, the slot is at ${Lsn.format(confirmed)}`)
            )
          }
          trace.push(`start from ${Lsn.format(from)}`)
        } else {
          stats.snapshots++
          trace.push(`start with a snapshot (no slot) consistent at ${Lsn.format(from)}`)
        }
        const handler = consumer.session({
          replica,
          committed: Effect.map(replication.status, (s) => s.committed),
          commit: replication.commit,
          crashPoint: (where) =>
            Effect.suspend(() =>
              (
                inSnapshot
                  ? snapshotRandom.chance(snapshot?.crashProbability ?? 0.01)
                  : faultRandom.chance(crashProbability)
              )
                ? Effect.fail(new Crash({ where }))
                : Effect.void
            )
        })
        return { scope, replication, handler, snapshotPending: !slotExisted } satisfies Session
      })

      const close = (s: Session) =>
        Effect.gen(function* () {
          sessionsBefore += (yield* s.replication.status).sessions
          yield* Scope.close(s.scope, Exit.void)
        })

      yield* Effect.addFinalizer(() => (session === undefined ? Effect.void : Effect.ignore(close(session))))

      /**
       * Delivers messages until the marker's Commit is handled or the slot is past it. A transaction the harness
       * commits during a snapshot is followed by a new marker, which is then the one to wait for.
       */
      const catchUp = (first: string) =>
        Effect.gen(function* () {
          let marker = first
          let writes = 0
          let markerCommit: Lsn.Lsn | undefined
          let sawMarker = false
          /** A marker written now, after everything so far, becomes the one to wait for. */
          const newMarker = Effect.suspend(() => {
            marker = `${first}.${++writes}`
            markerCommit = undefined
            sawMarker = false
            return backend.transaction({ ops: [{ _tag: "Message", prefix: MARKER, content: marker }] })
          })
          for (;;) {
            if (session === undefined) {
              // Without a slot (a snapshot not yet confirmed) there is no position to be past the marker.
              if (markerCommit !== undefined && (snapshot === undefined || (yield* backend.slotExists(slot)))) {
                const confirmed = yield* backend.confirmedFlush(slot)
                if (confirmed >= markerCommit) {
                  trace.push(`slot confirmed ${Lsn.format(confirmed)}, past the marker: nothing left to deliver`)
                  return
                }
              }
              session = yield* open
            }
            const current = session
            sawMarker = false
            const outcome = yield* current.replication.stream.pipe(
              Stream.runForEachWhile((m) =>
                Effect.gen(function* () {
                  stats.messages++
                  inSnapshot = snapshotMessages.has(m._tag)
                  if (inSnapshot && snapshotRandom.chance(snapshot?.writeProbability ?? 0.05)) {
                    // After the snapshot's consistent point: it must arrive as the stream, not as rows.
                    stats.writesDuringSnapshot++
                    yield* write(
                      generateTransaction(workRandom, model, options.workload, seriesFrom),
                      `${iteration}: during the snapshot (${m._tag})`
                    )
                    yield* newMarker
                  }
                  if (m._tag === "Message" && m.prefix === MARKER && textDecoder.decode(m.content) === marker) {
                    sawMarker = true
                  }
                  const isMarkerCommit = m._tag === "Commit" && sawMarker
                  if (m._tag === "Commit" || m._tag === "StreamCommit") {
                    const lsn = WalMessage.lsnToConfirm(m)
                    if (lsn <= highestCommit) stats.replayed++
                    else highestCommit = lsn
                    if (isMarkerCommit) markerCommit = lsn
                  }
                  if (faultRandom.chance(dropProbability)) {
                    stats.drops++
                    trace.push(`drop the connection at message ${stats.messages} (${m._tag})`)
                    yield* backend.dropReplicationConnections(slot)
                  }
                  yield* current.handler(m)
                  if (m._tag === "SnapshotComplete") {
                    current.snapshotPending = false
                    trace.push(`snapshot complete: ${m.rows} rows, consistent at ${Lsn.format(m.consistentPoint)}`)
                    // The marker may lie before this snapshot's consistent point (taken again after a crash): then
                    // the snapshot holds its effects and the stream never sends it. Wait for one written after it.
                    yield* newMarker
                  }
                  return !isMarkerCommit
                })
              ),
              Effect.as(undefined),
              Effect.catchTag("Crash", (crash) => Effect.succeed(crash))
            )
            if (outcome === undefined) return
            stats.crashes++
            if (current.snapshotPending) stats.snapshotCrashes++
            trace.push(`crash ${outcome.where} at message ${stats.messages}`)
            session = undefined
            yield* close(current)
          }
        })

      const compare = Effect.gen(function* () {
        const problems: Array<string> = []
        for (const t of tables) {
          problems.push(...diff(t, "model", model.rows(t.name), "replica", replica.rows(t.name)))
          if (backend.readTable !== undefined) {
            const rows = yield* backend.readTable(t)
            problems.push(...diff(t, "model", model.rows(t.name), "table", rows))
          }
        }
        if (problems.length > 0) {
          return yield* Effect.fail(
            failure(`the replica (or table) differs from the model:\n  ${problems.join("\n  ")}`)
          )
        }
      })

      for (iteration = 0; iteration < options.iterations; iteration++) {
        const [minTx, maxTx] = options.workload?.transactions ?? [1, 4]
        const count = workRandom.between(minTx, maxTx)
        for (let i = 0; i < count; i++) {
          yield* write(generateTransaction(workRandom, model, options.workload, seriesFrom), String(iteration))
        }
        const marker = String(iteration)
        yield* backend.transaction({ ops: [{ _tag: "Message", prefix: MARKER, content: marker }] })
        yield* catchUp(marker)
        yield* compare
      }
      iteration = options.iterations
      const sessions = sessionsBefore + (session === undefined ? 0 : (yield* session.replication.status).sessions)
      const rows: Record<string, number> = {}
      for (const t of tables) rows[t.name] = model.size(t.name)
      return {
        seed,
        iterations: options.iterations,
        committed: stats.committed,
        rolledBack: stats.rolledBack,
        operations: stats.operations,
        messages: stats.messages,
        replayedTransactions: stats.replayed,
        crashes: stats.crashes,
        drops: stats.drops,
        restarts,
        snapshots: stats.snapshots,
        snapshotCrashes: stats.snapshotCrashes,
        writesDuringSnapshot: stats.writesDuringSnapshot,
        sessions,
        rows,
        trace
      } satisfies SimulationReport
    })

    return Effect.scoped(body).pipe(
      Effect.catch((e: SimulationFailure | BackendError | ReplicationError | ConnectionError) =>
        Effect.fail(e._tag === "SimulationFailure" ? e : failure(`${e._tag}: ${e.message}`))
      )
    )
  })

export const Simulation = { run } as const
