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
 * With `backfill`, the tables hold rows before the first start, and at random Commits the consumer loses a table (its
 * replica is emptied) and asks for a backfill of it while the workload goes on; the harness crashes it during
 * backfills too, and the next start resumes them from the progress table. Until a backfill ends, the rows the replica
 * holds of its table must be the model's; after it, all of them (Backfills.ts). At the end the harness drives the
 * stream until no backfill of the slot runs, and the replica must equal the model.
 *
 * A failure is a `SimulationFailure` whose message starts with the seed. It deliberately does not shrink failing
 * runs or generate schema changes and subtransactions.
 */
import type { ConnectionError } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import { type ReplicationError, type ReplicationShape, WalMessage } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { replicate } from "../conformance/Conformance.ts"
import type { BackendError, Transaction } from "./Backend.ts"
import { rowsHeldBy, SimulatedBackfills } from "./Backfills.ts"
import { applyThenCommit, Crash, type Handler } from "./Consumer.ts"
import { diff, Tables } from "./Model.ts"
import { Random } from "./Random.ts"
import { SimulationFailure, type SimulationOptions, type SimulationReport } from "./SimulationOptions.ts"
import { defaultTables, describeTransaction, generateTransaction, initialRows } from "./Workload.ts"

export {
  type BackfillSimulationOptions,
  SimulationFailure,
  type SimulationOptions,
  type SimulationReport,
  type SnapshotSimulationOptions
} from "./SimulationOptions.ts"

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
      // Drawn from only with a snapshot (with backfills), so the runs without one keep their workloads and faults.
      const snapshotRandom = root.fork("snapshot")
      const backfillCrashRandom = root.fork("backfill crashes")
      const name = options.name ?? `sim_${seed}`
      const tables = options.tables ?? defaultTables(name)
      const slot = `${name}_slot`
      const publication = `${name}_pub`
      const snapshot = options.snapshot
      yield* backend.setup({ slot, publication, tables, createSlot: snapshot === undefined })
      // Drawn from only with backfills, so the runs without them keep their workloads and faults.
      const backfills =
        options.backfill === undefined
          ? undefined
          : new SimulatedBackfills(options.backfill, root.fork("backfill"), tables, trace)

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
      /** The message being handled is a backfill's: crash points use the backfill's probability. */
      let inBackfill = false

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

      const initial = snapshot?.rows ?? options.backfill?.rows
      if (initial !== undefined) {
        // Before the first start (and, for a snapshot, before any slot): what it reads as its snapshot.
        for (const tx of initialRows(workRandom, tables, initial)) {
          yield* backend.transaction(tx)
          for (const op of tx.ops) model.apply(op)
        }
        trace.push(`${initial} rows in each table before the first start`)
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
        backfills?.newSession()
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
                  : inBackfill
                    ? backfillCrashRandom.chance(options.backfill?.crashProbability ?? 0.02)
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
                  inBackfill = backfills?.isBackfillMessage(m) === true
                  backfills?.observe(m)
                  inSnapshot = !inBackfill && snapshotMessages.has(m._tag)
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
                  backfills?.handled(m)
                  if (m._tag === "Commit" && backfills !== undefined) {
                    yield* backfills.maybeStart(current.replication, backend, slot, replica)
                  }
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
            backfills?.crashed()
            trace.push(`crash ${outcome.where} at message ${stats.messages}`)
            session = undefined
            yield* close(current)
          }
        })

      const compare = Effect.gen(function* () {
        const problems: Array<string> = []
        for (const t of tables) {
          const held = replica.rows(t.name)
          // A table the consumer lost holds only what its backfill has handed out so far (and the stream since).
          const expected =
            backfills?.isLost(t.name) === true ? rowsHeldBy(t, model.rows(t.name), held) : model.rows(t.name)
          problems.push(...diff(t, "model", expected, "replica", held))
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
      if (backfills !== undefined) {
        // The backfills still running (resumed by each restart) go on until the progress table has none.
        backfills.drain()
        for (let round = 0; (yield* backfills.unfinished(backend, slot)) > 0; round++) {
          if (round === 200) return yield* Effect.fail(failure("backfills still running after 200 more markers"))
          const marker = `${iteration}.backfills.${round}`
          yield* backend.transaction({ ops: [{ _tag: "Message", prefix: MARKER, content: marker }] })
          yield* catchUp(marker)
          yield* compare
        }
        // Each backfill ended where the consumer saw it: every table is whole again, and compared whole.
        if (backfills.stillLost.length > 0) {
          return yield* Effect.fail(
            failure(`no backfill is running, yet the consumer never got the end of ${backfills.stillLost.join(", ")}`)
          )
        }
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
        backfills: backfills?.stats ?? { started: 0, reads: 0, completed: 0, resumed: 0, crashes: 0 },
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
