/**
 * Encoding of backend (server → client) messages, for the in-memory fake server and for tests.
 *
 * `encodeBackend(msg, writer)` appends one framed message to a `Writer` (so a whole batch can go out as one chunk);
 * `encodeBackendToBytes(msg)` is the one-message convenience. Values the wire cannot carry (a NUL inside a string,
 * an MD5 salt that is not 4 bytes, a number outside its integer field, an unknown notice field code that collides
 * with a known one) throw a `ProtocolError` with reason `InvalidValue` rather than produce bytes that would decode to
 * something else. It deliberately does not validate semantics (e.g. whether a SQLSTATE exists).
 */
import { Writer } from "../Writer.ts"
import type { BackendMessage, FormatCode, NoticeFields } from "./BackendMessage.ts"
import { noticeFieldByByte, noticeFieldCodes } from "./NoticeFields.ts"
import { checkInt, INT16_MAX, INT32_MAX, INT32_MIN, invalid, UINT32_MAX, writeCString } from "./WireText.ts"

/** Appends one framed backend message to `w` and returns `w`. Throws `ProtocolError` for unencodable values. */
export const encodeBackend = (msg: BackendMessage, w: Writer): Writer => {
  switch (msg._tag) {
    case "CopyData":
      return w.begin(0x64).bytes(msg.data).finish()
    case "DataRow": {
      const values = msg.values
      w.begin(0x44).i16(checkInt(values.length, 0, INT16_MAX, "DataRow", "columnCount"))
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!
        if (v === null) {
          w.i32(-1)
        } else {
          const at = w.pos
          w.i32(0)
          w.string(v)
          w.view.setInt32(at, w.pos - at - 4)
        }
      }
      return w.finish()
    }
    case "AuthenticationOk":
      return w.begin(0x52).i32(0).finish()
    case "AuthenticationKerberosV5":
      return w.begin(0x52).i32(2).finish()
    case "AuthenticationCleartextPassword":
      return w.begin(0x52).i32(3).finish()
    case "AuthenticationMD5Password":
      if (msg.salt.length !== 4) invalid(msg._tag, "salt", `${msg.salt.length} bytes, expected 4`)
      return w.begin(0x52).i32(5).bytes(msg.salt).finish()
    case "AuthenticationGSS":
      return w.begin(0x52).i32(7).finish()
    case "AuthenticationGSSContinue":
      return w.begin(0x52).i32(8).bytes(msg.data).finish()
    case "AuthenticationSSPI":
      return w.begin(0x52).i32(9).finish()
    case "AuthenticationSASL":
      w.begin(0x52).i32(10)
      for (const m of msg.mechanisms) {
        // An empty name would read as the list terminator.
        if (m.length === 0) invalid(msg._tag, "mechanism", "is empty")
        writeCString(w, m, msg._tag, "mechanism")
      }
      return w.u8(0).finish()
    case "AuthenticationSASLContinue":
      return w.begin(0x52).i32(11).bytes(msg.data).finish()
    case "AuthenticationSASLFinal":
      return w.begin(0x52).i32(12).bytes(msg.data).finish()
    case "ParameterStatus":
      w.begin(0x53)
      writeCString(w, msg.name, msg._tag, "name")
      writeCString(w, msg.value, msg._tag, "value")
      return w.finish()
    case "BackendKeyData":
      if (msg.secretKey.length < 4 || msg.secretKey.length > 256) {
        invalid(msg._tag, "secretKey", `${msg.secretKey.length} bytes, expected 4 to 256`)
      }
      return w
        .begin(0x4b)
        .i32(checkInt(msg.processId, INT32_MIN, INT32_MAX, msg._tag, "processId"))
        .bytes(msg.secretKey)
        .finish()
    case "ReadyForQuery":
      if (msg.status !== "I" && msg.status !== "T" && msg.status !== "E") invalid(msg._tag, "status", msg.status)
      return w.begin(0x5a).u8(msg.status.charCodeAt(0)).finish()
    case "RowDescription":
      w.begin(0x54).i16(checkInt(msg.fields.length, 0, INT16_MAX, msg._tag, "fieldCount"))
      for (const f of msg.fields) {
        writeCString(w, f.name, msg._tag, "name")
        w.u32(checkInt(f.tableOid, 0, UINT32_MAX, msg._tag, "tableOid"))
        w.i16(checkInt(f.columnAttributeNumber, -0x8000, INT16_MAX, msg._tag, "columnAttributeNumber"))
        w.u32(checkInt(f.dataTypeOid, 0, UINT32_MAX, msg._tag, "dataTypeOid"))
        w.i16(checkInt(f.dataTypeSize, -0x8000, INT16_MAX, msg._tag, "dataTypeSize"))
        w.i32(checkInt(f.typeModifier, INT32_MIN, INT32_MAX, msg._tag, "typeModifier"))
        w.i16(format(f.format, msg._tag, "format"))
      }
      return w.finish()
    case "CommandComplete":
      w.begin(0x43)
      writeCString(w, msg.commandTag, msg._tag, "commandTag")
      return w.finish()
    case "EmptyQueryResponse":
      return w.begin(0x49).finish()
    case "ErrorResponse":
      return noticeFields(w.begin(0x45), msg, msg._tag).finish()
    case "NoticeResponse":
      return noticeFields(w.begin(0x4e), msg, msg._tag).finish()
    case "NegotiateProtocolVersion":
      w.begin(0x76)
        .i32(checkInt(msg.newestMinorVersion, INT32_MIN, INT32_MAX, msg._tag, "newestMinorVersion"))
        .i32(msg.unrecognizedOptions.length)
      for (const o of msg.unrecognizedOptions) writeCString(w, o, msg._tag, "option")
      return w.finish()
    case "CopyInResponse":
      return copyResponse(w.begin(0x47), msg.format, msg.columnFormats, msg._tag)
    case "CopyOutResponse":
      return copyResponse(w.begin(0x48), msg.format, msg.columnFormats, msg._tag)
    case "CopyBothResponse":
      return copyResponse(w.begin(0x57), msg.format, msg.columnFormats, msg._tag)
    case "CopyDone":
      return w.begin(0x63).finish()
    case "NotificationResponse":
      w.begin(0x41).i32(checkInt(msg.processId, INT32_MIN, INT32_MAX, msg._tag, "processId"))
      writeCString(w, msg.channel, msg._tag, "channel")
      writeCString(w, msg.payload, msg._tag, "payload")
      return w.finish()
  }
}

