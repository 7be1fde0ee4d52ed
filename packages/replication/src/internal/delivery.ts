/**
 * The consumer's side of the Replication service: takes the reader's items from the queue and hands out one decoded
 * message per pull of `stream` (or the rest of an item per pull of `batches`).
 *
 * Decoding happens in the pull, just before the message is handed out, so a decoded row lives only from its pull to
 * its use. (Rows decoded ahead, in a batch or in another fiber, were alive whenever V8 scavenged, so most of them
 * were copied and then promoted: an old generation of garbage of hundreds of MB.) One message per pull also keeps
 * what a chunked pull could not: a consumer that stops early (`Stream.take`) and runs the stream again later skips
 * nothing. The pull that hands out an item's last message returns the item's permits to the reader and tells the
 * feedback state what the item held. Past `endLsn`, or after a decoding failure, every later pull ends (fails) the
 * same way, so running the stream again cannot skip what follows.
 *
 * One owner: a `Delivery` holds the current item, the last transaction end it handed out and the session whose
 * items may be handed out; whichever fiber pulls the stream runs its pulls (one at a time: refilling takes a lock),
 * and a starting session asks it where to start through `beginSession`, a synchronous call that cannot interleave
 * with a pull's synchronous decoding. It deliberately knows nothing of sockets or status updates.
 */
import { isProtocolError, Lsn, xlogDataHeaderLength } from "@pgcdc/protocol"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Semaphore from "effect/Semaphore"
import { ReplicationError } from "../ReplicationError.ts"
import { endsTransaction, isBeyond, lsnToConfirm, type Row, type WalMessage } from "../WalMessage.ts"
import * as Feedback from "./feedbackState.ts"
import { messagesTotal, snapshotRowsTotal } from "./metrics.ts"
import type { BackfillDesk } from "./backfill/desk.ts"
import type { Received, ReceivedData, ReceivedRows } from "./received.ts"
import { badMessage } from "./sessionReader.ts"

const XLOG_DATA = 0x77

type Pulled<A> = Effect.Effect<readonly [A], ReplicationError | Cause.Done>

export class Delivery {
  private readonly queue: Queue.Queue<Received, ReplicationError | Cause.Done>
  private readonly permits: Semaphore.Semaphore
  private readonly state: Ref.Ref<Feedback.FeedbackState>
  private readonly endLsn: Lsn.Lsn | undefined
  private readonly refillLock = Semaphore.makeUnsafe(1)

  /** The item being handed out, and where in it. */
  private item: ReceivedData | ReceivedRows | undefined = undefined
  private position = 0
  /** XLogData of the item not handed out yet, and the index of the next one's positions. */
  private left = 0
  private next = 0
  /** The walStart of the last message with a position handed out of the item; what the item held. */
  private lastData: Lsn.Lsn | undefined = undefined
  /** The last message of the item that was not handed out and sits outside any transaction (a heartbeat). */
  private passable: Lsn.Lsn | undefined = undefined
  private delivered = 0
  /** The item belongs to a session older than `liveSession`: its rest is dropped. */
  private stale = false
  /** A message of the service's own, handed out on the next pull. */
  private own: WalMessage | undefined = undefined
  /** Set once the stream is over for good (past endLsn, or a decoding failure): every pull ends the same way. */
  private finished: Effect.Effect<never, ReplicationError | Cause.Done> | undefined = undefined
  /** The session whose items may be handed out. */
  private liveSession = 1
  /** The end LSN of the last transaction (or decision) handed out: where a new session may start. */
  private handedOut: Lsn.Lsn = Lsn.zero

  /** The stream ends once SnapshotComplete is handed out (the "initial_only" snapshot mode). */
  private readonly endAfterSnapshot: boolean
  /** Backfills, watermarks and which logical messages the consumer sees. */
  private readonly desk: BackfillDesk
  /** Messages a watermark released, handed out before the rest of the item. */
  private pending: ReadonlyArray<WalMessage> = []
  private pendingAt = 0
  /** Looks user types up in the catalog (never fails); run before the message after a Relation naming one. */
  private readonly lookupTypes: ((oids: ReadonlyArray<number>) => Effect.Effect<void>) | undefined
  /** Types the last message handed out named and the catalog does not know: looked up before the next decode. */
  private unresolved: ReadonlyArray<number> | undefined = undefined

