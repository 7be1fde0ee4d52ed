/**
 * What the session reader hands to the consumer's side through the service's queue: a slice of one socket read's
 * XLogData, undecoded, with the positions the reader read from their headers; or a message of the service's own
 * (Reconnected). It deliberately holds no decoded rows: the consumer decodes a message when it pulls it.
 */
import type { CopyDataFrames } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import type { WalMessage } from "../WalMessage.ts"
import type { WalDecoder } from "./decoder/WalDecoder.ts"
import type { SnapshotRowCodec } from "./snapshot/rowCodec.ts"

/** XLogData among payloads `from` to `to` of one read (`count` of them; the keepalives among them were handled). */
export interface ReceivedData {
  readonly _tag: "Data"
  /** The session that received it: items of an older session are dropped (the new session sends them again). */
  readonly session: number
  /** Its session's decoder (one per session: the relation cache starts empty on every session). */
  readonly decoder: WalDecoder
  readonly frames: CopyDataFrames
  readonly from: number
  readonly to: number
  readonly count: number
  /**
   * For the i-th XLogData of the item, its walStart's high and low 32-bit words, then its walEnd's, at
   * `positionsAt + 4 * i`: read from the header once, by the reader (`readXLogDataPositions`). The array is a slab
   * the reader shares between items (see PositionSlab in sessionReader.ts); an item's words are never written again.
   */
  readonly positions: Uint32Array
  readonly positionsAt: number
  /** A keepalive at or beyond `endLsn` followed them: the stream ends here unless a transaction is open. */
  readonly endCheck: boolean
}

/** Rows of one initial-snapshot COPY, undecoded: payloads `from` to `to` of one read, one row each. */
export interface ReceivedRows {
  readonly _tag: "Rows"
  readonly codec: SnapshotRowCodec
  readonly frames: CopyDataFrames
  readonly from: number
  readonly to: number
  /** The snapshot's consistent point: the position of every `Read`. */
  readonly position: Lsn.Lsn
}

/**
 * One permit per XLogData of a Data item (one for an end check without data) and per row of a Rows item is held until
 * the consumer has pulled its last message; a Message holds none.
 */
export type Received = ReceivedData | ReceivedRows | { readonly _tag: "Message"; readonly message: WalMessage }
