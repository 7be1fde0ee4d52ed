/**
 * Decoding of backend (server → client) messages: one small function per message over the shared bounds-checked
 * `Reader`, dispatched by a `switch` on the type byte.
 *
 * Entry points:
 * - `decodeBackend(buf, start?, end?)`: one whole frame (type byte, int32 length, body) → `Result`.
 * - `unsafeDecodeBackend(buf, start?, end?)`: the same, throwing `ProtocolError` (hot path, no Result allocation).
 * - `unsafeDecodeBackendBody(type, buf, bodyStart, end)`: a body as handed out by the `Framer`, which has already
 *   checked the length.
 * - `decodeDataRowRaw` / `unsafeDecodeDataRowRawBody`: a DataRow whose columns are kept as bytes (binary format).
 *
 * Every decoder rejects truncation, trailing bytes, lengths out of range, invalid UTF-8 and values the protocol does
 * not define; unknown type bytes and authentication codes fail with `UnknownType`. Byte fields are copies, except
 * `CopyData.data`, which is a view (see `CopyData`). Decoders are not reentrant (one shared reader), which is fine
 * because they never call back into user code.
 */
import * as Result from "effect/Result"
import { isProtocolError, type ProtocolError, type ProtocolErrorReason } from "../ProtocolError.ts"
import { Reader } from "../Reader.ts"
import type {
  BackendMessage,
  CopyBothResponse,
  CopyInResponse,
  CopyOutResponse,
  FieldDescription,
  FormatCode,
  NoticeFields,
  TransactionStatus,
  UnknownNoticeField
} from "./BackendMessage.ts"
import { noticeFieldByByte } from "./NoticeFields.ts"

const reader = new Reader(new Uint8Array(0), "BackendMessage")

const AuthenticationOk = { _tag: "AuthenticationOk" } as const
const AuthenticationKerberosV5 = { _tag: "AuthenticationKerberosV5" } as const
const AuthenticationCleartextPassword = { _tag: "AuthenticationCleartextPassword" } as const
const AuthenticationGSS = { _tag: "AuthenticationGSS" } as const
const AuthenticationSSPI = { _tag: "AuthenticationSSPI" } as const
const EmptyQueryResponse = { _tag: "EmptyQueryResponse" } as const
const CopyDone = { _tag: "CopyDone" } as const

/**
 * A copy of the next `n` bytes in a plain `Uint8Array`. Not `Reader.bytes`: that uses `buf.slice`, and on a Node
 * `Buffer` (what sockets deliver) `slice` returns a view, which would break the promise that byte fields are copies.
 */
export const copyBytes = (r: Reader, n: number, field: string): Uint8Array => {
  r.need(n, field)
  const out = new Uint8Array(n)
  out.set(r.buf.subarray(r.pos, r.pos + n))
  r.pos += n
  return out
}

/** The rest of the message, copied (see `copyBytes`). */
export const copyRest = (r: Reader, field: string): Uint8Array => copyBytes(r, r.end - r.pos, field)

/** Fails pointing at the start of the field just read (`size` bytes back), not after it. */
export const failBack = (
  r: Reader,
  size: number,
  reason: ProtocolErrorReason,
  field: string,
  detail: string
): never => {
  r.pos -= size
  return r.fail(reason, field, detail)
}

/** Checks a frame's header against the bytes given and returns the reader positioned at the body. */
export const readFrameHeader = (r: Reader): number => {
  const type = r.u8("type")
  const len = r.i32("length")
  const actual = r.end - r.start - 1
  if (len < 4) failBack(r, 4, "LengthOutOfRange", "length", `${len} is below the minimum 4`)
  if (len > actual) failBack(r, 4, "Truncated", "length", `the frame says ${len} bytes, ${actual} given`)
  if (len < actual) failBack(r, 4, "TrailingBytes", "length", `the frame says ${len} bytes, ${actual} given`)
  return type
}

/** Decodes one whole frame, throwing `ProtocolError`. */
export const unsafeDecodeBackend = (buf: Uint8Array, start = 0, end: number = buf.length): BackendMessage => {
  const type = readFrameHeader(reader.reset(buf, "BackendMessage", start, end))
  return unsafeDecodeBackendBody(type, buf, start + 5, end)
}

/** Decodes one whole frame (type byte, length, body). */
export const decodeBackend = (
  buf: Uint8Array,
  start = 0,
  end: number = buf.length
): Result.Result<BackendMessage, ProtocolError> => {
  try {
    return Result.succeed(unsafeDecodeBackend(buf, start, end))
  } catch (e) {
    if (isProtocolError(e)) return Result.fail(e)
    throw e
  }
}