  constructor(options: {
    readonly queue: Queue.Queue<Received, ReplicationError | Cause.Done>
    readonly permits: Semaphore.Semaphore
    readonly state: Ref.Ref<Feedback.FeedbackState>
    readonly endLsn: Lsn.Lsn | undefined
    readonly endAfterSnapshot?: boolean | undefined
    readonly desk: BackfillDesk
    readonly lookupTypes?: ((oids: ReadonlyArray<number>) => Effect.Effect<void>) | undefined
  }) {
    this.lookupTypes = options.lookupTypes
    this.queue = options.queue
    this.permits = options.permits
    this.state = options.state
    this.endLsn = options.endLsn
    this.endAfterSnapshot = options.endAfterSnapshot === true
    this.desk = options.desk
  }

  /**
   * Session `session` starts: items of older sessions are dropped from now on, and it starts at the end of the last
   * transaction handed out (never before `committed`). Restarting there means the consumer is never handed a
   * transaction older than one it already has: a resend of those would make an idempotent consumer step back in
   * time, and a crash in between would keep it there. Only the transaction it was in the middle of comes again.
   */
  beginSession(session: number, committed: Lsn.Lsn): Lsn.Lsn {
    this.liveSession = session
    return Lsn.max(committed, this.handedOut)
  }

  /** The current item is fully read: its permits go back to the reader and the feedback state learns what it held. */
  private complete(): Effect.Effect<void> {
    const own = this.own
    if (own !== undefined) {
      this.own = undefined
      if (own._tag !== "SnapshotComplete") return Effect.void
      // Its next commit confirms the snapshot (and makes the slot permanent).
      if (this.endAfterSnapshot) this.finished ??= Cause.done()
      return Ref.update(this.state, Feedback.onSnapshotHandedOut)
    }
    const item = this.item!
    const messages = this.delivered
    this.item = undefined
    this.delivered = 0
    if (item._tag === "Rows") {
      this.stale = false
      return Effect.uninterruptible(
        Effect.andThen(this.permits.release(item.to - item.from), Metric.update(snapshotRowsTotal, messages))
      )
    }
    this.pending = []
    this.pendingAt = 0
    const wasStale = this.stale
    const inTransaction = item.decoder.inTransaction
    const last = this.lastData
    const passable = this.passable
    this.passable = undefined
    if (item.endCheck && !inTransaction && !wasStale) this.finished ??= Cause.done()
    this.stale = false
    this.lastData = undefined
    if (item.count > 0) {
      // Synchronously, as Ref.update would (one step fewer per item on many small transactions).
      const s = this.state.ref.current
      // A dropped item only stops counting as undecoded: what its session had open is not open any more.
      this.state.ref.current = wasStale
        ? Feedback.onDecoded(s, undefined, s.inTransaction)
        : Feedback.onDecoded(s, last, inTransaction, passable)
    }
    const release = this.permits.release(item.count > 0 ? item.count : 1)
    // The item is already gone from the consumer's state: its permits must follow, whatever happens.
    return Effect.uninterruptible(
      messages > 0 ? Effect.andThen(release, Metric.update(messagesTotal, messages)) : Effect.asVoid(release)
    )
  }

  /** The next row of a snapshot item, as a `Read`. */
  private readRow(item: ReceivedRows): WalMessage | undefined {
    if (this.left === 0) return undefined
    const { buffers, starts, ends } = item.frames
    const at = this.position
    let row: Row
    try {
      row = item.codec.decode(buffers[at]!, starts[at]!, ends[at]!)
    } catch (e) {
      if (e instanceof ReplicationError) this.finished = Effect.fail(e)
      else if (isProtocolError(e)) this.finished = Effect.fail(badMessage(e))
      else throw e
      return undefined
    }
    this.position++
    this.left--
    this.delivered++
    return { _tag: "Read", walStart: item.position, walEnd: item.position, table: item.codec.table, new: row }
  }

