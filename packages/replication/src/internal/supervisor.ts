/**
 * The reconnect supervisor: runs replication sessions one after another for the lifetime of the service and decides,
 * for each way a session ends, what happens next. This is the one place where endings are classified:
 * - retryable (the server ended the copy at shutdown or restart, 57P01/57P02/57P03, 08xxx, a closed or reset socket,
 *   a slot still held by our own previous walsender): reconnect on the `reconnect` schedule, which starts over after
 *   a session that received data, logging what happened and when the next attempt is;
 * - the slot held by another process: fail at once with `SlotActive` naming its PID, or, with `waitForSlot`, wait on
 *   that schedule, logging who holds it now and then;
 * - anything else (configuration, permissions, bad bytes): fail at once with the error;
 * - a defect: not caught here, so the service's stream fails with the full cause.
 * It returns only by failing: a replication stream has no natural end (the consumer's side ends at `endLsn`).
 *
 * It deliberately knows nothing of what a session does; `session` runs one and fails when it ends.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { type ReplicationError, withMessage } from "../ReplicationError.ts"
import { describeDelay, describeEnding } from "./sessionEnding.ts"

export interface SupervisorOptions {
  readonly slot: string
  readonly reconnect: Schedule.Schedule<unknown, ReplicationError>
  /** Wait for a slot held by another process instead of failing. */
  readonly waitForSlot: Schedule.Schedule<unknown, ReplicationError> | undefined
  /** Opens the connection of attempt `n` (1 is the first). */
  readonly connect: (attempt: number) => Effect.Effect<ConnectionShape, ReplicationError, Scope.Scope>
  /** Runs one session over `conn`; fails when it ends, succeeds when it was asked to end (go on at once). */
  readonly session: (conn: ConnectionShape) => Effect.Effect<void, ReplicationError, Scope.Scope>
  /** Sessions started so far and the highest position received: a session that received data resets the schedule. */
  readonly progress: Effect.Effect<Progress>
  readonly reconnects: Metric.Metric<number, unknown>
}

/** How often the log says again who holds a slot we are waiting for. */
const waitLogEvery = 10_000

export interface Progress {
  readonly sessions: number
  readonly received: Lsn.Lsn
}

type Step = (now: number, input: ReplicationError) => Pull.Pull<[unknown, Duration.Duration], ReplicationError, unknown>

export const supervise = (options: SupervisorOptions): Effect.Effect<never, ReplicationError> =>
  Effect.gen(function* () {
    let reconnect: Step = yield* Schedule.toStep(options.reconnect)
    let waitForSlot: Step | undefined =
      options.waitForSlot === undefined ? undefined : yield* Schedule.toStep(options.waitForSlot)
    let failuresInARow = 0
    /** The backend PID of our previous session: a slot held by it is ours, still exiting. */
    let previousPid: number | undefined
    let lastWaitLog: { readonly pid: number | undefined; readonly at: number } | undefined

    /** The delay before the next attempt on `step`, or undefined when the schedule is exhausted. */
    const next = (step: Step, error: ReplicationError) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        step(now, error).pipe(
          Effect.map(([, delay]) => delay),
          Pull.catchDone(() => Effect.succeed(undefined))
        )
      )

    for (let attempt = 1; ; attempt++) {
      const before = yield* options.progress
      let pid: number | undefined
      const outcome = yield* Effect.result(
        Effect.scoped(
          Effect.flatMap(options.connect(attempt), (conn) => {
            pid = conn.backendKey?.processId
            return options.session(conn)
          })
        )
      )
      if (Result.isSuccess(outcome)) {
        // A planned end (the snapshot's temporary slot became permanent): the next session starts at once.
        if (pid !== undefined) previousPid = pid
        reconnect = yield* Schedule.toStep(options.reconnect)
        failuresInARow = 0
        continue
      }
      const ended = outcome.failure
      const ourPid = previousPid
      if (pid !== undefined) previousPid = pid
      const after = yield* options.progress
      const started = after.sessions > before.sessions
      if (after.received > before.received) {
        reconnect = yield* Schedule.toStep(options.reconnect)
        failuresInARow = 0
      }

      // Held by another process (not our previous walsender, which is still exiting): theirs until they stop.
      const holder = ended.reason._tag === "SlotActive" ? ended.reason.pid : undefined
      if (holder !== undefined && holder !== ourPid) {
        if (waitForSlot === undefined) return yield* ended
        const delay = yield* next(waitForSlot, ended)
        if (delay === undefined) return yield* giveUp(ended, "waiting for the slot")
        const now = yield* Clock.currentTimeMillis
        if (lastWaitLog === undefined || lastWaitLog.pid !== holder || now - lastWaitLog.at >= waitLogEvery) {
          lastWaitLog = { pid: holder, at: now }
          yield* Effect.logInfo(
            `Replication slot "${options.slot}" is held by PID ${holder}; waiting for it (waitForSlot)`
          )
        }
        yield* Effect.sleep(delay)
        continue
      }
      lastWaitLog = undefined
      if (waitForSlot !== undefined && options.waitForSlot !== undefined) {
        waitForSlot = yield* Schedule.toStep(options.waitForSlot)
      }
      // A slot still held by our own exiting walsender (or by nobody any more) is worth another attempt.
      if (!ended.isRetryable && ended.reason._tag !== "SlotActive") return yield* ended
      failuresInARow++
      const delay = yield* next(reconnect, ended)
      if (delay === undefined) return yield* giveUp(ended, `${failuresInARow} attempts in a row`)
      yield* Metric.update(options.reconnects, 1)
      yield* Effect.logWarning(
        `${started ? "Replication session ended" : "Replication session could not start"}: ${describeEnding(ended)}; ${started ? "reconnecting" : "retrying"} in ${describeDelay(delay)}`
      )
      yield* Effect.sleep(delay)
    }
  })

const giveUp = (e: ReplicationError, after: string): Effect.Effect<never, ReplicationError> =>
  Effect.fail(withMessage(e, `Gave up reconnecting after ${after}: ${describeEnding(e)}`))
