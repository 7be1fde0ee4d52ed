/**
 * The `Replication` service: a `Stream` of `WalMessage`s from a logical replication slot, `commit(lsn)` to say what
 * has been processed, and `status` for positions and lag.
 *
 * How it holds the invariants of DESIGN.md:
 * - At-least-once (1): status updates report only committed LSNs, or an idle keepalive's walEnd when everything
 *   received is committed (see Feedback.ts). A reconnect never reports more than that either.
 * - Monotonic, cheap commit (2): `commit` is one `Ref` update; it never touches the network.
 * - Never timed out (3): a feedback fiber of each session answers keepalives that ask for a reply at once and sends a
 *   status update every `statusInterval`, however slowly the stream is pulled. Backpressure: the reader takes a
 *   permit per XLogData (`bufferSize` in all) before it queues a slice of them, undecoded; the consumer returns an
 *   item's permits when it has pulled its last message. With no permits left the reader stops pulling the socket,
 *   and TCP stops the server.
 * - Bounded memory (5): at most `bufferSize` undecoded messages (views of the socket chunks) wait for the consumer;
 *   each row is decoded by the pull that hands it out.
 * - Resume (4): retryable failures (dropped connection, slot still held by the old walsender) reconnect on the
 *   `reconnect` schedule, which starts over once a session has received data. The new session starts after the last
 *   transaction handed to the consumer (never before its last commit) and what the old one queued is dropped, so the
 *   consumer is never handed a transaction older than one it has.
 *
 * Each session SETs DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3, bytea_output=hex and TimeZone=UTC
 * before START_REPLICATION: pgoutput prints text values with the walsender session's settings, so this makes the
 * text form independent of the database's defaults.
 *
 * It deliberately does not group messages into transactions, create slots or publications implicitly, or copy the
 * initial table contents.
 */
import { Connection, type ConnectionShape, type CopyBoth, type CopyDataFrames } from "@pgcdc/connection"
import {
  encodeReplicationToBytes,
  isProtocolError,
  Lsn,
  type ProtocolError,
  unsafeDecodeReplication,
  xlogDataHeaderLength
} from "@pgcdc/protocol"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Feedback from "./Feedback.ts"
import { commitSignal, feedbackLoop, replySignal, type Signal } from "./internal/feedbackLoop.ts"
import { preflight, slotHolder } from "./internal/preflight.ts"
import { supervise } from "./internal/supervisor.ts"
import { parseTimeSetting, statusIntervalFor } from "./internal/walSenderTimeout.ts"
import { fromConnectionError, ReplicationError, replicationError } from "./ReplicationError.ts"
import { command, type ResolvedStart, resolve, type StartOptions } from "./StartOptions.ts"
import { WalDecoder } from "./WalDecoder.ts"
import { endsTransaction, isBeyond, lsnToConfirm, type WalMessage } from "./WalMessage.ts"

export interface ReplicationOptions extends StartOptions {
  /** Where to start; default the slot's confirmed_flush_lsn (where the last consumer committed). */
  readonly startLsn?: Lsn.Lsn | undefined
  /** End the stream (normally) before the first transaction that commits after this LSN. */
  readonly endLsn?: Lsn.Lsn | undefined
  /**
   * The longest time between two status updates. Default 10 seconds. Each session reads the server's
   * `wal_sender_timeout` and sends at least every third of it when that is shorter, so no setting lets the server
   * time the session out, however long the consumer stalls (`status` shows the interval in use).
   */
  readonly statusInterval?: Duration.Input | undefined
  /**
   * How soon a commit reaches the server: a status update goes out at most this long after `commit` moves the
   * position (one update for all the commits in that time). After a crash, the work repeated is what was not
   * committed plus at most this much of what was. Default 1 second; `flush` sends one at once.
   */
  readonly flushDelay?: Duration.Input | undefined
  /**
   * When the slot is held by another process: without this option the service fails at once with "SlotActive"
   * naming that process; with it, the service waits on this schedule (a standby taking over when the active consumer
   * stops), logging who holds the slot every 10 seconds. The layer is built at once; the stream starts when the slot
   * is free. Example: `Schedule.spaced("1 second")`.
   */
  readonly waitForSlot?: Schedule.Schedule<unknown, ReplicationError> | undefined
  /**
   * Messages received ahead of the consumer, kept undecoded (the consumer decodes each one when it pulls it); when
   * this many wait, the reader stops reading the socket. Default 1024.
   */
  readonly bufferSize?: number | undefined
  /**
   * When to reconnect after a retryable failure. Default: exponential from 100 ms, at most 10 attempts in a row
   * (the count starts over after a session that received data).
   */
  readonly reconnect?: Schedule.Schedule<unknown, ReplicationError> | undefined
  /** How long a graceful stop waits for the server to end the copy. Default 10 seconds. */
  readonly stopTimeout?: Duration.Input | undefined
}

