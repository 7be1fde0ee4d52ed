/**
 * The reader of a replication session: turns the CopyData batches of the socket into items for the consumer's side.
 * For each payload it reads the envelope only: an XLogData's header positions (once, here: the consumer takes them
 * from the item and decodes only the pgoutput message), or a whole keepalive, which it records and, when the server
 * asks for a reply, passes to the feedback loop. XLogData are queued undecoded, a slice at a time.
 *
 * Backpressure: the reader takes one permit per XLogData (`bufferSize` in all) before it queues a slice; the
 * consumer's side returns them when it has pulled an item's last message. With no permits left the reader stops
 * pulling the socket, and TCP stops the server.
 *
 * It owns its accumulator (`ReceivedBatch`); what it learns goes to the feedback state through the Ref, once per
 * slice. It deliberately decodes no pgoutput message: a row decoded here would be alive for as long as it waits in
 * the queue, which made V8 copy and promote most of them (measured).
 */
import type { ConnectionError, CopyDataFrames } from "@pgcdc/connection"
import {
  isProtocolError,
  Lsn,
  type ProtocolError,
  readXLogDataPositions,
  unsafeDecodeReplication,
  xlogDataHeaderLength
} from "@pgcdc/protocol"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import type * as Ref from "effect/Ref"
import type * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { fromConnectionError, type ReplicationError, replicationError } from "../ReplicationError.ts"
import type { WalDecoder } from "./decoder/WalDecoder.ts"
import { replySignal, type Signal } from "./feedbackLoop.ts"
import type { FeedbackState } from "./feedbackState.ts"
import { bytesTotal } from "./metrics.ts"
import type { Received, ReceivedData } from "./received.ts"

const XLOG_DATA = 0x77

export interface SessionReaderOptions {
  readonly session: number
  readonly decoder: WalDecoder
  readonly endLsn: Lsn.Lsn | undefined
  /** The most XLogData queued as one item. */
  readonly slice: number
  readonly permits: Semaphore.Semaphore
  readonly queue: Queue.Queue<Received, ReplicationError | Cause.Done>
  readonly state: Ref.Ref<FeedbackState>
  readonly signals: Queue.Queue<Signal, ReplicationError>
}

export const badMessage = (e: ProtocolError): ReplicationError =>
  replicationError("Protocol", { message: `Bad replication message: ${e.message}`, cause: e })

/** Reads the session's frames until they end (the server ended the copy: retryable) or fail; never succeeds. */
export const readSession = (
  frames: Stream.Stream<CopyDataFrames, ConnectionError>,
  options: SessionReaderOptions
): Effect.Effect<never, ReplicationError> => {
  const batch = new ReceivedBatch()
  const slab = new PositionSlab()
  const handleBatch = (reads: ReadonlyArray<CopyDataFrames>) => handleFrom(options, batch, slab, reads, 0, 0)
  return frames.pipe(
    Stream.mapError((e) => fromConnectionError(e, "Replication stream")),
    Stream.runForEachArray(handleBatch),
    // Built only when the copy ends: an error built here, at every session start, costs its construction.
    Effect.andThen(
      Effect.failSync(() =>
        replicationError("Connection", { message: "The server ended the replication stream", retryable: true })
      )
    )
  )
}

// No generator here: a generator object per read made V8 promote what it referenced (measured).
const handleFrom = (
  options: SessionReaderOptions,
  batch: ReceivedBatch,
  slab: PositionSlab,
  reads: ReadonlyArray<CopyDataFrames>,
  read: number,
  from: number
): Effect.Effect<void, ReplicationError> => {
  if (read >= reads.length) return Effect.void
  const frames = reads[read]!
  const total = frames.buffers.length
  if (from >= total) return handleFrom(options, batch, slab, reads, read + 1, 0)
  const to = Math.min(total, from + options.slice)
  // Permits taken are handed over with their items (or returned) without an interruption in between, which would
  // shrink the buffer for good.
  return Effect.flatMap(
    Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(options.permits.take(to - from)), () => sliceOf(options, batch, slab, frames, from, to))
    ),
    () => handleFrom(options, batch, slab, reads, read, to)
  )
}