/** Decodes the body `buf[start, end)` of a message of the given type, throwing `ProtocolError`. */
export const unsafeDecodeBackendBody = (type: number, buf: Uint8Array, start: number, end: number): BackendMessage => {
  switch (type) {
    case 0x64: // 'd': first, it is the hot path
      return { _tag: "CopyData", data: buf.subarray(start, end) }
    case 0x44:
      return { _tag: "DataRow", values: dataRowValues(reader.reset(buf, "DataRow", start, end)) }
    case 0x52:
      return authentication(reader.reset(buf, "Authentication", start, end))
    case 0x53: {
      const r = reader.reset(buf, "ParameterStatus", start, end)
      const name = r.cstring("name")
      const value = r.cstring("value")
      r.done()
      return { _tag: "ParameterStatus", name, value }
    }
    case 0x4b: {
      const r = reader.reset(buf, "BackendKeyData", start, end)
      const processId = r.i32("processId")
      const n = r.remaining
      if (n < 4 || n > 256) r.fail("LengthOutOfRange", "secretKey", `${n} bytes, expected 4 to 256`)
      return { _tag: "BackendKeyData", processId, secretKey: copyRest(r, "secretKey") }
    }
    case 0x5a: {
      const r = reader.reset(buf, "ReadyForQuery", start, end)
      const status = r.u8("status")
      if (status !== 0x49 && status !== 0x54 && status !== 0x45) {
        failBack(r, 1, "InvalidValue", "status", `byte ${status} is not 'I', 'T' or 'E'`)
      }
      r.done()
      return { _tag: "ReadyForQuery", status: String.fromCharCode(status) as TransactionStatus }
    }
    case 0x54:
      return { _tag: "RowDescription", fields: rowDescription(reader.reset(buf, "RowDescription", start, end)) }
    case 0x43: {
      const r = reader.reset(buf, "CommandComplete", start, end)
      const commandTag = r.cstring("commandTag")
      r.done()
      return { _tag: "CommandComplete", commandTag }
    }
    case 0x49:
      reader.reset(buf, "EmptyQueryResponse", start, end).done()
      return EmptyQueryResponse
    case 0x45:
      return { _tag: "ErrorResponse", ...noticeFields(reader.reset(buf, "ErrorResponse", start, end)) }
    case 0x4e:
      return { _tag: "NoticeResponse", ...noticeFields(reader.reset(buf, "NoticeResponse", start, end)) }
    case 0x76: {
      const r = reader.reset(buf, "NegotiateProtocolVersion", start, end)
      const newestMinorVersion = r.i32("newestMinorVersion")
      const n = r.length("optionCount", 0, r.remaining)
      const unrecognizedOptions = new Array<string>(n)
      for (let i = 0; i < n; i++) unrecognizedOptions[i] = r.cstring("option")
      r.done()
      return { _tag: "NegotiateProtocolVersion", newestMinorVersion, unrecognizedOptions }
    }
    case 0x47:
      return copyResponse("CopyInResponse", buf, start, end)
    case 0x48:
      return copyResponse("CopyOutResponse", buf, start, end)
    case 0x57:
      return copyResponse("CopyBothResponse", buf, start, end)
    case 0x63:
      reader.reset(buf, "CopyDone", start, end).done()
      return CopyDone
    case 0x41: {
      const r = reader.reset(buf, "NotificationResponse", start, end)
      const processId = r.i32("processId")
      const channel = r.cstring("channel")
      const payload = r.cstring("payload")
      r.done()
      return { _tag: "NotificationResponse", processId, channel, payload }
    }
    default:
      return reader
        .reset(buf, "BackendMessage", start, end)
        .fail("UnknownType", "type", `type byte ${type} (${JSON.stringify(String.fromCharCode(type))})`)
  }
}

const authentication = (r: Reader): BackendMessage => {
  const code = r.i32("code")
  switch (code) {
    case 0:
      return empty(r, "AuthenticationOk", AuthenticationOk)
    case 2:
      return empty(r, "AuthenticationKerberosV5", AuthenticationKerberosV5)
    case 3:
      return empty(r, "AuthenticationCleartextPassword", AuthenticationCleartextPassword)
    case 5: {
      r.messageName = "AuthenticationMD5Password"
      const salt = copyBytes(r, 4, "salt")
      r.done()
      return { _tag: "AuthenticationMD5Password", salt }
    }
    case 7:
      return empty(r, "AuthenticationGSS", AuthenticationGSS)
    case 8:
      r.messageName = "AuthenticationGSSContinue"
      return { _tag: "AuthenticationGSSContinue", data: copyRest(r, "data") }
    case 9:
      return empty(r, "AuthenticationSSPI", AuthenticationSSPI)
    case 10: {
      r.messageName = "AuthenticationSASL"
      const mechanisms: Array<string> = []
      for (;;) {
        r.need(1, "mechanism")
        if (r.buf[r.pos] === 0) break
        mechanisms.push(r.cstring("mechanism"))
      }
      r.pos++
      r.done()
      return { _tag: "AuthenticationSASL", mechanisms }
    }
    case 11:
      r.messageName = "AuthenticationSASLContinue"
      return { _tag: "AuthenticationSASLContinue", data: copyRest(r, "data") }
    case 12:
      r.messageName = "AuthenticationSASLFinal"
      return { _tag: "AuthenticationSASLFinal", data: copyRest(r, "data") }
    default:
      return failBack(r, 4, "UnknownType", "code", `authentication request ${code}`)
  }
}

