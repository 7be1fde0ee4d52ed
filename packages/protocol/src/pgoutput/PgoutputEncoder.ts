/**
 * Encoder for pgoutput messages (protocol versions 1 to 4): the layout PgoutputCodec.ts decodes, for the fake server
 * and for property tests. Given a message that contradicts the options (an xid outside a stream, a missing abort LSN
 * under parallel streaming) it throws a `ProtocolError`: that is a bug in the caller, not bad input.
 */
import { ProtocolError } from "../ProtocolError.ts"
import { Writer } from "../Writer.ts"
import { hasAbortInfo, minProtoVersion, type PgoutputMessage, type PgoutputOptions } from "./PgoutputMessage.ts"
import { typeByTag } from "./pgoutputTypeBytes.ts"
import { writeTupleData } from "./TupleData.ts"

const contradiction = (messageName: string, field: string, detail: string): never => {
  throw new ProtocolError({ reason: "InvalidValue", messageName, field, detail })
}

const writeStreamXid = (w: Writer, tag: string, xid: number | undefined, inStream: boolean): void => {
  if (inStream) {
    if (xid === undefined) contradiction(tag, "xid", "inside a streamed transaction the xid is required")
    else w.u32(xid)
  } else if (xid !== undefined) contradiction(tag, "xid", "outside a streamed transaction there is no xid")
}

const loneSurrogate = /\p{Cs}/u

const cstring = (w: Writer, s: string, messageName: string, field: string): void => {
  if (s.includes("\u0000")) contradiction(messageName, field, "a NUL character cannot be sent in a C string")
  if (loneSurrogate.test(s)) contradiction(messageName, field, "a lone surrogate has no UTF-8 form")
  w.cstring(s)
}

/**
 * Writes one pgoutput message (no framing) into `w`. Throws `ProtocolError` when the message contradicts `options`
 * (see the module header) or holds a string with a NUL character or a lone surrogate.
 */
export const encodePgoutput = (message: PgoutputMessage, w: Writer, options: PgoutputOptions): Writer => {
  const tag = message._tag
  if (minProtoVersion[tag] > options.protoVersion) {
    contradiction(tag, "type", `${tag} needs protocol version ${minProtoVersion[tag]}, got ${options.protoVersion}`)
  }
  w.u8(typeByTag[tag])
  const inStream = options.inStream
  switch (message._tag) {
    case "Begin":
      w.u64(message.finalLsn).i64(message.commitTime).u32(message.xid)
      break
    case "Message":
      writeStreamXid(w, tag, message.xid, inStream)
      w.u8(message.transactional ? 1 : 0).u64(message.lsn)
      cstring(w, message.prefix, tag, "prefix")
      w.i32(message.content.length).bytes(message.content)
      break
    case "Commit":
      w.u8(message.flags).u64(message.commitLsn).u64(message.endLsn).i64(message.commitTime)
      break
    case "Origin":
      w.u64(message.commitLsn)
      cstring(w, message.name, tag, "name")
      break
    case "Relation":
      writeStreamXid(w, tag, message.xid, inStream)
      w.u32(message.relationId)
      cstring(w, message.namespace, tag, "namespace")
      cstring(w, message.relationName, tag, "relationName")
      w.u8(message.replicaIdentity.charCodeAt(0)).i16(message.columns.length)
      for (const c of message.columns) {
        w.u8(c.flags)
        cstring(w, c.name, tag, "columnName")
        w.u32(c.typeOid).i32(c.typeModifier)
      }
      break
    case "Type":
      writeStreamXid(w, tag, message.xid, inStream)
      w.u32(message.typeOid)
      cstring(w, message.namespace, tag, "namespace")
      cstring(w, message.typeName, tag, "typeName")
      break
    case "Insert":
      writeStreamXid(w, tag, message.xid, inStream)
      w.u32(message.relationId).u8(0x4e)
      writeTupleData(w, message.newTuple, tag)
      break
    case "Update":
      writeStreamXid(w, tag, message.xid, inStream)
      w.u32(message.relationId)
      if (message.key !== undefined && message.old !== undefined) {
        contradiction(tag, "key", "an Update carries a key or an old tuple, not both")
      }
      if (message.key !== undefined) writeTupleData(w.u8(0x4b), message.key, tag)
      else if (message.old !== undefined) writeTupleData(w.u8(0x4f), message.old, tag)
      writeTupleData(w.u8(0x4e), message.newTuple, tag)
      break
    case "Delete":
      writeStreamXid(w, tag, message.xid, inStream)
      w.u32(message.relationId)
      if (message.key !== undefined && message.old === undefined) writeTupleData(w.u8(0x4b), message.key, tag)
      else if (message.old !== undefined && message.key === undefined) writeTupleData(w.u8(0x4f), message.old, tag)
      else contradiction(tag, "key", "a Delete carries exactly one of key and old")
      break
    case "Truncate":
      writeStreamXid(w, tag, message.xid, inStream)
      w.i32(message.relationIds.length).u8((message.cascade ? 1 : 0) | (message.restartIdentity ? 2 : 0))
      for (const id of message.relationIds) w.u32(id)
      break
    case "StreamStart":
      w.u32(message.xid).u8(message.firstSegment ? 1 : 0)
      break
    case "StreamStop":
      break
    case "StreamCommit":
      w.u32(message.xid).u8(message.flags).u64(message.commitLsn).u64(message.endLsn).i64(message.commitTime)
      break
    case "StreamAbort":
      w.u32(message.xid).u32(message.subXid)
      if (hasAbortInfo(options)) {
        if (message.abortLsn === undefined || message.abortTime === undefined) {
          contradiction(tag, "abortLsn", "protocol 4 with streaming=parallel sends the abort LSN and time")
        } else w.u64(message.abortLsn).i64(message.abortTime)
      } else if (message.abortLsn !== undefined || message.abortTime !== undefined) {
        contradiction(tag, "abortLsn", "only protocol 4 with streaming=parallel sends the abort LSN and time")
      }
      break
    case "BeginPrepare":
      w.u64(message.prepareLsn).u64(message.endLsn).i64(message.prepareTime).u32(message.xid)
      cstring(w, message.gid, tag, "gid")
      break
    case "Prepare":
    case "StreamPrepare":
      w.u8(message.flags).u64(message.prepareLsn).u64(message.endLsn).i64(message.prepareTime).u32(message.xid)
      cstring(w, message.gid, tag, "gid")
      break
    case "CommitPrepared":
      w.u8(message.flags).u64(message.commitLsn).u64(message.endLsn).i64(message.commitTime).u32(message.xid)
      cstring(w, message.gid, tag, "gid")
      break
    case "RollbackPrepared":
      w.u8(message.flags)
        .u64(message.prepareEndLsn)
        .u64(message.rollbackEndLsn)
        .i64(message.prepareTime)
        .i64(message.rollbackTime)
        .u32(message.xid)
      cstring(w, message.gid, tag, "gid")
      break
  }
  return w
}

/** One pgoutput message as a fresh byte array. Throws like `encodePgoutput`. */
export const encodePgoutputToBytes = (message: PgoutputMessage, options: PgoutputOptions): Uint8Array =>
  encodePgoutput(message, new Writer(128), options).toBytes()