  /**
   * Decodes the next message of the current item, or returns undefined when there is none to hand out (the item is
   * exhausted, the end is reached or decoding failed: `finished` says which).
   */
  private decodeNext(): WalMessage | undefined {
    if (this.own !== undefined) return this.own
    if (this.pendingAt < this.pending.length) return this.pending[this.pendingAt++]
    const item = this.item
    if (this.finished !== undefined || item === undefined) return undefined
    if (item._tag === "Rows") return this.readRow(item)
    if (item.session !== this.liveSession) {
      // A newer session sends this again: the rest of the item is dropped, and completing it returns its permits.
      this.stale = true
      this.left = 0
      return undefined
    }
    const { buffers, starts, ends } = item.frames
    while (this.left > 0 && this.position < item.to) {
      const buffer = buffers[this.position]!
      const start = starts[this.position]!
      if (buffer[start] !== XLOG_DATA) {
        this.position++
        continue
      }
      const p = item.positions
      const at = item.positionsAt + 4 * this.next
      const walStart = Lsn.fromWords(p[at]!, p[at + 1]!)
      const walEnd = Lsn.fromWords(p[at + 2]!, p[at + 3]!)
      let wal: WalMessage
      try {
        wal = item.decoder.unsafeDecodeBody(
          buffer,
          start + xlogDataHeaderLength,
          ends[this.position]!,
          walStart,
          walEnd
        )
      } catch (e) {
        if (e instanceof ReplicationError) this.finished = Effect.fail(e)
        else if (isProtocolError(e)) this.finished = Effect.fail(badMessage(e))
        else throw e
        return undefined
      }
      if (this.endLsn !== undefined && isBeyond(wal, this.endLsn)) {
        // Past the end: the consumer's stream ends, but the session (and its feedback fiber) stays until the scope
        // closes, so the final status update carries what the consumer commits after this.
        this.finished = Cause.done()
        return undefined
      }
      this.position++
      this.next++
      this.left--
      this.delivered++
      if (wal._tag === "Message") {
        // Watermarks, signals and heartbeats are the service's own; other messages only when the consumer asked.
        const instead = this.desk.onMessage(wal)
        if (instead !== undefined && instead.length === 0) {
          // Hidden outside a transaction, it needs no commit from the consumer (feedbackState.onDecoded); inside
          // one, the transaction's end is what the consumer commits.
          if (!wal.transactional && !item.decoder.inTransaction) this.passable = wal.walStart
          else this.lastData = wal.walStart
          continue
        }
        this.lastData = wal.walStart
        if (instead === undefined) return wal
        this.pending = instead
        this.pendingAt = 1
        return instead[0]
      }
      if (wal.walStart !== Lsn.zero) this.lastData = wal.walStart
      switch (wal._tag) {
        case "Relation":
          // The progress table's Relation is the service's own, like its changes.
          if (this.desk.isOwnTable(wal.table)) continue
          // A type created after the session started: known before the rows that use it are decoded. (Its Type
          // messages come just before the Relation: one lookup for all of them.)
          if (this.lookupTypes !== undefined && item.decoder.cache.hasUnresolved) {
            const oids = item.decoder.cache.takeUnresolved()
            if (oids !== undefined && oids.length > 0) this.unresolved = oids
          }
          // The progress table's Relation is the service's own, as its changes (below) are.
          if (this.desk.isOwnTable(wal.table)) continue
          return wal
        case "Insert":
        case "Update":
        case "Delete":
          // The progress table's changes are the service's own; the transaction's end is what the consumer commits.
          if (this.desk.isOwnTable(wal.table)) continue
          if (this.desk.watching) this.desk.onChange(wal)
          return wal
        case "Truncate": {
          const kept = wal.tables.filter((t) => !this.desk.isOwnTable(t))
          if (kept.length === 0) continue
          const truncate = kept.length === wal.tables.length ? wal : { ...wal, tables: kept }
          if (this.desk.watching) this.desk.onChange(truncate)
          return truncate
        }
        default:
          if (endsTransaction(wal)) {
            // A type that a transaction streamed in progress created is visible to other sessions from now on.
            if (this.lookupTypes !== undefined && item.decoder.cache.catalog.hasRetries) {
              const oids = item.decoder.cache.catalog.takeRetries()
              if (oids !== undefined && oids.length > 0) this.unresolved = oids
            }
            const confirm = lsnToConfirm(wal) ?? wal.walStart
            this.handedOut = Lsn.max(this.handedOut, confirm)
            this.desk.onCommit(confirm)
          }
          return wal
      }
    }
    return undefined
  }

