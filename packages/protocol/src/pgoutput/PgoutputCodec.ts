/**
 * Decoder for pgoutput messages (protocol versions 1 to 4), byte for byte as documented on the PostgreSQL page
 * "protocol-logicalrep-message-formats". The encoder, for the fake server and property tests, is PgoutputEncoder.ts;
 * this module re-exports it, so the codec is one import.
 *
 * The decoder is a `switch` on the type byte over one reused `Reader`; it copies every byte array it keeps, decodes
 * text as strict UTF-8, rejects trailing bytes, and fails with a `ProtocolError` naming the message and field.
 * What the bytes cannot say comes from `PgoutputOptions`: whether an xid-bearing message is inside a streamed
 * transaction, and whether StreamAbort carries the parallel-apply fields. Messages that the negotiated protocol
 * version does not have (StreamStart under version 1, Prepare under version 2...) are rejected as `InvalidValue`.
 *
 * It deliberately keeps no state: tracking StreamStart/StreamStop and caching relations are the caller's job.
 */
import * as Result from "effect/Result"
import type { Lsn } from "../Lsn.ts"
import { ProtocolError } from "../ProtocolError.ts"
import { Reader } from "../Reader.ts"
import {
  hasAbortInfo,
  hasStreamXid,
  minProtoVersion,
  type PgoutputMessage,
  type PgoutputOptions,
  type PgoutputTag,
  type ReplicaIdentity,
  type RelationColumn
} from "./PgoutputMessage.ts"
import { typeByTag } from "./pgoutputTypeBytes.ts"
import { readTupleData } from "./TupleData.ts"

const reader = new Reader(new Uint8Array(0), "Pgoutput")

/** The inverse, indexed by type byte (a flat array: one load on the hot path). */
const tagByType: ReadonlyArray<PgoutputTag | undefined> = (() => {
  const out = new Array<PgoutputTag | undefined>(256).fill(undefined)
  for (const [tag, type] of Object.entries(typeByTag)) out[type] = tag as PgoutputTag
  return out
})()

const lsn = (r: Reader, field: string): Lsn => r.u64(field) as Lsn

const streamXid = (r: Reader, inStream: boolean): number | undefined => (inStream ? r.u32("xid") : undefined)

const bool = (r: Reader, field: string): boolean => {
  const b = r.u8(field)
  if (b > 1) r.fail("InvalidValue", field, `expected 0 or 1, got ${b}`)
  return b === 1
}

const replicaIdentity = (r: Reader): ReplicaIdentity => {
  const c = r.u8("replicaIdentity")
  switch (c) {
    case 0x64:
      return "d"
    case 0x6e:
      return "n"
    case 0x66:
      return "f"
    case 0x69:
      return "i"
    default:
      r.pos--
      return r.fail("InvalidValue", "replicaIdentity", `0x${c.toString(16)} is not 'd', 'n', 'f' or 'i'`)
  }
}

/** Reads a tuple introduced by the sub-type byte `expected` ('N', 'K' or 'O'). */
const tupleAfter = <T>(r: Reader, expected: number, field: string, relationId: number, read: TupleReader<T>): T => {
  const b = r.u8(field)
  if (b !== expected) {
    r.pos--
    r.fail("UnknownType", field, `expected '${String.fromCharCode(expected)}', got 0x${b.toString(16)}`)
  }
  return read(r, relationId, expected === 0x4b)
}

/** Reads one TupleData at the reader's position; `keyOnly` is true for an Update's or Delete's 'K' tuple. */
export type TupleReader<T> = (r: Reader, relationId: number, keyOnly: boolean) => T

/** An Insert, Update or Delete whose tuples are whatever a `TupleReader` made of them. */
export type RowChangeOf<T> =
  | { readonly _tag: "Insert"; readonly xid: number | undefined; readonly relationId: number; readonly newTuple: T }
  | {
      readonly _tag: "Update"
      readonly xid: number | undefined
      readonly relationId: number
      readonly key: T | undefined
      readonly old: T | undefined
      readonly newTuple: T
    }
  | {
      readonly _tag: "Delete"
      readonly xid: number | undefined
      readonly relationId: number
      readonly key: T | undefined
      readonly old: T | undefined
    }

/** The body of an Insert ('I'), Update ('U') or Delete ('D'), its tuples read by `read`. */
const rowChange = <T>(r: Reader, type: number, inStream: boolean, read: TupleReader<T>): RowChangeOf<T> => {
  const xid = streamXid(r, inStream)
  const relationId = r.u32("relationId")
  if (type === 0x49) {
    const newTuple = tupleAfter(r, 0x4e, "newTupleKind", relationId, read)
    return { _tag: "Insert", xid, relationId, newTuple }
  }
  const kind = r.u8("tupleKind")
  if (type === 0x55) {
    let key: T | undefined
    let old: T | undefined
    if (kind === 0x4b) key = read(r, relationId, true)
    else if (kind === 0x4f) old = read(r, relationId, false)
    else if (kind !== 0x4e) {
      r.pos--
      r.fail("UnknownType", "tupleKind", `expected 'K', 'O' or 'N', got 0x${kind.toString(16)}`)
    }
    const newTuple = kind === 0x4e ? read(r, relationId, false) : tupleAfter(r, 0x4e, "newTupleKind", relationId, read)
    return { _tag: "Update", xid, relationId, key, old, newTuple }
  }
  if (kind !== 0x4b && kind !== 0x4f) {
    r.pos--
    r.fail("UnknownType", "tupleKind", `expected 'K' or 'O', got 0x${kind.toString(16)}`)
  }
  const tuple = read(r, relationId, kind === 0x4b)
  return kind === 0x4b
    ? { _tag: "Delete", xid, relationId, key: tuple, old: undefined }
    : { _tag: "Delete", xid, relationId, key: undefined, old: tuple }
}