export interface ReplicationStatus {
  /** The highest WAL position received. */
  readonly received: Lsn.Lsn
  /** The highest LSN passed to `commit` (or the start position). */
  readonly committed: Lsn.Lsn
  /** The flush position last reported to the server. */
  readonly flushed: Lsn.Lsn
  /** The server's WAL end, from its latest message. */
  readonly serverWalEnd: Lsn.Lsn
  /** Bytes of WAL between the server's WAL end and what may be flushed now. */
  readonly lagBytes: bigint
  /** Sessions started so far (1 + reconnects): START_REPLICATION commands the server accepted. */
  readonly sessions: number
  /** The interval between status updates in the current session (see `statusInterval`). */
  readonly statusInterval: Duration.Duration
  /** The server's wal_sender_timeout as the current session read it; undefined before the first session. */
  readonly walSenderTimeout: Duration.Duration | undefined
}

export interface ReplicationShape {
  /** The WAL messages, in order. Consume it once: every message is delivered to one consumer. */
  readonly stream: Stream.Stream<WalMessage, ReplicationError>
  /**
   * The same messages as `stream`, in order, as non-empty arrays (what was decoded together, at most `bufferSize`
   * messages). For consumers that loop over an array themselves: it costs one pull per batch instead of one per
   * message. Each array is delivered whole or not at all, so stopping early (Stream.take) loses nothing. `stream` and
   * `batches` read the same messages: use one of them.
   */
  readonly batches: Stream.Stream<Arr.NonEmptyReadonlyArray<WalMessage>, ReplicationError>
  /**
   * Everything up to `lsn` is processed and may be discarded by the server. Monotonic (an older LSN is ignored),
   * fails with "CommitBeyondReceived" for an LSN beyond everything received, never waits on the network.
   */
  readonly commit: (lsn: Lsn.Lsn) => Effect.Effect<void, ReplicationError>
  /**
   * Sends a status update now (with everything committed so far) and completes once it is written to the server's
   * socket; during a reconnect, the next session sends it. Fails if the service has failed.
   */
  readonly flush: Effect.Effect<void, ReplicationError>
  readonly status: Effect.Effect<ReplicationStatus>
}

const messagesTotal = Metric.counter("pgcdc_replication_messages_total", {
  description: "WAL messages decoded",
  incremental: true
})
const bytesTotal = Metric.counter("pgcdc_replication_bytes_total", {
  description: "Bytes of CopyData received on the replication stream",
  incremental: true
})
const lagGauge = Metric.gauge("pgcdc_replication_lag_bytes", {
  description: "Bytes of WAL the server holds beyond the reported flush position",
  bigint: true
})
const reconnectsTotal = Metric.counter("pgcdc_replication_reconnects_total", {
  description: "Replication sessions restarted after a retryable failure",
  incremental: true
})

/** The service's metrics, for dashboards and tests (`Metric.value(ReplicationMetrics.messages)`). */
export const ReplicationMetrics = {
  messages: messagesTotal,
  bytes: bytesTotal,
  lagBytes: lagGauge,
  reconnects: reconnectsTotal
} as const