/** One framed backend message as a fresh byte array. */
export const encodeBackendToBytes = (msg: BackendMessage): Uint8Array => encodeBackend(msg, new Writer(64)).toBytes()

/** Appends a DataRow whose columns are raw bytes (binary format), null for SQL NULL. */
export const encodeDataRowRaw = (values: ReadonlyArray<Uint8Array | null>, w: Writer): Writer => {
  w.begin(0x44).i16(checkInt(values.length, 0, INT16_MAX, "DataRow", "columnCount"))
  for (const v of values) {
    if (v === null) w.i32(-1)
    else w.i32(v.length).bytes(v)
  }
  return w.finish()
}

const format = (f: FormatCode, messageName: string, field: string): FormatCode => {
  if (f !== 0 && f !== 1) invalid(messageName, field, `${f} is neither 0 (text) nor 1 (binary)`)
  return f
}

const copyResponse = (w: Writer, f: FormatCode, columns: ReadonlyArray<FormatCode>, messageName: string): Writer => {
  w.u8(format(f, messageName, "format")).i16(checkInt(columns.length, 0, INT16_MAX, messageName, "columnCount"))
  for (const c of columns) w.i16(format(c, messageName, "columnFormat"))
  return w.finish()
}

const noticeFields = (w: Writer, fields: NoticeFields, messageName: string): Writer => {
  for (const [code, name] of noticeFieldCodes) {
    const v = fields[name]
    if (v !== undefined) {
      w.u8(code.charCodeAt(0))
      writeCString(w, v, messageName, name)
    }
  }
  for (const u of fields.unknown ?? []) {
    const c = u.code.length === 1 ? u.code.charCodeAt(0) : 0
    // 0 ends the list and a known code would decode into its named property: neither survives a round trip.
    if (c === 0 || c > 0xff || noticeFieldByByte[c] !== undefined) {
      invalid(messageName, "unknown", `${JSON.stringify(u.code)} is not an unknown one-byte field code`)
    }
    w.u8(c)
    writeCString(w, u.value, messageName, "unknown")
  }
  return w.u8(0)
}