  private readonly refill: Effect.Effect<void, ReplicationError | Cause.Done> = Effect.suspend(() => {
    // Another fiber pulling at the same time may have refilled while this one waited for the lock.
    if (this.finished !== undefined) return this.finished
    if (this.item !== undefined || this.own !== undefined) return Effect.void
    return Effect.map(Queue.take(this.queue), (received) => {
      if (received._tag === "Message") {
        this.own = received.message
        return
      }
      this.item = received
      this.position = received.from
      this.left = received._tag === "Rows" ? received.to - received.from : received.count
      this.next = 0
      this.stale = false
    })
  })
  private readonly lockedRefill = this.refillLock.withPermit(this.refill)

  /** After a pull found nothing to hand out: the end, or the next item. */
  private advance<A>(again: Pulled<A>): Pulled<A> {
    if (this.finished !== undefined) return this.finished
    // An item that held no deliverable message (an end check) is completed here.
    return Effect.andThen(
      this.item !== undefined ? this.complete() : Effect.void,
      Effect.andThen(this.lockedRefill, again)
    )
  }

  /** Whether the message just handed out was the item's last. */
  private get exhausted(): boolean {
    return this.own !== undefined || (this.left === 0 && this.pendingAt >= this.pending.length)
  }

  /** The type lookup the last decoded message asked for, to run before the next decode (or undefined). */
  private takeLookup(): Effect.Effect<void> | undefined {
    const oids = this.unresolved
    if (oids === undefined) return undefined
    this.unresolved = undefined
    return this.lookupTypes!(oids)
  }

  /** One message per pull (`Replication.stream`). */
  readonly pullOne: Pulled<WalMessage> = Effect.suspend(() => {
    const message = this.decodeNext()
    if (message === undefined) return this.advance(this.pullOne)
    const lookup = this.takeLookup()
    const out: Pulled<WalMessage> = this.exhausted
      ? Effect.as(this.complete(), [message] as const)
      : Effect.succeed([message] as const)
    return lookup === undefined ? out : Effect.andThen(lookup, out)
  })

  /** The rest of the current item per pull (`Replication.batches`). */
  readonly pullBatch: Pulled<Arr.NonEmptyReadonlyArray<WalMessage>> = Effect.suspend(() => {
    const out: Array<WalMessage> = []
    for (
      let m = this.decodeNext();
      m !== undefined;
      m = this.own !== undefined || this.unresolved !== undefined ? undefined : this.decodeNext()
    ) {
      out.push(m)
    }
    if (!Arr.isArrayNonEmpty(out)) return this.advance(this.pullBatch)
    const lookup = this.takeLookup()
    const result: Pulled<Arr.NonEmptyReadonlyArray<WalMessage>> = this.exhausted
      ? Effect.as(this.complete(), [out] as const)
      : // Stopped early: past the end, a failure (the next pull reports it) or types to look up.
        Effect.succeed([out] as const)
    return lookup === undefined ? result : Effect.andThen(lookup, result)
  })
}