/** What `status` reports of the sessions; written by the session that starts, one at a time. */
interface SessionInfo {
  readonly sessions: number
  readonly statusInterval: Duration.Duration
  readonly walSenderTimeout: Duration.Duration | undefined
}

const defaultBufferSize = 1024
/** The most messages decoded in one step of the reader (a socket chunk holds a few hundred). */
const maxSlice = 256

const defaultReconnect: Schedule.Schedule<unknown, ReplicationError> = Schedule.max([
  Schedule.exponential("100 millis"),
  Schedule.recurs(10)
])

const sessionSettings = [
  "SET DateStyle = 'ISO'",
  "SET IntervalStyle = 'postgres'",
  "SET extra_float_digits = 3",
  "SET bytea_output = 'hex'",
  "SET TimeZone = 'UTC'"
]

/** CopyData payloads as offsets (`CopyBoth.frames`): payload `i` is `buffers[i]` from `starts[i]` to `ends[i]`. */
type Frames = CopyDataFrames

const XLOG_DATA = 0x77

/**
 * What the reader queues for the consumer: the XLogData among payloads `from` to `to` of one read (`count` of them;
 * the keepalives among them were handled by the reader), to decode with its session's decoder (`endCheck`: a
 * keepalive at or beyond `endLsn` followed them, so the stream ends there unless a transaction is open); or a
 * message of the service's own (Reconnected). A Data item holds one permit per XLogData, or one when it has none;
 * a Message holds none.
 */
type Received =
  | {
      readonly _tag: "Data"
      /** The session that received it: items of an older session are dropped (the new session sends them again). */
      readonly session: number
      readonly decoder: WalDecoder
      readonly frames: Frames
      readonly from: number
      readonly to: number
      readonly count: number
      readonly endCheck: boolean
    }
  | { readonly _tag: "Message"; readonly message: WalMessage }

const attempt = <A>(f: () => A): Effect.Effect<A, ReplicationError> =>
  Effect.try({
    try: f,
    catch: (e) =>
      e instanceof ReplicationError ? e : replicationError("InvalidOption", { message: String(e), cause: e })
  })

const badMessage = (e: ProtocolError): ReplicationError =>
  replicationError("Protocol", { message: `Bad replication message: ${e.message}`, cause: e })

const POSTGRES_EPOCH_MICROS = 946_684_800_000_000n