const empty = <A>(r: Reader, name: string, value: A): A => {
  r.messageName = name
  r.done()
  return value
}

const dataRowValues = (r: Reader): Array<string | null> => {
  const n = r.i16("columnCount")
  if (n < 0) failBack(r, 2, "LengthOutOfRange", "columnCount", `${n} is negative`)
  const values = new Array<string | null>(n)
  for (let i = 0; i < n; i++) {
    const len = r.i32("columnLength")
    if (len === -1) values[i] = null
    else if (len < 0) failBack(r, 4, "LengthOutOfRange", "columnLength", `${len} is neither -1 (NULL) nor a length`)
    else values[i] = r.string(len, "columnValue")
  }
  r.done()
  return values
}

/** A DataRow body with every column as a copy of its bytes (for binary-format results), null for SQL NULL. */
export const unsafeDecodeDataRowRawBody = (
  buf: Uint8Array,
  start: number,
  end: number
): ReadonlyArray<Uint8Array | null> => {
  const r = reader.reset(buf, "DataRow", start, end)
  const n = r.i16("columnCount")
  if (n < 0) failBack(r, 2, "LengthOutOfRange", "columnCount", `${n} is negative`)
  const values = new Array<Uint8Array | null>(n)
  for (let i = 0; i < n; i++) {
    const len = r.i32("columnLength")
    if (len === -1) values[i] = null
    else if (len < 0) failBack(r, 4, "LengthOutOfRange", "columnLength", `${len} is neither -1 (NULL) nor a length`)
    else values[i] = copyBytes(r, len, "columnValue")
  }
  r.done()
  return values
}

/** A whole DataRow frame with columns as bytes; fails with `UnknownType` for any other message. */
export const decodeDataRowRaw = (
  buf: Uint8Array,
  start = 0,
  end: number = buf.length
): Result.Result<ReadonlyArray<Uint8Array | null>, ProtocolError> => {
  try {
    const r = reader.reset(buf, "DataRow", start, end)
    const type = readFrameHeader(r)
    if (type !== 0x44) r.fail("UnknownType", "type", `expected 'D', got type byte ${type}`)
    return Result.succeed(unsafeDecodeDataRowRawBody(buf, start + 5, end))
  } catch (e) {
    if (isProtocolError(e)) return Result.fail(e)
    throw e
  }
}

const formatCode = (r: Reader, v: number, size: number, field: string): FormatCode => {
  if (v !== 0 && v !== 1) failBack(r, size, "InvalidValue", field, `${v} is neither 0 (text) nor 1 (binary)`)
  return v as FormatCode
}

const rowDescription = (r: Reader): Array<FieldDescription> => {
  const n = r.i16("fieldCount")
  if (n < 0) failBack(r, 2, "LengthOutOfRange", "fieldCount", `${n} is negative`)
  const fields = new Array<FieldDescription>(n)
  for (let i = 0; i < n; i++) {
    const name = r.cstring("name")
    const tableOid = r.u32("tableOid")
    const columnAttributeNumber = r.i16("columnAttributeNumber")
    const dataTypeOid = r.u32("dataTypeOid")
    const dataTypeSize = r.i16("dataTypeSize")
    const typeModifier = r.i32("typeModifier")
    const format = formatCode(r, r.i16("format"), 2, "format")
    fields[i] = { name, tableOid, columnAttributeNumber, dataTypeOid, dataTypeSize, typeModifier, format }
  }
  r.done()
  return fields
}

const copyResponse = <Tag extends "CopyInResponse" | "CopyOutResponse" | "CopyBothResponse">(
  tag: Tag,
  buf: Uint8Array,
  start: number,
  end: number
): CopyInResponse | CopyOutResponse | CopyBothResponse => {
  const r = reader.reset(buf, tag, start, end)
  const format = formatCode(r, r.u8("format"), 1, "format")
  const n = r.i16("columnCount")
  if (n < 0) failBack(r, 2, "LengthOutOfRange", "columnCount", `${n} is negative`)
  const columnFormats = new Array<FormatCode>(n)
  for (let i = 0; i < n; i++) columnFormats[i] = formatCode(r, r.i16("columnFormat"), 2, "columnFormat")
  r.done()
  return { _tag: tag, format, columnFormats }
}

const noticeFields = (r: Reader): NoticeFields => {
  const out: { -readonly [K in keyof NoticeFields]: NoticeFields[K] } = {}
  let unknown: Array<UnknownNoticeField> | undefined
  for (;;) {
    const code = r.u8("fieldType")
    if (code === 0) break
    const name = noticeFieldByByte[code]
    if (name !== undefined) {
      out[name] = r.cstring(name)
    } else {
      const value = r.cstring("fieldValue")
      if (unknown === undefined) unknown = []
      unknown.push({ code: String.fromCharCode(code), value })
    }
  }
  r.done()
  if (unknown !== undefined) out.unknown = unknown
  return out
}
