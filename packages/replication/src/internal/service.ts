/**
 * How the Replication service is made: the first session's preflight, the backfills to resume and a snapshot's
 * temporary slot (before anything else runs on that session), the state `commit`, `flush` and `status` share with the
 * sessions, and the wiring of the parts (runService.ts runs them). Replication.ts holds the options, the service's
 * shape and its layers; this module is what `Replication.make` does.
 *
 * It deliberately holds no per-message logic: that is the delivery's (delivery.ts) and the sessions' (session.ts).
 */
import { Connector } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import type * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { makeBackfills } from "./backfill/backfills.ts"
import { cancelRunning, defaultProgressSchema, runningBackfills } from "./backfill/progressTable.ts"
import { makeCommitWaiters } from "./commitWaiters.ts"
import { Delivery } from "./delivery.ts"
import { runService } from "./runService.ts"
import { commitSignal, type Signal } from "./feedbackLoop.ts"
import * as Feedback from "./feedbackState.ts"
import { preflight } from "./preflight.ts"
import type { Received } from "./received.ts"
import type { SessionInfo } from "./session.ts"
import { command, resolve } from "./startOptions.ts"
import { type SlotHealth, watchSlot } from "./slotWatch.ts"
import { lookupTypes, TypeCatalog } from "./decoder/TypeCatalog.ts"
import { fromConnectionError, type ReplicationError, replicationError } from "../ReplicationError.ts"

import type { ReplicationOptions, ReplicationShape, ReplicationStatus } from "../Replication.ts"

const defaultBufferSize = 1024
/** The most messages queued as one item (a socket chunk holds a few hundred). */
const maxSlice = 256

