/**
 * One replication session over one walsender connection: settings, START_REPLICATION from where the consumer's side
 * says, then two fibers until the session ends: the reader (socket to queue) and the feedback loop (status updates).
 * When its scope closes, a last status update carries what the consumer committed, then the copy is ended.
 *
 * Each session SETs DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3, bytea_output=hex and TimeZone=UTC
 * before START_REPLICATION: pgoutput prints text values with the walsender session's settings, so this makes the text
 * form independent of the database's defaults. It reads `wal_sender_timeout` to choose its status interval (settings
 * and the read go to the server as one simple query: one round trip instead of six), and the user-defined types the
 * tables' columns use into the service's type catalog (docs/design.md, "User-defined types").
 *
 * It deliberately does not retry: it fails with why it ended and the supervisor decides.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import type * as Semaphore from "effect/Semaphore"
import { fromConnectionError, type ReplicationError } from "../ReplicationError.ts"
import type { WalMessage } from "../WalMessage.ts"
import { loadTypes, type TypeCatalog, typesOfTables } from "./decoder/TypeCatalog.ts"
import { WalDecoder } from "./decoder/WalDecoder.ts"
import type { Delivery } from "./delivery.ts"
import { feedbackLoop, type Signal } from "./feedbackLoop.ts"
import * as Feedback from "./feedbackState.ts"
import { slotHolder } from "./preflight.ts"
import type { Received } from "./received.ts"
import { readSession } from "./sessionReader.ts"
import { command, type ResolvedStart, type StartOptions } from "./startOptions.ts"
import { sendStatusUpdate } from "./statusUpdate.ts"
import { parseTimeSetting, statusIntervalFor } from "./walSenderTimeout.ts"

/** What `status` reports of the sessions; written by the session that starts, one at a time. */
export interface SessionInfo {
  readonly sessions: number
  readonly statusInterval: Duration.Duration
  readonly walSenderTimeout: Duration.Duration | undefined
}

export interface SessionOptions {
  readonly start: StartOptions
  /** The slot to stream from: the options' slot, or an initial snapshot's temporary slot until it is made permanent. */
  readonly slot: Ref.Ref<string>
  /** The initial snapshot's temporary slot; a session on it ends (successfully) when `switchRequests` asks. */
  readonly temporarySlot: string | undefined
  readonly switchRequests: Queue.Queue<void>
  readonly resolved: ResolvedStart
  /** Rows decode their columns on first access (`ReplicationOptions.values: "lazy"`). */
  readonly lazyValues: boolean
  readonly endLsn: Lsn.Lsn | undefined
  readonly statusInterval: Duration.Duration
  readonly flushDelay: Duration.Duration
  readonly stopTimeout: Duration.Duration
  readonly slice: number
  readonly state: Ref.Ref<Feedback.FeedbackState>
  readonly sessionInfo: Ref.Ref<SessionInfo>
  readonly signals: Queue.Queue<Signal, ReplicationError>
  readonly queue: Queue.Queue<Received, ReplicationError | Cause.Done>
  readonly permits: Semaphore.Semaphore
  readonly delivery: Delivery
  /** The service's user types: loaded here before START_REPLICATION, shared with the session's decoder. */
  readonly catalog: TypeCatalog
}

/** The session's settings, then the timeout it reads: one simple query, whose last result is the SHOW. */
const sessionSetup = [
  "SET DateStyle = 'ISO'",
  "SET IntervalStyle = 'postgres'",
  "SET extra_float_digits = 3",
  "SET bytea_output = 'hex'",
  "SET TimeZone = 'UTC'",
  "SHOW wal_sender_timeout"
].join("; ")

/**
 * Runs one session over `conn` until it ends: fails with why, or succeeds when it was asked to end (a session on the
 * snapshot's temporary slot, once the permanent slot exists).
 */
export const runSession =
  (options: SessionOptions) =>
  (conn: ConnectionShape): Effect.Effect<void, ReplicationError, Scope.Scope> =>
    Effect.gen(function* () {
      const { state, sessionInfo } = options
      const setup = yield* conn
        .query(sessionSetup)
        .pipe(Effect.mapError((e) => fromConnectionError(e, "Setting up the session (DateStyle, IntervalStyle, ...)")))
      const timeoutText = setup.at(-1)?.rows[0]?.[0]
      const timeoutMillis = typeof timeoutText === "string" ? parseTimeSetting(timeoutText) : undefined
      const interval = statusIntervalFor(options.statusInterval, timeoutMillis)
      // While the walsender still answers SQL (it cannot once it streams): the user types the tables' columns use.
      yield* loadTypes(conn, typesOfTables, options.catalog)

      // In one synchronous step: retire what older sessions queued and choose where this one starts (Delivery).
      const slot = yield* Ref.get(options.slot)
      const session = (yield* Ref.get(sessionInfo)).sessions + 1
      const from = yield* Ref.modify(state, (s) => [options.delivery.beginSession(session, s.committed), s] as const)
      const copy = yield* conn.copyBoth(command({ ...options.start, slot }, options.resolved, from)).pipe(
        Effect.mapError((e) => fromConnectionError(e, "START_REPLICATION")),
        // Who holds the slot decides what the supervisor does: our exiting walsender, or another consumer.
        Effect.catchIf(
          (e) => e.reason._tag === "SlotActive",
          (e) => Effect.flatMap(slotHolder(conn, slot, e), Effect.fail)
        )
      )
      yield* Ref.set(sessionInfo, {
        sessions: session,
        statusInterval: interval,
        walSenderTimeout: timeoutMillis === undefined ? undefined : Duration.millis(timeoutMillis)
      })
      yield* Ref.update(state, (s) => Feedback.onSessionStart(s, from))
      if (session > 1) {
        const restart: WalMessage = { _tag: "Reconnected", walStart: from, walEnd: from, session }
        // Without a permit: waiting here for the consumer would hold back the feedback loop (one extra message per
        // session is the only cost).
        yield* Queue.offer(options.queue, { _tag: "Message", message: restart })
      }
      yield* Effect.annotateCurrentSpan({ "pgcdc.slot": slot, "pgcdc.session": session })

      const sendStatus = sendStatusUpdate(copy, state)
      yield* Effect.addFinalizer(() =>
        sendStatus.pipe(Effect.andThen(copy.done), Effect.timeout(options.stopTimeout), Effect.ignore)
      )
      const reader = readSession(copy.frames, {
        session,
        decoder: new WalDecoder({ ...options.resolved, catalog: options.catalog, lazyValues: options.lazyValues }),
        endLsn: options.endLsn,
        slice: options.slice,
        permits: options.permits,
        queue: options.queue,
        state,
        signals: options.signals
      })
      const feedback = feedbackLoop({
        signals: options.signals,
        interval,
        flushDelay: options.flushDelay,
        send: sendStatus
      })
      const running = Effect.raceFirst(reader, feedback)
      return yield* slot === options.temporarySlot
        ? Effect.raceFirst(running, Queue.take(options.switchRequests))
        : running
    }).pipe(Effect.withSpan("Replication.session"))