const isRowChangeType = (type: number | undefined): boolean => type === 0x49 || type === 0x55 || type === 0x44

/**
 * Decodes an Insert, Update or Delete with its tuples read by `read` (the replication package reads column values
 * straight from the bytes this way, without TupleData strings); `undefined` for any other message type, which the
 * caller decodes with `unsafeDecodePgoutput`. Same checks and errors as `unsafeDecodePgoutput` for the framing;
 * what `read` throws propagates. Throws `ProtocolError`.
 */
export const unsafeDecodeRowChange = <T>(
  bytes: Uint8Array,
  options: PgoutputOptions,
  read: TupleReader<T>,
  start = 0,
  end = bytes.length
): RowChangeOf<T> | undefined => {
  if (start >= end || !isRowChangeType(bytes[start])) return undefined
  const r = reader.reset(bytes, "Pgoutput", start, end)
  const type = r.u8("type")
  const tag = tagByType[type]!
  r.messageName = tag
  const inStream = options.inStream
  if (inStream && options.protoVersion < 2) {
    r.fail("InvalidValue", "xid", "streamed transactions need protocol version 2 or later")
  }
  const m = rowChange(r, type, inStream, read)
  r.done()
  return m
}

/**
 * Decodes one pgoutput message occupying `bytes[start, end)`, throwing `ProtocolError`. The hot-path variant;
 * `decodePgoutput` wraps it in a `Result`.
 */
export const unsafeDecodePgoutput = (
  bytes: Uint8Array,
  options: PgoutputOptions,
  start = 0,
  end = bytes.length
): PgoutputMessage => {
  const r = reader.reset(bytes, "Pgoutput", start, end)
  const type = r.u8("type")
  const tag = tagByType[type]
  if (tag === undefined) {
    r.pos--
    return r.fail("UnknownType", "type", `0x${type.toString(16).padStart(2, "0")} is not a pgoutput message type`)
  }
  r.messageName = tag
  if (minProtoVersion[tag] > options.protoVersion) {
    r.fail("InvalidValue", "type", `${tag} needs protocol version ${minProtoVersion[tag]}, got ${options.protoVersion}`)
  }
  const inStream = options.inStream
  if (inStream && options.protoVersion < 2 && hasStreamXid(tag)) {
    r.fail("InvalidValue", "xid", "streamed transactions need protocol version 2 or later")
  }
  const m = body(r, type, inStream, options)
  r.done()
  return m
}