const make = (
  options: ReplicationOptions
): Effect.Effect<ReplicationShape, ReplicationError, Connection | Scope.Scope> =>
  Effect.gen(function* () {
    const first = yield* Connection
    if (first.config.replication !== "logical") {
      return yield* replicationError("InvalidOption", {
        message:
          'The Connection must be a logical walsender session: set replication: "logical" in its ConnectionConfig.'
      })
    }
    const resolved: ResolvedStart = yield* Effect.fromResult(resolve(first.serverVersion, options))
    // Fail fast on bad names, before anything is sent.
    yield* attempt(() => command(options, resolved, Lsn.zero))
    const slot = yield* preflight(first, {
      slot: options.slot,
      publications: options.publications,
      waitForSlot: options.waitForSlot !== undefined
    })
    const start = options.startLsn ?? slot.confirmedFlushLsn ?? Lsn.zero

    const statusInterval = Duration.fromInputUnsafe(options.statusInterval ?? Duration.seconds(10))
    const flushDelay = Duration.fromInputUnsafe(options.flushDelay ?? Duration.seconds(1))
    const stopTimeout = Duration.fromInputUnsafe(options.stopTimeout ?? Duration.seconds(10))
    const state = yield* Ref.make(Feedback.initial(start))
    /** Written by the sessions (one at a time), read by `status` and the supervisor. */
    const sessionInfo = yield* Ref.make<SessionInfo>({
      sessions: 0,
      statusInterval,
      walSenderTimeout: undefined
    })
    // Outlives sessions: a commit or flush asked during a reconnect is served by the next session.
    const signals = yield* Queue.unbounded<Signal, ReplicationError>()
    const endLsn = options.endLsn
    // Bounded in messages, not batches: a permit per received message the consumer has not decoded yet.
    const bufferSize = Math.max(1, Math.floor(options.bufferSize ?? defaultBufferSize))
    const slice = Math.min(bufferSize, maxSlice)
    const permits = yield* Semaphore.make(bufferSize)
    const queue = yield* Queue.unbounded<Received, ReplicationError | Cause.Done>()
    // Shared by the reader (which retires older sessions when it reconnects) and the consumer's side (below); declared
    // before the reader's fiber starts.
    /** The session whose messages may be handed out; items of older sessions are dropped. */
    let liveSession = 1
    /** Whether the current item belongs to an older session. */
    let stale = false
    /** The end LSN of the last transaction (or decision) handed to the consumer: where a new session may start. */
    let handedOut: Lsn.Lsn = Lsn.zero

    const session = (conn: ConnectionShape) =>
      Effect.gen(function* () {
        for (const sql of sessionSettings) {
          yield* conn.query(sql).pipe(Effect.mapError((e) => fromConnectionError(e, sql)))
        }
        const timeoutText = (yield* conn
          .query("SHOW wal_sender_timeout")
          .pipe(Effect.mapError((e) => fromConnectionError(e, "Reading wal_sender_timeout"))))[0]?.rows[0]?.[0]
        const timeoutMillis =
          timeoutText === null || timeoutText === undefined ? undefined : parseTimeSetting(timeoutText)
        const interval = statusIntervalFor(statusInterval, timeoutMillis)
        // In one synchronous step: retire what older sessions queued and choose where this one starts. Restarting
        // at the end of the last transaction handed to the consumer (never before what it committed) means the
        // consumer is never handed a transaction older than one it already has: a resend of those would make an
        // idempotent consumer step back in time, and a crash in between would keep it there. Only the transaction
        // it was in the middle of comes again, after the Reconnected marker. The slot itself still only ever
        // learns committed LSNs.
        const sessionNo = (yield* Ref.get(sessionInfo)).sessions + 1
        const from = yield* Ref.modify(state, (s) => {
          liveSession = sessionNo
          return [Lsn.max(s.committed, handedOut), s] as const
        })
        const copy = yield* conn.copyBoth(command(options, resolved, from)).pipe(
          Effect.mapError((e) => fromConnectionError(e, "START_REPLICATION")),
          // Who holds the slot decides what the supervisor does: our exiting walsender, or another consumer.
          Effect.catchIf(
            (e) => e.reason._tag === "SlotActive",
            (e) => Effect.flatMap(slotHolder(conn, options.slot, e), Effect.fail)
          )
        )
        yield* Ref.set(sessionInfo, {
          sessions: sessionNo,
          statusInterval: interval,
          walSenderTimeout: timeoutMillis === undefined ? undefined : Duration.millis(timeoutMillis)
        })
        yield* Ref.update(state, (s) => Feedback.onSessionStart(s, from))
        if (sessionNo > 1) {
          const restart: WalMessage = { _tag: "Reconnected", walStart: from, walEnd: from, session: sessionNo }
          // Without a permit: waiting here for the consumer would hold back the feedback fiber (one extra message
          // per session is the only cost).
          yield* Queue.offer(queue, { _tag: "Message", message: restart })
        }
        yield* Effect.annotateCurrentSpan({ "pgcdc.slot": options.slot, "pgcdc.start_lsn": Lsn.format(from) })
        const decoder = new WalDecoder(resolved)

        const sendStatus = sendStatusUpdate(copy, state)
        yield* Effect.addFinalizer(() =>
          sendStatus.pipe(Effect.andThen(copy.done), Effect.timeout(stopTimeout), Effect.ignore)
        )

        const feedback = feedbackLoop({ signals, interval, flushDelay, send: sendStatus })

        // The reader only frames: it decodes the CopyData envelope (XLogData header or keepalive), answers and records
        // keepalives, and queues the XLogData undecoded. The consumer decodes when it pulls, so a decoded row lives
        // only from its pull to its use: rows decoded ahead in another fiber were alive at every event-loop turn, so
        // V8's scavenges kept copying, then promoting, most of them (an old generation of garbage, hundreds of MB).
        const update = new Feedback.BatchUpdate()
        let queued = 0
        const applyUpdate = (s: Feedback.FeedbackState): Feedback.FeedbackState => {
          const next = update.apply(s, queued)
          update.reset()
          queued = 0
          return next
        }

        const frameSlice = (frames: Frames, from: number, to: number): Effect.Effect<void, ReplicationError> => {
          const { buffers, starts, ends } = frames
          const items: Array<Received> = []
          let itemFrom = from
          let count = 0
          let messages = 0
          let reply = false
          let bytes = 0
          update.reset()
          queued = 0
          for (let i = from; i < to; i++) {
            const buffer = buffers[i]!
            const start = starts[i]!
            const end = ends[i]!
            bytes += end - start
            if (buffer[start] === XLOG_DATA && end - start >= xlogDataHeaderLength) {
              // The header's positions are all the reader needs: no XLogData object or BigInt per message here (the
              // consumer decodes the message when it pulls). Anything else is decoded whole, errors included.
              update.dataAt(buffer, start)
              count++
              continue
            }
            let m: ReturnType<typeof unsafeDecodeReplication>
            try {
              m = unsafeDecodeReplication(buffer, start, end)
            } catch (e) {
              if (!isProtocolError(e)) throw e
              update.reset()
              return Effect.andThen(permits.release(to - from), Effect.fail(badMessage(e)))
            }
            if (m._tag === "PrimaryKeepalive") {
              update.keepalive(m.walEnd)
              if (m.replyRequested) reply = true
              if (endLsn !== undefined && m.walEnd >= endLsn) {
                // Whether the stream ends here depends on whether a transaction is open once the data before this
                // keepalive is decoded: the consumer decides.
                items.push({
                  _tag: "Data",
                  session: sessionNo,
                  decoder,
                  frames,
                  from: itemFrom,
                  to: i,
                  count,
                  endCheck: true
                })
                if (count > 0) queued++
                messages += count > 0 ? count : 1
                itemFrom = i + 1
                count = 0
              }
              continue
            }
            update.data(m.walStart, m.walEnd)
            count++
          }
          if (count > 0) {
            items.push({
              _tag: "Data",
              session: sessionNo,
              decoder,
              frames,
              from: itemFrom,
              to,
              count,
              endCheck: false
            })
            queued++
            messages += count
          }
          let effect: Effect.Effect<void> = Metric.update(bytesTotal, bytes)
          if (!update.isEmpty || queued > 0) effect = Effect.andThen(Ref.update(state, applyUpdate), effect)
          // Every item holds a permit per XLogData (an end check without data, one); keepalives return theirs.
          if (messages < to - from) effect = Effect.andThen(effect, permits.release(to - from - messages))
          if (items.length > 0) effect = Effect.andThen(effect, Queue.offerAll(queue, items))
          if (reply) effect = Effect.andThen(effect, Queue.offer(signals, replySignal))
          return Effect.asVoid(effect)
        }

        // No generator here: a generator object per read made V8 promote what it referenced (measured).
        const handleFrom = (
          reads: ReadonlyArray<Frames>,
          read: number,
          from: number
        ): Effect.Effect<void, ReplicationError> => {
          if (read >= reads.length) return Effect.void
          const frames = reads[read]!
          const total = frames.buffers.length
          if (from >= total) return handleFrom(reads, read + 1, 0)
          const to = Math.min(total, from + slice)
          // Permits taken are handed over with their items (or returned) without an interruption in between, which
          // would shrink the buffer for good.
          return Effect.flatMap(
            Effect.uninterruptibleMask((restore) =>
              Effect.flatMap(restore(permits.take(to - from)), () => frameSlice(frames, from, to))
            ),
            () => handleFrom(reads, read, to)
          )
        }
        const handleBatch = (reads: ReadonlyArray<Frames>): Effect.Effect<void, ReplicationError> =>
          handleFrom(reads, 0, 0)

        const reader = copy.frames.pipe(
          Stream.mapError((e) => fromConnectionError(e, "Replication stream")),
          Stream.runForEachArray(handleBatch),
          Effect.andThen(
            Effect.fail(
              replicationError("Connection", {
                message: "The server ended the replication stream",
                retryable: true
              })
            )
          )
        )
        return yield* Effect.raceFirst(reader, feedback)
      }).pipe(Effect.scoped, Effect.withSpan("Replication.session"))

    const supervisor = supervise({
      slot: options.slot,
      reconnect: options.reconnect ?? defaultReconnect,
      waitForSlot: options.waitForSlot,
      connect: (attempt) =>
        attempt === 1
          ? Effect.succeed(first)
          : Connection.make(first.config).pipe(Effect.mapError((e) => fromConnectionError(e))),
      session,
      progress: Effect.zipWith(Ref.get(sessionInfo), Ref.get(state), (info, s) => ({
        sessions: info.sessions,
        received: s.received
      })),
      reconnects: reconnectsTotal
    })

    // The stream fails with whatever ended the supervisor, defects and all: it never ends as if it had finished.
    // Flushes still waiting fail with it.
    yield* supervisor.pipe(
      Effect.onExit((exit) =>
        Effect.gen(function* () {
          const cause = exit._tag === "Failure" ? exit.cause : Cause.die(new Error("the supervisor ended"))
          yield* Queue.failCause(queue, cause)
          const pending = yield* Queue.clear(signals)
          yield* Queue.failCause(signals, cause)
          for (const signal of pending) {
            if (signal._tag === "Flush") yield* Deferred.failCause(signal.done, cause)
          }
        })
      ),
      Effect.forkScoped
    )

    const commit = (lsn: Lsn.Lsn): Effect.Effect<void, ReplicationError> =>
      Effect.flatMap(
        Ref.modify(state, (s): readonly [Feedback.CommitBeyondReceived | boolean, Feedback.FeedbackState] => {
          const r = Feedback.commitWithSignal(s, lsn)
          return Result.isSuccess(r) ? [r.success[1], r.success[0]] : [r.failure, s]
        }),
        (refused) =>
          refused === false
            ? Effect.void
            : refused === true
              ? Effect.asVoid(Queue.offer(signals, commitSignal))
              : Effect.fail(
                  replicationError("CommitBeyondReceived", {
                    message: `Cannot commit ${Lsn.format(refused.lsn)}: nothing beyond ${Lsn.format(refused.received)} has been received. Commit the walStart (or Commit's endLsn) of a message you processed.`
                  })
                )
      )

    const flush: Effect.Effect<void, ReplicationError> = Effect.suspend(() => {
      const done = Deferred.makeUnsafe<void, ReplicationError>()
      return Effect.flatMap(Queue.offer(signals, { _tag: "Flush", done }), (accepted) =>
        accepted ? Deferred.await(done) : Effect.flatMap(Queue.take(signals), () => Deferred.await(done))
      )
    })

    const status = Effect.zipWith(
      Ref.get(state),
      Ref.get(sessionInfo),
      (s, info): ReplicationStatus => ({
        received: s.received,
        committed: s.committed,
        flushed: s.flushed,
        serverWalEnd: s.serverWalEnd,
        lagBytes: Feedback.lagBytes(s),
        sessions: info.sessions,
        statusInterval: info.statusInterval,
        walSenderTimeout: info.walSenderTimeout
      })
    )

    // Delivery. The consumer's side keeps the item it is reading (shared by every run of the streams) and decodes
    // one message per pull of `stream`, just before handing it out: a decoded row then lives only from its pull to
    // its use. (Rows decoded ahead, in a batch or in another fiber, were alive whenever V8 scavenged, so most of them
    // were copied and then promoted: an old generation of garbage of hundreds of MB.) One message per pull also
    // keeps what a chunked pull could not: a consumer that stops early (Stream.take) and runs the stream again later
    // skips nothing. Only an exhausted item goes to the queue. The pull that hands out an item's last message
    // returns the item's permits to the reader and records it as decoded. `batches` decodes the rest of the item at
    // once and hands it out as one element, which a consumer cannot split. Past `endLsn`, or after a decoding
    // failure, every later pull ends (fails) the same way, so running the stream again cannot skip what follows.
    const noFrames: Frames = { buffers: [], starts: [], ends: [] }
    let frames = noFrames
    let position = 0
    let to = 0
    /** XLogData of the current item not handed out yet. */
    let left = 0
    let count = 0
    let decoder: WalDecoder | undefined
    let endCheck = false
    let itemSession = 0
    let inItem = false
    let lastData: Lsn.Lsn | undefined
    let delivered = 0
    let own: WalMessage | undefined
    let finished: Effect.Effect<never, ReplicationError | Cause.Done> | undefined
    const refillLock = Semaphore.makeUnsafe(1)

    /** The item is fully read: its permits go back to the reader and the feedback state learns what it held. */
    const complete = (): Effect.Effect<void> => {
      if (own !== undefined) {
        own = undefined
        return Effect.void
      }
      const held = count
      const wasStale = stale
      stale = false
      const inTransaction = decoder?.inTransaction ?? false
      const last = lastData
      const messages = delivered
      if (endCheck && !inTransaction && !wasStale) finished ??= Cause.done()
      frames = noFrames
      position = 0
      to = 0
      left = 0
      count = 0
      delivered = 0
      lastData = undefined
      endCheck = false
      inItem = false
      let effect: Effect.Effect<unknown> = permits.release(held > 0 ? held : 1)
      if (held > 0) {
        effect = Effect.andThen(
          effect,
          Ref.update(state, (s) =>
            // A dropped item only stops counting as undecoded: what its session had open is not open any more.
            wasStale ? Feedback.onDecoded(s, undefined, s.inTransaction) : Feedback.onDecoded(s, last, inTransaction)
          )
        )
      }
      // The item is already gone from the consumer's state: its permits and its feedback must follow, whatever happens.
      return Effect.uninterruptible(
        Effect.asVoid(messages > 0 ? Effect.andThen(effect, Metric.update(messagesTotal, messages)) : effect)
      )
    }

    /**
     * Decodes the next message of the current item, or returns undefined when there is none to hand out (the item
     * is exhausted, the end is reached or decoding failed: `finished` says which).
     */
    const decodeNext = (): WalMessage | undefined => {
      if (own !== undefined) return own
      if (finished !== undefined || decoder === undefined) return undefined
      if (inItem && itemSession !== liveSession) {
        // A newer session sends this again: the rest of the item is dropped, and completing it returns its permits.
        stale = true
        left = 0
        return undefined
      }
      const { buffers, starts, ends } = frames
      while (left > 0 && position < to) {
        const buffer = buffers[position]!
        const start = starts[position]!
        if (buffer[start] !== XLOG_DATA) {
          position++
          continue
        }
        let wal: WalMessage
        try {
          wal = decoder.unsafeDecodeFrame(buffer, start, ends[position]!)
        } catch (e) {
          if (e instanceof ReplicationError) finished = Effect.fail(e)
          else if (isProtocolError(e)) finished = Effect.fail(badMessage(e))
          else throw e
          return undefined
        }
        if (endLsn !== undefined && isBeyond(wal, endLsn)) {
          // Past the end: the consumer's stream ends, but the session (and its feedback fiber) stays until the
          // scope closes, so the final status update carries what the consumer commits after this.
          finished = Cause.done()
          return undefined
        }
        position++
        left--
        if (wal.walStart !== Lsn.zero) lastData = wal.walStart
        if (endsTransaction(wal)) handedOut = Lsn.max(handedOut, lsnToConfirm(wal) ?? wal.walStart)
        delivered++
        return wal
      }
      return undefined
    }

    const refill: Effect.Effect<void, ReplicationError | Cause.Done> = Effect.suspend(() => {
      // Another fiber pulling at the same time may have refilled while this one waited for the lock.
      if ((inItem || own !== undefined) && finished === undefined) return Effect.void
      if (finished !== undefined) return finished
      return Effect.map(Queue.take(queue), (item) => {
        if (item._tag === "Message") {
          own = item.message
        } else {
          frames = item.frames
          position = item.from
          to = item.to
          left = item.count
          count = item.count
          decoder = item.decoder
          itemSession = item.session
          stale = false
          endCheck = item.endCheck
          inItem = true
        }
      })
    })
    const lockedRefill = refillLock.withPermit(refill)

    const pullOne: Effect.Effect<readonly [WalMessage], ReplicationError | Cause.Done> = Effect.suspend(() => {
      const message = decodeNext()
      if (message === undefined) {
        if (finished !== undefined) return finished
        // An item that held no deliverable message (an end check) is completed here.
        return Effect.andThen(inItem ? complete() : Effect.void, Effect.andThen(lockedRefill, pullOne))
      }
      if (own !== undefined || left === 0) return Effect.as(complete(), [message] as const)
      return Effect.succeed([message] as const)
    })

    const pullBatch: Effect.Effect<readonly [Arr.NonEmptyReadonlyArray<WalMessage>], ReplicationError | Cause.Done> =
      Effect.suspend(() => {
        const out: Array<WalMessage> = []
        for (let m = decodeNext(); m !== undefined; m = own !== undefined ? undefined : decodeNext()) out.push(m)
        if (!Arr.isArrayNonEmpty(out)) {
          if (finished !== undefined) return finished
          return Effect.andThen(inItem ? complete() : Effect.void, Effect.andThen(lockedRefill, pullBatch))
        }
        if (own !== undefined || left === 0) return Effect.as(complete(), [out] as const)
        // Stopped early: past the end or a failure; the next pull reports it.
        return Effect.succeed([out] as const)
      })

    const stream: Stream.Stream<WalMessage, ReplicationError> = Stream.fromPull(Effect.succeed(pullOne))
    const batches: Stream.Stream<Arr.NonEmptyReadonlyArray<WalMessage>, ReplicationError> = Stream.fromPull(
      Effect.succeed(pullBatch)
    )

    return { stream, batches, commit, flush, status } satisfies ReplicationShape
  })