/** Handles payloads `from` to `to` of one read, holding `to - from` permits. */
const sliceOf = (
  options: SessionReaderOptions,
  batch: ReceivedBatch,
  slab: PositionSlab,
  frames: CopyDataFrames,
  from: number,
  to: number
): Effect.Effect<void, ReplicationError> => {
  const { buffers, starts, ends } = frames
  const items: Array<Received> = []
  const positions = slab.reserve(4 * (to - from))
  const base = slab.at
  let itemFrom = from
  let itemPositions = 0
  let count = 0
  let messages = 0
  let queued = 0
  let reply = false
  let bytes = 0
  const item = (itemTo: number, endCheck: boolean): ReceivedData => ({
    _tag: "Data",
    session: options.session,
    decoder: options.decoder,
    frames,
    from: itemFrom,
    to: itemTo,
    count,
    positions,
    positionsAt: base + 4 * itemPositions,
    endCheck
  })
  batch.reset()
  for (let i = from; i < to; i++) {
    const buffer = buffers[i]!
    const start = starts[i]!
    const end = ends[i]!
    bytes += end - start
    if (buffer[start] === XLOG_DATA && end - start >= xlogDataHeaderLength) {
      const at = base + 4 * (itemPositions + count)
      readXLogDataPositions(buffer, start, positions, at)
      batch.data(positions, at)
      count++
      continue
    }
    // Anything else is decoded whole, errors included (a truncated XLogData header among them).
    let m: ReturnType<typeof unsafeDecodeReplication>
    try {
      m = unsafeDecodeReplication(buffer, start, end)
    } catch (e) {
      if (!isProtocolError(e)) throw e
      batch.reset()
      return Effect.andThen(options.permits.release(to - from), Effect.fail(badMessage(e)))
    }
    if (m._tag !== "PrimaryKeepalive") {
      // Not reachable from any bytes: an XLogData with a whole header is handled above, a shorter one throws.
      return Effect.die(new Error("The replication reader decoded an XLogData it should have read in place"))
    }
    batch.keepalive(m.walEnd)
    if (m.replyRequested) reply = true
    if (options.endLsn !== undefined && m.walEnd >= options.endLsn) {
      // Whether the stream ends here depends on whether a transaction is open once the data before this keepalive is
      // decoded: the consumer's side decides.
      items.push(item(i, true))
      if (count > 0) queued++
      messages += count > 0 ? count : 1
      itemPositions += count
      itemFrom = i + 1
      count = 0
    }
  }
  if (count > 0) {
    items.push(item(to, false))
    queued++
    messages += count
  }
  slab.advance(4 * (itemPositions + count))
  // The state, the queue (unbounded) and the signals (unbounded) are updated synchronously, in this order, as their
  // Effects did one after another (fewer steps per socket read, which on many small transactions holds one or two).
  if (!batch.isEmpty || queued > 0) options.state.ref.current = batch.apply(options.state.ref.current, queued)
  if (items.length > 0) Queue.offerAllUnsafe(options.queue, items)
  if (reply) Queue.offerUnsafe(options.signals, replySignal)
  const metric = Metric.update(bytesTotal, bytes)
  // Every item holds a permit per XLogData (an end check without data, one); keepalives return theirs.
  return messages < to - from ? Effect.andThen(metric, options.permits.release(to - from - messages)) : metric
}

/**
 * What the reader received in one slice (XLogData positions and keepalives), accumulated in place so that it pays a
 * few comparisons per message instead of a new state (or a BigInt) per message; `apply` makes one feedback state of
 * it. Reused after `reset`.
 */
