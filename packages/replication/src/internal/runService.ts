/**
 * The Replication service's running part: the sessions, one after another under the supervisor, after the initial
 * snapshot when there is one, for the service's lifetime; and how the service ends: whatever ends it (failure, defect
 * or an unexpected end) fails the consumer's stream and every flush still waiting, so the stream never ends as if it
 * had finished (docs/design.md, invariant 9).
 *
 * It deliberately holds no state of its own: the feedback state, the queues and the delivery belong to
 * Replication.ts, which builds them and hands them in.
 */
import type { ConnectionShape, ConnectorShape } from "@pgcdc/connection"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Deferred from "effect/Deferred"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type * as Semaphore from "effect/Semaphore"
import { fromConnectionError, type ReplicationError } from "../ReplicationError.ts"
import type { ReplicationOptions } from "../Replication.ts"
import type { TypeCatalog } from "./decoder/TypeCatalog.ts"
import type { Delivery } from "./delivery.ts"
import type { Signal } from "./feedbackLoop.ts"
import type * as Feedback from "./feedbackState.ts"
import * as Metrics from "./metrics.ts"
import type { Received } from "./received.ts"
import { runSession, type SessionInfo } from "./session.ts"
import { defaultProgressSchema } from "./backfill/progressTable.ts"
import type { TemporarySlot } from "./snapshot/temporarySlot.ts"
import type { ResolvedStart } from "./startOptions.ts"
import { supervise } from "./supervisor.ts"

const defaultReconnect: Schedule.Schedule<unknown, ReplicationError> = Schedule.max([
  Schedule.exponential("100 millis"),
  Schedule.recurs(10)
])

export interface RunServiceOptions {
  readonly options: ReplicationOptions
  readonly connector: ConnectorShape
  /** The first session's connection (opened for the preflight) and its scope, closed with the first session. */
  readonly first: ConnectionShape
  readonly firstScope: Scope.Closeable
  readonly resolved: ResolvedStart
  /** The snapshot machinery, loaded only by a service that takes a snapshot (with `temporary`). */
  readonly snapshots: typeof import("./snapshot/snapshotPhase.ts") | undefined
  readonly temporary: TemporarySlot | undefined
  readonly statusInterval: Duration.Duration
  readonly slice: number
  readonly state: Ref.Ref<Feedback.FeedbackState>
  readonly sessionInfo: Ref.Ref<SessionInfo>
  readonly signals: Queue.Queue<Signal, ReplicationError>
  readonly queue: Queue.Queue<Received, ReplicationError | Cause.Done>
  readonly permits: Semaphore.Semaphore
  readonly delivery: Delivery
  readonly catalog: TypeCatalog
  readonly connectSql: Effect.Effect<ConnectionShape, ReplicationError, Scope.Scope>
  readonly endAfterSnapshot: boolean
  /** Completes when the consumer confirms the snapshot (commits SnapshotComplete). */
  readonly snapshotConfirmed: Effect.Effect<void>
}

/** Forks the service's sessions into the current scope. */
export const runService = (o: RunServiceOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    const {
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
      snapshotConfirmed
    } = o
    // The slot sessions stream from: the snapshot's temporary slot until the consumer confirms the snapshot.
    const slot = yield* Ref.make(temporary?.name ?? options.slot)
    const switchRequests = yield* Queue.bounded<void>(1)

    const session = runSession({
      // Logical messages always: backfill watermarks are messages (the desk hides them, and any message the consumer
      // did not ask for).
      start: { ...options, messages: true },
      slot,
      temporarySlot: temporary?.name,
      switchRequests,
      resolved,
      lazyValues: options.values === "lazy",
      endLsn: options.endLsn,
      statusInterval,
      flushDelay: Duration.fromInputUnsafe(options.flushDelay ?? Duration.seconds(1)),
      stopTimeout: Duration.fromInputUnsafe(options.stopTimeout ?? Duration.seconds(10)),
      slice,
      state,
      sessionInfo,
      signals,
      queue,
      permits,
      delivery,
      catalog
    })
    const supervisor = supervise({
      slot: options.slot,
      reconnect: options.reconnect ?? defaultReconnect,
      waitForSlot: options.waitForSlot,
      connect: (attempt) =>
        attempt === 1
          ? Effect.as(
              Effect.addFinalizer(() => Scope.close(firstScope, Exit.void)),
              first
            )
          : Effect.flatMap(Ref.get(slot), (current) =>
              snapshots !== undefined && current === temporary?.name
                ? Effect.fail(snapshots.temporarySlotLost(current, options.slot))
                : connector.connect.pipe(Effect.mapError((e) => fromConnectionError(e)))
            ),
      session,
      progress: Effect.zipWith(Ref.get(sessionInfo), Ref.get(state), (info, s) => ({
        sessions: info.sessions,
        received: s.received
      })),
      reconnects: Metrics.reconnectsTotal
    })
    const main =
      snapshots === undefined || temporary === undefined
        ? supervisor
        : snapshots.snapshotThen({
            temporary,
            slot: options.slot,
            publications: options.publications,
            backfillSchema: options.backfillSchema ?? defaultProgressSchema,
            sessions: options.snapshotSessions ?? 2,
            connectSql,
            slice,
            permits,
            queue,
            confirmed: snapshotConfirmed,
            // The permanent slot exists: sessions stream from it, and the one on the temporary slot ends.
            madePermanent: Effect.andThen(Ref.set(slot, options.slot), Queue.offer(switchRequests, undefined)),
            afterwards: endAfterSnapshot ? Effect.andThen(Scope.close(firstScope, Exit.void), Effect.never) : supervisor
          })
    // The stream fails with whatever ended the service, defects and all: it never ends as if it had finished.
    // Flushes still waiting fail with it.
    yield* main.pipe(
      Effect.onExit((exit) =>
        Effect.gen(function* () {
          const cause = Exit.isFailure(exit) ? exit.cause : Cause.die(new Error("the replication service ended"))
          yield* Queue.failCause(queue, cause)
          const pending = yield* Queue.clear(signals)
          yield* Queue.failCause(signals, cause)
          for (const signal of pending) if (signal._tag === "Flush") yield* Deferred.failCause(signal.done, cause)
        })
      ),
      Effect.forkScoped
    )
  })
