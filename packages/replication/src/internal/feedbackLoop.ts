/**
 * The feedback fiber of a replication session: it sends standby status updates (what the consumer committed, see
 * Feedback.ts) whenever one is due, however slowly the stream is pulled:
 * - at once when the server asks for a reply (a keepalive with the reply flag, seen by the reader);
 * - at once for `flush` (the caller waits until the update is written);
 * - within `flushDelay` after a commit moved the position (so a crash repeats little work), at most once per delay
 *   however many commits come;
 * - otherwise every `interval` (which the session derives from the server's wal_sender_timeout, so the server never
 *   times the session out even while the reader is stopped by backpressure and keepalive requests wait unread).
 *
 * Signals come through one queue that outlives sessions: a commit or a flush asked between two sessions is served by
 * the next one. A flush whose update could not be written (the session died) goes back to the queue.
 *
 * It deliberately knows no bytes: `send` encodes and writes the update.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import type { ReplicationError } from "../ReplicationError.ts"

/** Why the feedback loop should look at the state now. */
export type Signal =
  | { readonly _tag: "Reply" }
  | { readonly _tag: "Commit" }
  | { readonly _tag: "Flush"; readonly done: Deferred.Deferred<void, ReplicationError> }

export const replySignal: Signal = { _tag: "Reply" }
export const commitSignal: Signal = { _tag: "Commit" }

export interface FeedbackLoopOptions {
  readonly signals: Queue.Queue<Signal, ReplicationError>
  /** The longest time between two status updates. */
  readonly interval: Duration.Duration
  /** The longest time between a commit that moved the position and the status update that reports it. */
  readonly flushDelay: Duration.Duration
  /** Encodes and writes one status update. */
  readonly send: Effect.Effect<void, ReplicationError>
}

/** Runs until `send` fails (the session is over); never succeeds. */
export const feedbackLoop = (options: FeedbackLoopOptions): Effect.Effect<never, ReplicationError> =>
  Effect.gen(function* () {
    const { signals, send } = options
    const interval = Duration.toMillis(options.interval)
    const flushDelay = Duration.toMillis(options.flushDelay)
    let deadline = (yield* Clock.currentTimeMillis) + interval
    // Uninterruptible between taking a signal and acting on it, so a flush taken is either answered or put back.
    const step = Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const wait = Duration.millis(Math.max(0, deadline - now))
        const signal = yield* restore(Effect.timeoutOption(Queue.take(signals), wait))
        if (Option.isSome(signal) && signal.value._tag === "Commit") {
          deadline = Math.min(deadline, now + flushDelay)
          return
        }
        if (Option.isSome(signal) && signal.value._tag === "Flush") {
          const flush = signal.value
          yield* restore(send).pipe(Effect.onError(() => Queue.offer(signals, flush)))
          yield* Deferred.succeed(flush.done, undefined)
        } else {
          yield* restore(send)
        }
        deadline = (yield* Clock.currentTimeMillis) + interval
      })
    )
    return yield* Effect.forever(step)
  })