export class ReceivedBatch {
  private hasData = false
  // The highest received position and WAL end of the slice's XLogData, as 32-bit words.
  private receivedHi = 0
  private receivedLo = 0
  private walEndHi = 0
  private walEndLo = 0
  private serverWalEnd: Lsn.Lsn = Lsn.zero
  private hasKeepalive = false
  /** Highest keepalive walEnd since the last data message of the slice (or since the slice began). */
  private idleWalEnd: Lsn.Lsn | undefined = undefined

  get isEmpty(): boolean {
    return !this.hasData && !this.hasKeepalive
  }

  reset(): void {
    this.hasData = false
    this.receivedHi = 0
    this.receivedLo = 0
    this.walEndHi = 0
    this.walEndLo = 0
    this.serverWalEnd = Lsn.zero
    this.hasKeepalive = false
    this.idleWalEnd = undefined
  }

  /** An XLogData arrived: its positions are `words[at .. at + 4]` (walStart high, low, walEnd high, low). */
  data(words: Uint32Array, at: number): void {
    this.hasData = true
    const startHi = words[at]!
    const startLo = words[at + 1]!
    const endHi = words[at + 2]!
    const endLo = words[at + 3]!
    const startIsHigher = startHi > endHi || (startHi === endHi && startLo > endLo)
    const highHi = startIsHigher ? startHi : endHi
    const highLo = startIsHigher ? startLo : endLo
    if (highHi > this.receivedHi || (highHi === this.receivedHi && highLo > this.receivedLo)) {
      this.receivedHi = highHi
      this.receivedLo = highLo
    }
    if (endHi > this.walEndHi || (endHi === this.walEndHi && endLo > this.walEndLo)) {
      this.walEndHi = endHi
      this.walEndLo = endLo
    }
    this.idleWalEnd = undefined
  }

  /** A primary keepalive arrived. */
  keepalive(walEnd: Lsn.Lsn): void {
    this.hasKeepalive = true
    if (walEnd > this.serverWalEnd) this.serverWalEnd = walEnd
    if (this.idleWalEnd === undefined || walEnd > this.idleWalEnd) this.idleWalEnd = walEnd
  }

  /** The state after every message of the slice, with `queued` more items waiting to be decoded. */
  apply(s: FeedbackState, queued: number): FeedbackState {
    if (this.isEmpty && queued === 0) return s
    const idle = this.hasData
      ? this.idleWalEnd
      : this.idleWalEnd === undefined
        ? s.idleWalEnd
        : s.idleWalEnd === undefined
          ? this.idleWalEnd
          : Lsn.max(s.idleWalEnd, this.idleWalEnd)
    const serverWalEnd = Lsn.max(this.serverWalEnd, Lsn.fromWords(this.walEndHi, this.walEndLo))
    return {
      ...s,
      received: this.hasData ? Lsn.max(s.received, Lsn.fromWords(this.receivedHi, this.receivedLo)) : s.received,
      serverWalEnd: Lsn.max(s.serverWalEnd, serverWalEnd),
      idleWalEnd: idle,
      undecoded: s.undecoded + queued
    }
  }
}

/**
 * Where the reader writes the XLogData positions of its items: slices of one large array, handed out in order and
 * never written again (an item keeps its slab alive; a full slab is replaced, not reused). One typed array per slice
 * and a view per item were about 3 us of the service's 13 on a read that holds one small transaction
 * (bench/perRead.ts).
 */
export class PositionSlab {
  private words = new Uint32Array(0)
  /** The first free word of `words`. */
  at = 0

  /** An array with `n` free words from `at` (a fresh one when this one has too few left). */
  reserve(n: number): Uint32Array {
    if (this.at + n > this.words.length) {
      this.words = new Uint32Array(Math.max(n, slabWords))
      this.at = 0
    }
    return this.words
  }

  /** The words up to `at + n` are taken. */
  advance(n: number): void {
    this.at += n
  }
}

const slabWords = 16_384