/** The message after its type byte; `type` is known to be a pgoutput type here. */
const body = (r: Reader, type: number, inStream: boolean, options: PgoutputOptions): PgoutputMessage => {
  switch (type) {
    case 0x49:
    case 0x55:
    case 0x44:
      return rowChange(r, type, inStream, readTupleData)
    case 0x42: {
      const finalLsn = lsn(r, "finalLsn")
      const commitTime = r.i64("commitTime")
      const xid = r.u32("xid")
      return { _tag: "Begin", finalLsn, commitTime, xid }
    }
    case 0x43: {
      const flags = r.u8("flags")
      const commitLsn = lsn(r, "commitLsn")
      const endLsn = lsn(r, "endLsn")
      const commitTime = r.i64("commitTime")
      return { _tag: "Commit", flags, commitLsn, endLsn, commitTime }
    }
    case 0x52: {
      const xid = streamXid(r, inStream)
      const relationId = r.u32("relationId")
      const namespace = r.cstring("namespace")
      const relationName = r.cstring("relationName")
      const ident = replicaIdentity(r)
      const n = r.i16("columnCount")
      // A column takes at least 10 bytes (flags, empty name, type OID, modifier).
      if (n < 0 || n * 10 > r.end - r.pos) r.fail("LengthOutOfRange", "columnCount", `${n} columns`)
      const columns = new Array<RelationColumn>(n)
      for (let i = 0; i < n; i++) {
        const flags = r.u8("columnFlags")
        const name = r.cstring("columnName")
        const typeOid = r.u32("columnTypeOid")
        const typeModifier = r.i32("columnTypeModifier")
        columns[i] = { flags, name, typeOid, typeModifier }
      }
      return { _tag: "Relation", xid, relationId, namespace, relationName, replicaIdentity: ident, columns }
    }
    case 0x59: {
      const xid = streamXid(r, inStream)
      const typeOid = r.u32("typeOid")
      const namespace = r.cstring("namespace")
      const typeName = r.cstring("typeName")
      return { _tag: "Type", xid, typeOid, namespace, typeName }
    }
    case 0x54: {
      const xid = streamXid(r, inStream)
      const n = r.length("relationCount", 0, (r.end - r.pos - 1) >> 2)
      const options = r.u8("options")
      if ((options & ~3) !== 0) {
        r.pos--
        r.fail("InvalidValue", "options", `unknown option bits 0x${options.toString(16)}`)
      }
      const relationIds = new Array<number>(n)
      for (let i = 0; i < n; i++) relationIds[i] = r.u32("relationId")
      return { _tag: "Truncate", xid, cascade: (options & 1) !== 0, restartIdentity: (options & 2) !== 0, relationIds }
    }
    case 0x4d: {
      const xid = streamXid(r, inStream)
      const flags = r.u8("flags")
      if (flags > 1) {
        r.pos--
        r.fail("InvalidValue", "flags", `expected 0 or 1, got ${flags}`)
      }
      const messageLsn = lsn(r, "lsn")
      const prefix = r.cstring("prefix")
      const content = r.bytes(r.length("contentLength"), "content")
      return { _tag: "Message", xid, transactional: flags === 1, lsn: messageLsn, prefix, content }
    }
    case 0x4f: {
      const commitLsn = lsn(r, "commitLsn")
      const name = r.cstring("name")
      return { _tag: "Origin", commitLsn, name }
    }
    case 0x53: {
      const xid = r.u32("xid")
      const firstSegment = bool(r, "firstSegment")
      return { _tag: "StreamStart", xid, firstSegment }
    }
    case 0x45:
      return { _tag: "StreamStop" }
    case 0x63: {
      const xid = r.u32("xid")
      const flags = r.u8("flags")
      const commitLsn = lsn(r, "commitLsn")
      const endLsn = lsn(r, "endLsn")
      const commitTime = r.i64("commitTime")
      return { _tag: "StreamCommit", xid, flags, commitLsn, endLsn, commitTime }
    }
    case 0x41: {
      const xid = r.u32("xid")
      const subXid = r.u32("subXid")
      if (hasAbortInfo(options)) {
        const abortLsn = lsn(r, "abortLsn")
        const abortTime = r.i64("abortTime")
        return { _tag: "StreamAbort", xid, subXid, abortLsn, abortTime }
      }
      return { _tag: "StreamAbort", xid, subXid, abortLsn: undefined, abortTime: undefined }
    }
    case 0x62: {
      const prepareLsn = lsn(r, "prepareLsn")
      const endLsn = lsn(r, "endLsn")
      const prepareTime = r.i64("prepareTime")
      const xid = r.u32("xid")
      const gid = r.cstring("gid")
      return { _tag: "BeginPrepare", prepareLsn, endLsn, prepareTime, xid, gid }
    }
    case 0x50:
    case 0x70: {
      const flags = r.u8("flags")
      const prepareLsn = lsn(r, "prepareLsn")
      const endLsn = lsn(r, "endLsn")
      const prepareTime = r.i64("prepareTime")
      const xid = r.u32("xid")
      const gid = r.cstring("gid")
      return { _tag: type === 0x50 ? "Prepare" : "StreamPrepare", flags, prepareLsn, endLsn, prepareTime, xid, gid }
    }
    case 0x4b: {
      const flags = r.u8("flags")
      const commitLsn = lsn(r, "commitLsn")
      const endLsn = lsn(r, "endLsn")
      const commitTime = r.i64("commitTime")
      const xid = r.u32("xid")
      const gid = r.cstring("gid")
      return { _tag: "CommitPrepared", flags, commitLsn, endLsn, commitTime, xid, gid }
    }
    case 0x72: {
      const flags = r.u8("flags")
      const prepareEndLsn = lsn(r, "prepareEndLsn")
      const rollbackEndLsn = lsn(r, "rollbackEndLsn")
      const prepareTime = r.i64("prepareTime")
      const rollbackTime = r.i64("rollbackTime")
      const xid = r.u32("xid")
      const gid = r.cstring("gid")
      return { _tag: "RollbackPrepared", flags, prepareEndLsn, rollbackEndLsn, prepareTime, rollbackTime, xid, gid }
    }
    default:
      return r.fail("UnknownType", "type", `0x${type.toString(16)}`)
  }
}

/** Decodes one pgoutput message (the `data` of an XLogData, or a row of pg_logical_slot_get_binary_changes). */
export const decodePgoutput = (
  bytes: Uint8Array,
  options: PgoutputOptions,
  start?: number,
  end?: number
): Result.Result<PgoutputMessage, ProtocolError> => {
  try {
    return Result.succeed(unsafeDecodePgoutput(bytes, options, start, end))
  } catch (e) {
    if (e instanceof ProtocolError) return Result.fail(e)
    throw e
  }
}

export { encodePgoutput, encodePgoutputToBytes } from "./PgoutputEncoder.ts"