export const makeService = (
  options: ReplicationOptions
): Effect.Effect<ReplicationShape, ReplicationError, Connector | Scope.Scope> =>
  Effect.gen(function* () {
    const connector = yield* Connector
    if (connector.config.replication !== "logical") {
      return yield* replicationError("InvalidOption", {
        message:
          'Replication needs logical walsender sessions: set replication: "logical" in the ConnectionConfig of its Connector (Replication.layerConfig does).'
      })
    }
    // The first session's connection, opened now for the preflight; its own scope closes with the first session.
    const firstScope = yield* Scope.make()
    yield* Effect.addFinalizer(() => Scope.close(firstScope, Exit.void))
    const first = yield* connector.connect.pipe(
      Scope.provide(firstScope),
      Effect.mapError((e) => fromConnectionError(e))
    )
    const resolved = yield* Effect.fromResult(resolve(first.serverVersion, options))
    // Fail fast on bad names, before anything is sent.
    yield* Effect.try({ try: () => command(options, resolved, Lsn.zero), catch: (e) => e as ReplicationError })
    const mode = options.snapshot ?? "never"
    const plan = yield* preflight(first, { ...options, waitForSlot: options.waitForSlot !== undefined, snapshot: mode })
    // The slot's first health reading and the backfills to resume are read on `first` before a snapshot's slot exports
    // its snapshot there: the exported snapshot lives only until the session's next command.
    const slotHealth = yield* Ref.make<SlotHealth | undefined>(undefined)
    const connectSql = connector.connectSql.pipe(Effect.mapError((e) => fromConnectionError(e)))
    yield* watchSlot({
      slot: options.slot,
      first,
      connectSql,
      heartbeat: options.heartbeat === undefined ? undefined : Duration.fromInputUnsafe(options.heartbeat),
      slotCheckInterval: Duration.fromInputUnsafe(options.slotCheckInterval ?? Duration.minutes(1)),
      health: slotHealth
    })
    // The backfills this slot's last consumer was running go on from their last committed chunk (below); a new
    // initial snapshot supersedes them. Asked before the temporary slot exists: its exported snapshot lives only
    // until this session's next command.
    const backfillSchema = options.backfillSchema ?? defaultProgressSchema
    const stored = yield* runningBackfills(first, backfillSchema, options.slot)
    // A snapshot alone ("initial_only") leaves the slot, and the backfills stored under its name, alone.
    if (plan._tag === "Snapshot" && mode !== "initial_only" && stored.length > 0) {
      yield* cancelRunning(first, backfillSchema, options.slot)
    }
    // The snapshot machinery is loaded only by a service that takes a snapshot.
    const snapshots =
      plan._tag === "Snapshot" ? yield* Effect.promise(() => import("./snapshot/snapshotPhase.ts")) : undefined
    const temporary =
      snapshots === undefined
        ? undefined
        : yield* snapshots.createTemporarySlot(first, options.slot, options.twoPhase === true)

    const statusInterval = Duration.fromInputUnsafe(options.statusInterval ?? Duration.seconds(10))
    const start = temporary?.consistentPoint ?? options.startLsn ?? (plan._tag === "Stream" ? plan.start : Lsn.zero)
    const state = yield* Ref.make(Feedback.initial(start, temporary === undefined ? "none" : "reading"))
    const sessionInfo = yield* Ref.make<SessionInfo>({ sessions: 0, statusInterval, walSenderTimeout: undefined })
    // Outlives sessions: a commit or flush asked during a reconnect is served by the next session.
    const signals = yield* Queue.unbounded<Signal, ReplicationError>()
    const queue = yield* Queue.unbounded<Received, ReplicationError | Cause.Done>()
    // Bounded in messages, not items: a permit per received message the consumer has not decoded yet.
    const bufferSize = Math.max(1, Math.floor(options.bufferSize ?? defaultBufferSize))
    const permits = yield* Semaphore.make(bufferSize)
    const slice = Math.min(bufferSize, maxSlice)
    const endAfterSnapshot = mode === "initial_only"
    const waiters = yield* makeCommitWaiters(Effect.map(Ref.get(state), (s) => s.committed))
    const backfills = yield* makeBackfills({
      slot: options.slot,
      publications: options.publications,
      schema: backfillSchema,
      userMessages: options.messages === true,
      heartbeats: options.heartbeatMessages === true,
      connectSql,
      // A chunk is the consumer's once it committed the transaction that carried it, and the server was told.
      committed: (lsn) => Effect.andThen(waiters.wait(lsn), flush),
      scope: yield* Effect.scope
    })
    if (plan._tag !== "Snapshot") yield* backfills.resume(stored)
    yield* Effect.forkScoped(backfills.serveSignals)
    const catalog = new TypeCatalog()
    const delivery = new Delivery({
      lookupTypes: lookupTypes(connectSql, catalog),
      queue,
      permits,
      state,
      endLsn: options.endLsn,
      endAfterSnapshot,
      desk: backfills.desk
    })
    const snapshotConfirmed = yield* Deferred.make<void>()
    yield* runService({
      options,
      connector,
      first,
      firstScope,
      resolved,
      snapshots,
      temporary,
      statusInterval,
      slice,
      state,
      sessionInfo,
      signals,
      queue,
      permits,
      delivery,
      catalog,
      connectSql,
      endAfterSnapshot,
      snapshotConfirmed: Deferred.await(snapshotConfirmed)
    })

    // One synchronous step per call (JavaScript runs it whole, so it is atomic as a Ref update is): a consumer commits
    // once per transaction, and on many small transactions the Effects of a Ref.modify, a flatMap and the waiters'
    // check were a measurable share of the drain.
    const commit = (lsn: Lsn.Lsn): Effect.Effect<void, ReplicationError> =>
      Effect.suspend(() => {
        const s = state.ref.current
        const r = Feedback.commitWithSignal(s, lsn)
        if (Result.isFailure(r)) {
          return Effect.fail(
            replicationError("CommitBeyondReceived", {
              message: `Cannot commit ${Lsn.format(r.failure.lsn)}: nothing beyond ${Lsn.format(r.failure.received)} has been received. Commit the WalMessage.lsnToConfirm of a message you processed.`
            })
          )
        }
        const [next, signal] = r.success
        state.ref.current = next
        if (signal === 0) return Effect.void
        // The signal queue is unbounded: an offer never waits (after the service ended it is refused, as before).
        if (signal & Feedback.wakeFeedback) Queue.offerUnsafe(signals, commitSignal)
        const release = signal & Feedback.committedMoved && waiters.waiting() ? waiters.release(lsn) : Effect.void
        return signal & Feedback.snapshotConfirmed
          ? Effect.andThen(Deferred.succeed(snapshotConfirmed, undefined), release)
          : release
      })

    function flushNow(): Effect.Effect<void, ReplicationError> {
      // A snapshot alone has no slot to report to.
      if (endAfterSnapshot) return Effect.void
      const done = Deferred.makeUnsafe<void, ReplicationError>()
      // A queue that is done (the service failed) answers its take with the failure.
      return Effect.flatMap(Queue.offer(signals, { _tag: "Flush", done }), (accepted) =>
        accepted ? Deferred.await(done) : Effect.flatMap(Queue.take(signals), () => Deferred.await(done))
      )
    }
    const flush = Effect.suspend(flushNow)

    const status = Effect.zipWith(
      Effect.zip(Ref.get(state), Ref.get(slotHealth)),
      Ref.get(sessionInfo),
      ([s, slotNow], info): ReplicationStatus => ({
        received: s.received,
        committed: s.committed,
        flushed: s.flushed,
        serverWalEnd: s.serverWalEnd,
        lagBytes: Feedback.lagBytes(s),
        sessions: info.sessions,
        statusInterval: info.statusInterval,
        walSenderTimeout: info.walSenderTimeout,
        slot: slotNow
      })
    )

    return {
      stream: Stream.fromPull(Effect.succeed(delivery.pullOne)),
      batches: Stream.fromPull(Effect.succeed(delivery.pullBatch)),
      commit,
      flush,
      status,
      backfill: (table, backfillOptions) =>
        endAfterSnapshot
          ? Effect.fail(
              replicationError("InvalidOption", {
                message:
                  'A backfill needs the stream: the "initial_only" snapshot mode has none. Use "initial" or "when_needed".'
              })
            )
          : backfills.backfill(table, backfillOptions)
    } satisfies ReplicationShape
  })