const sendStatusUpdate = (copy: CopyBoth, state: Ref.Ref<Feedback.FeedbackState>) =>
  Effect.gen(function* () {
    const [positions, lag] = yield* Ref.modify(state, (s) => {
      const [p, next] = Feedback.nextStatus(s)
      return [[p, Feedback.lagBytes(next)] as const, next]
    })
    const nowMillis = yield* Clock.currentTimeMillis
    const bytes = encodeReplicationToBytes({
      _tag: "StandbyStatusUpdate",
      written: positions.written,
      flushed: positions.flushed,
      applied: positions.applied,
      clientTime: BigInt(nowMillis) * 1000n - POSTGRES_EPOCH_MICROS,
      replyRequested: false
    })
    yield* Metric.update(lagGauge, lag)
    yield* copy.send(bytes).pipe(Effect.mapError((e) => fromConnectionError(e, "Sending a status update")))
  })

export class Replication extends Context.Service<Replication, ReplicationShape>()("@pgcdc/replication/Replication") {
  /** Starts replicating over the `Connection` in context (a logical walsender) for the lifetime of the scope. */
  static readonly make = make

  /**
   * The service as a layer over a `Connection` layer (`replication: "logical"`). Configuration mistakes (wal_level,
   * missing slot or publication, options the server is too old for) fail the layer; later failures fail the stream.
   */
  static readonly layer = (options: ReplicationOptions): Layer.Layer<Replication, ReplicationError, Connection> =>
    Layer.effect(Replication, make(options))
}
