/**
 * One session's START_REPLICATION stream: which WAL it has sent, the pgoutput options it runs with, and the walsender
 * timing (keepalives, reply requests, wal_sender_timeout), as a state machine with the current time passed in.
 *
 * - `pump` sends the WAL written since its last call as XLogData; once caught up, while the client has not confirmed
 *   everything sent, one keepalive follows (WalSndWaitForWal does the same, which is why a real server sends
 *   keepalives right after CopyBothResponse). Keepalives carry the position sent so far as walEnd.
 * - `onCopyData` reads StandbyStatusUpdate / HotStandbyFeedback: the slot's confirmed_flush only moves forward
 *   (LogicalConfirmReceivedLocation), its restart_lsn with it, and a reply request is answered with a keepalive at
 *   once.
 * - `deadline`/`due` tell the session when a keepalive or the timeout is due: an idle keepalive every
 *   `keepaliveInterval`, a reply request once half of wal_sender_timeout passed without any client message
 *   (WalSndKeepaliveIfNecessary), and the timeout itself.
 *
 * It deliberately writes through the session's `send` and never closes anything: the session owns the connection.
 */
import {
  type BackendMessage,
  encodePgoutput,
  encodeReplication,
  Lsn,
  Timestamp,
  unsafeDecodeReplicationFrontend,
  Writer
} from "@pgcdc/protocol"
import { DecodingError, type FakeServer, type PublishAction, type SlotState } from "./FakeServer.ts"
import { entryOutput, type OutputOptions } from "./Output.ts"
import type { SessionPublications } from "./PublishedChanges.ts"
import { RelationCache } from "./RelationCache.ts"
import type { FakeTable } from "./Wal.ts"

/** What the stream's timers ask for at a given moment. */
export type Due = "timeout" | "ping" | "keepalive" | undefined

export const pgNow = (millis: number): bigint => Timestamp.fromEpochMillis(millis)

export class WalStream {
  readonly slot: SlotState
  /** Clock reading of the client's last message (any message counts, as in the real walsender). */
  lastReply: number
  private readonly server: FakeServer
  private readonly pid: number
  private readonly start: bigint
  private readonly options: OutputOptions
  private readonly send: (message: BackendMessage) => void
  private readonly cache: RelationCache
  private readonly publications: SessionPublications = {
    publishes: (table: FakeTable, action: PublishAction): boolean =>
      this.server.publishes(this.options.publications, table.schema, table.name, action),
    columns: (table: FakeTable) => this.server.publishedColumns(this.options.publications, table),
    rowFilter: (table: FakeTable, action: PublishAction) =>
      this.server.rowFilter(this.options.publications, table, action),
    load: () => this.server.checkPublicationsExist(this.options.publications)
  }
  /** Index of the next WAL entry to decode. */
  private next = 0
  /** Last position sent (the walsender's sentPtr). */
  private sent: bigint
  private lastSend: number
  private waitingForPing = false
  /** The flush position of the client's last status update. */
  private flushReported = 0n
  /** Set when WAL was sent (or streaming began): one keepalive is owed once caught up. */
  private owesKeepalive = true

  constructor(
    server: FakeServer,
    pid: number,
    slot: SlotState,
    start: bigint,
    options: OutputOptions,
    send: (message: BackendMessage) => void
  ) {
    this.server = server
    this.cache = new RelationCache(server.wal.types)
    this.pid = pid
    this.slot = slot
    this.start = start
    this.sent = start
    this.options = options
    this.send = send
    const now = server.now()
    this.lastReply = now
    this.lastSend = now
    slot.activePid = pid
  }

