/**
 * The streaming-replication messages carried inside CopyData once START_REPLICATION has begun: XLogData ('w') and
 * primary keepalive ('k') from the server, standby status update ('r') and hot standby feedback ('h') from the
 * client. Layouts follow the PostgreSQL documentation page "protocol-replication".
 *
 * Decoding reads one CopyData payload (without the CopyData framing) through one reused `Reader`. The `data` of an
 * XLogData is a VIEW of the input, because the next step (the pgoutput decoder) copies whatever it keeps and the
 * hot path should not copy every WAL payload twice. Hold on to it past the next socket read only after copying it.
 *
 * It deliberately does not frame CopyData, know what the WAL payload contains, or track positions.
 */
import type { Lsn } from "../Lsn.ts"
import { ProtocolError } from "../ProtocolError.ts"
import { Reader } from "../Reader.ts"
import * as Result from "effect/Result"
import { Writer } from "../Writer.ts"

/** WAL data ('w'): `data` is the output plugin's message (a pgoutput message for logical replication). */
export interface XLogData {
  readonly _tag: "XLogData"
  /** The starting point of the WAL data in this message. */
  readonly walStart: Lsn
  /** The current end of WAL on the server. */
  readonly walEnd: Lsn
  /** The server's system clock at transmission (microseconds since 2000-01-01, see Timestamp). */
  readonly serverTime: bigint
  /** A view of the input bytes (see the module header). */
  readonly data: Uint8Array
}

/** Primary keepalive ('k'). */
export interface PrimaryKeepalive {
  readonly _tag: "PrimaryKeepalive"
  /** The current end of WAL on the server. */
  readonly walEnd: Lsn
  readonly serverTime: bigint
  /** The server asks for a status update as soon as possible (it is about to time the client out). */
  readonly replyRequested: boolean
}

/** Standby status update ('r'), sent by the client. */
export interface StandbyStatusUpdate {
  readonly _tag: "StandbyStatusUpdate"
  /** The last WAL byte + 1 received and written to disk. */
  readonly written: Lsn
  /** The last WAL byte + 1 flushed to disk: the position the server may discard WAL up to. */
  readonly flushed: Lsn
  /** The last WAL byte + 1 applied. */
  readonly applied: Lsn
  readonly clientTime: bigint
  /** Asks the server to reply with a keepalive immediately (used for pinging). */
  readonly replyRequested: boolean
}

/** Hot standby feedback ('h'), sent by the client. An xmin of 0 means "none". */
export interface HotStandbyFeedback {
  readonly _tag: "HotStandbyFeedback"
  readonly clientTime: bigint
  readonly xmin: number
  readonly xminEpoch: number
  readonly catalogXmin: number
  readonly catalogXminEpoch: number
}

/** What the server sends inside CopyData during replication. */
export type BackendReplicationMessage = XLogData | PrimaryKeepalive
/** What the client sends inside CopyData during replication. */
export type FrontendReplicationMessage = StandbyStatusUpdate | HotStandbyFeedback
export type ReplicationMessage = BackendReplicationMessage | FrontendReplicationMessage

const reader = new Reader(new Uint8Array(0), "ReplicationMessage")

const bool = (r: Reader, field: string): boolean => {
  const b = r.u8(field)
  if (b > 1) r.fail("InvalidValue", field, `expected 0 or 1, got ${b}`)
  return b === 1
}

const lsn = (r: Reader, field: string): Lsn => r.u64(field) as Lsn

/**
 * Decodes a server message, throwing `ProtocolError`. The fast variant for the hot path; `decodeReplication` wraps
 * it in a `Result`.
 */
export const unsafeDecodeReplication = (
  bytes: Uint8Array,
  start = 0,
  end = bytes.length
): BackendReplicationMessage => {
  const r = reader.reset(bytes, "ReplicationMessage", start, end)
  const type = r.u8("type")
  switch (type) {
    case 0x77: {
      r.messageName = "XLogData"
      const walStart = lsn(r, "walStart")
      const walEnd = lsn(r, "walEnd")
      const serverTime = r.i64("serverTime")
      const data = r.subarray(r.end - r.pos, "data")
      return { _tag: "XLogData", walStart, walEnd, serverTime, data }
    }
    case 0x6b: {
      r.messageName = "PrimaryKeepalive"
      const walEnd = lsn(r, "walEnd")
      const serverTime = r.i64("serverTime")
      const replyRequested = bool(r, "replyRequested")
      r.done()
      return { _tag: "PrimaryKeepalive", walEnd, serverTime, replyRequested }
    }
    default:
      return r.fail("UnknownType", "type", unknownType(type, "XLogData 'w' or PrimaryKeepalive 'k'"))
  }
}

/** The bytes of an XLogData before its data: the type byte 'w', walStart, walEnd and serverTime. */
export const xlogDataHeaderLength = 25

/** What `unsafeDecodeXLogDataHeader` read: an object of the caller's, overwritten by every call. */
export interface XLogDataHeader {
  walStart: Lsn
  walEnd: Lsn
  /** Where the XLogData's data begins in the input (it ends where the message ends). */
  dataStart: number
}

/**
 * Decodes the header of the XLogData at `bytes[start, end)` into `into`, for the hot path: the same checks as
 * `unsafeDecodeReplication` (fails with `ProtocolError` on anything else than a whole XLogData header), without the
 * message object, the view of its data or the serverTime BigInt that every message would otherwise cost.
 */
