/**
 * Turns the XLogData of one replication session into `WalMessage`s: decodes the pgoutput bytes (telling the codec
 * whether it is inside a streamed block), keeps the relation cache, resolves row changes to their table, decodes each
 * column value losslessly, and tracks whether a transaction is open (the feedback state needs it).
 *
 * Row changes take the fast path (FastRows.ts); anything it does not handle, every error included, goes to the
 * general path (resolveMessage.ts), which gives the same values and reports errors exactly.
 *
 * Stateful and single-owner: one decoder per session, fed in order by one fiber. Bad bytes, undecodable values and
 * rows for unknown relations become a typed `ReplicationError`. It does no I/O and knows nothing about LSN feedback.
 */
import {
  isProtocolError,
  Lsn,
  type PgoutputMessage,
  type PgoutputOptions,
  type ProtoVersion,
  unsafeDecodePgoutput,
  unsafeDecodeXLogDataHeader,
  type XLogData,
  type XLogDataHeader
} from "@pgcdc/protocol"
import * as Result from "effect/Result"
import { ReplicationError, replicationError } from "../../ReplicationError.ts"
import type { WalMessage } from "../../WalMessage.ts"
import { FastRows } from "./FastRows.ts"
import { RelationCache } from "./RelationCache.ts"
import type { TypeCatalog } from "./TypeCatalog.ts"
import { resolveMessage } from "./resolveMessage.ts"
import { TransactionTracker } from "./TransactionTracker.ts"

export interface WalDecoderOptions {
  readonly protoVersion: ProtoVersion
  readonly streaming?: "off" | "on" | "parallel" | undefined
  /** The service's user types (shared by its sessions); a decoder of its own knows none. */
  readonly catalog?: TypeCatalog | undefined
  /** Rows of Insert, Update and Delete decode their columns on first access (`ReplicationOptions.values`). */
  readonly lazyValues?: boolean | undefined
}

export class WalDecoder {
  readonly cache: RelationCache
  private readonly transactions = new TransactionTracker()
  private readonly fast: FastRows
  /** The pgoutput options outside and inside a streamed block (made once: the hot path allocates none). */
  private readonly outsideStream: PgoutputOptions
  private readonly insideStream: PgoutputOptions
  /** Where `unsafeDecodeFrame` reads an XLogData header (reused: one per decoder, not one per message). */
  private readonly header: XLogDataHeader = { walStart: Lsn.zero, walEnd: Lsn.zero, dataStart: 0 }

  constructor(options: WalDecoderOptions) {
    this.cache = new RelationCache(options.catalog)
    this.fast = new FastRows(this.cache, options.lazyValues === true)
    this.outsideStream = { protoVersion: options.protoVersion, inStream: false, streaming: options.streaming }
    this.insideStream = { protoVersion: options.protoVersion, inStream: true, streaming: options.streaming }
  }

  private get options(): PgoutputOptions {
    return this.transactions.inStream ? this.insideStream : this.outsideStream
  }

  /** Whether a transaction (plain, or streamed and not yet committed or aborted) is open after the last message. */
  get inTransaction(): boolean {
    return this.transactions.inTransaction
  }

  /**
   * Decodes the pgoutput message `bytes[start, end)` of an XLogData whose header someone else read (the service's
   * reader reads each header once): its positions are `walStart` and `walEnd`. Throws `ReplicationError` or
   * `ProtocolError`.
   */
  unsafeDecodeBody(bytes: Uint8Array, start: number, end: number, walStart: Lsn.Lsn, walEnd: Lsn.Lsn): WalMessage {
    return (
      this.fast.decode(bytes, this.options, start, end, walStart, walEnd) ??
      this.general(bytes, start, end, walStart, walEnd)
    )
  }

  /**
   * Decodes the XLogData that is the CopyData payload `bytes[start, end)`, header included (for tools and benchmarks
   * that have a whole payload). Throws `ProtocolError` when the bytes are not a whole XLogData header,
   * `ReplicationError` for the message in it.
   */
  unsafeDecodeFrame(bytes: Uint8Array, start: number, end: number): WalMessage {
    const h = unsafeDecodeXLogDataHeader(bytes, start, end, this.header)
    return this.unsafeDecodeBody(bytes, h.dataStart, end, h.walStart, h.walEnd)
  }

  /** Decodes one XLogData; throws `ReplicationError`. */
  unsafeDecode(x: XLogData): WalMessage {
    return this.unsafeDecodeBody(x.data, 0, x.data.length, x.walStart, x.walEnd)
  }

  /** `unsafeDecode` without the fast row path: the reference the fast path is tested against. */
  unsafeDecodeGeneral(x: XLogData): WalMessage {
    return this.general(x.data, 0, x.data.length, x.walStart, x.walEnd)
  }

  decode(x: XLogData): Result.Result<WalMessage, ReplicationError> {
    try {
      return Result.succeed(this.unsafeDecode(x))
    } catch (e) {
      if (e instanceof ReplicationError) return Result.fail(e)
      throw e
    }
  }

  private general(bytes: Uint8Array, start: number, end: number, walStart: Lsn.Lsn, walEnd: Lsn.Lsn): WalMessage {
    let m: PgoutputMessage
    try {
      m = unsafeDecodePgoutput(bytes, this.options, start, end)
    } catch (e) {
      if (isProtocolError(e)) {
        throw replicationError("Protocol", {
          message: `The server sent a pgoutput message that cannot be decoded: ${e.message}`,
          cause: e
        })
      }
      throw e
    }
    this.transactions.track(m)
    return resolveMessage(this.cache, m, { walStart, walEnd })
  }
}