  /**
   * Sends what the WAL holds beyond what was sent. Returns the error that ends the stream when decoding raises one
   * (publications that disagree on a table's columns, a missing publication before 18): the entry is not sent, and
   * the session reports the error.
   */
  pump(): DecodingError | undefined {
    const entries = this.server.wal.entries
    const now = this.server.now()
    const serverTime = pgNow(now)
    while (this.next < entries.length) {
      const entry = entries[this.next]!
      let items: ReturnType<typeof entryOutput>
      try {
        items = entryOutput(entry, this.options, this.cache, this.start, this.publications)
      } catch (e) {
        if (e instanceof DecodingError) return e
        throw e
      }
      this.next++
      for (const item of items) {
        const data = encodePgoutput(item.message, new Writer(128), {
          protoVersion: this.options.protoVersion,
          inStream: item.inStream,
          streaming: this.options.streaming
        }).toBytes()
        const lsn = Lsn.unsafeMake(item.lsn)
        this.copyData({ _tag: "XLogData", walStart: lsn, walEnd: lsn, serverTime, data })
        this.lastSend = now
      }
      if (entry.endLsn > this.sent) this.sent = entry.endLsn
      this.owesKeepalive = true
    }
    if (this.owesKeepalive && this.flushReported < this.sent && !this.waitingForPing) this.keepalive(false)
    this.owesKeepalive = false
    return undefined
  }

  keepalive(replyRequested: boolean): void {
    const now = this.server.now()
    this.copyData({
      _tag: "PrimaryKeepalive",
      walEnd: Lsn.unsafeMake(this.sent),
      serverTime: pgNow(now),
      replyRequested
    })
    this.lastSend = now
    if (replyRequested) this.waitingForPing = true
  }

  /** A CopyData from the client; throws `ProtocolError` for bytes that are not a replication message. */
  onCopyData(data: Uint8Array): void {
    const msg = unsafeDecodeReplicationFrontend(data)
    this.waitingForPing = false
    if (msg._tag === "StandbyStatusUpdate") {
      this.server.statusUpdates.push({
        pid: this.pid,
        slot: this.slot.name,
        update: msg,
        receivedAt: this.server.now()
      })
      if (msg.flushed > this.slot.confirmedFlush) {
        this.slot.confirmedFlush = msg.flushed
        // The WAL before it is no longer needed (PostgreSQL moves restart_lsn at its next running-xacts record; the
        // fake's transactions never overlap, so it can follow at once).
        if (msg.flushed > this.slot.restartLsn) this.slot.restartLsn = msg.flushed
      }
      this.flushReported = msg.flushed
      if (msg.replyRequested) this.keepalive(false)
    }
  }

  /** Releases the slot (a temporary slot stays with its session until the session ends). */
  release(): void {
    if (this.slot.activePid === this.pid && !this.slot.temporary) this.slot.activePid = undefined
  }

  /** The next moment something is due, in the server's milliseconds; undefined when nothing is timed. */
  deadline(idleKeepalives: boolean): number | undefined {
    const { walSenderTimeoutMillis: timeout, keepaliveIntervalMillis: interval } = this.server.config
    let deadline = Number.POSITIVE_INFINITY
    if (timeout > 0) {
      deadline = Math.min(deadline, this.lastReply + timeout)
      if (!this.waitingForPing) deadline = Math.min(deadline, this.lastReply + timeout / 2)
    }
    if (interval > 0 && idleKeepalives) deadline = Math.min(deadline, this.lastSend + interval)
    return Number.isFinite(deadline) ? deadline : undefined
  }

  /** What is due now, the most urgent first. */
  due(idleKeepalives: boolean): Due {
    const now = this.server.now()
    const { walSenderTimeoutMillis: timeout, keepaliveIntervalMillis: interval } = this.server.config
    if (timeout > 0 && now >= this.lastReply + timeout) return "timeout"
    if (timeout > 0 && !this.waitingForPing && now >= this.lastReply + timeout / 2) return "ping"
    if (interval > 0 && idleKeepalives && now >= this.lastSend + interval) return "keepalive"
    return undefined
  }

  private copyData(message: Parameters<typeof encodeReplication>[0]): void {
    this.send({ _tag: "CopyData", data: encodeReplication(message, new Writer(64)).toBytes() })
  }
}