export const unsafeDecodeXLogDataHeader = (
  bytes: Uint8Array,
  start: number,
  end: number,
  into: XLogDataHeader
): XLogDataHeader => {
  const r = reader.reset(bytes, "ReplicationMessage", start, end)
  const type = r.u8("type")
  if (type !== 0x77) return r.fail("UnknownType", "type", unknownType(type, "XLogData 'w'"))
  r.messageName = "XLogData"
  into.walStart = lsn(r, "walStart")
  into.walEnd = lsn(r, "walEnd")
  r.need(8, "serverTime")
  into.dataStart = r.pos + 8
  return into
}

/**
 * The positions of the XLogData whose whole header (`xlogDataHeaderLength` bytes, type byte 'w', which the caller has
 * checked) starts at `bytes[start]`, as 32-bit words into `into[at .. at + 4]`: walStart's high and low word, then
 * walEnd's. For a reader that compares and keeps positions of many messages without a BigInt per message; `Lsn.fromWords`
 * turns a pair back into an LSN. Its data begins at `start + xlogDataHeaderLength`.
 */
export const readXLogDataPositions = (bytes: Uint8Array, start: number, into: Uint32Array, at: number): void => {
  into[at] = word(bytes, start + 1)
  into[at + 1] = word(bytes, start + 5)
  into[at + 2] = word(bytes, start + 9)
  into[at + 3] = word(bytes, start + 13)
}

/** The big-endian unsigned 32-bit word at `b[p]`. */
const word = (b: Uint8Array, p: number): number =>
  ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0

/** Decodes a client message (for fake servers and tests), throwing `ProtocolError`. */
export const unsafeDecodeReplicationFrontend = (
  bytes: Uint8Array,
  start = 0,
  end = bytes.length
): FrontendReplicationMessage => {
  const r = reader.reset(bytes, "ReplicationMessage", start, end)
  const type = r.u8("type")
  switch (type) {
    case 0x72: {
      r.messageName = "StandbyStatusUpdate"
      const written = lsn(r, "written")
      const flushed = lsn(r, "flushed")
      const applied = lsn(r, "applied")
      const clientTime = r.i64("clientTime")
      const replyRequested = bool(r, "replyRequested")
      r.done()
      return { _tag: "StandbyStatusUpdate", written, flushed, applied, clientTime, replyRequested }
    }
    case 0x68: {
      r.messageName = "HotStandbyFeedback"
      const clientTime = r.i64("clientTime")
      const xmin = r.u32("xmin")
      const xminEpoch = r.u32("xminEpoch")
      const catalogXmin = r.u32("catalogXmin")
      const catalogXminEpoch = r.u32("catalogXminEpoch")
      r.done()
      return { _tag: "HotStandbyFeedback", clientTime, xmin, xminEpoch, catalogXmin, catalogXminEpoch }
    }
    default:
      return r.fail("UnknownType", "type", unknownType(type, "StandbyStatusUpdate 'r' or HotStandbyFeedback 'h'"))
  }
}

const unknownType = (type: number, expected: string): string =>
  `0x${type.toString(16).padStart(2, "0")} is not ${expected}`

const catching =
  <A>(f: (bytes: Uint8Array, start?: number, end?: number) => A) =>
  (bytes: Uint8Array, start?: number, end?: number): Result.Result<A, ProtocolError> => {
    try {
      return Result.succeed(f(bytes, start, end))
    } catch (e) {
      if (e instanceof ProtocolError) return Result.fail(e)
      throw e
    }
  }

/** Decodes a CopyData payload sent by the server during replication. */
export const decodeReplication: (
  bytes: Uint8Array,
  start?: number,
  end?: number
) => Result.Result<BackendReplicationMessage, ProtocolError> = catching(unsafeDecodeReplication)

/** Decodes a CopyData payload sent by the client during replication (what a fake server reads). */
export const decodeReplicationFrontend: (
  bytes: Uint8Array,
  start?: number,
  end?: number
) => Result.Result<FrontendReplicationMessage, ProtocolError> = catching(unsafeDecodeReplicationFrontend)

/** Writes the CopyData payload of any replication message (no CopyData framing) into `w`. */
export const encodeReplication = (message: ReplicationMessage, w: Writer): Writer => {
  switch (message._tag) {
    case "XLogData":
      return w.u8(0x77).u64(message.walStart).u64(message.walEnd).i64(message.serverTime).bytes(message.data)
    case "PrimaryKeepalive":
      return w
        .u8(0x6b)
        .u64(message.walEnd)
        .i64(message.serverTime)
        .u8(message.replyRequested ? 1 : 0)
    case "StandbyStatusUpdate":
      return w
        .u8(0x72)
        .u64(message.written)
        .u64(message.flushed)
        .u64(message.applied)
        .i64(message.clientTime)
        .u8(message.replyRequested ? 1 : 0)
    case "HotStandbyFeedback":
      return w
        .u8(0x68)
        .i64(message.clientTime)
        .u32(message.xmin)
        .u32(message.xminEpoch)
        .u32(message.catalogXmin)
        .u32(message.catalogXminEpoch)
  }
}

/** The CopyData payload of a replication message, as a fresh array. */
export const encodeReplicationToBytes = (message: ReplicationMessage): Uint8Array =>
  encodeReplication(message, new Writer(64)).toBytes()
