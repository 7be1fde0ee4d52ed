/**
 * Encoding of frontend (client → server) messages: what the connection writes to the socket.
 *
 * `encodeFrontend(msg, writer)` appends one message (untyped for the startup-phase ones) to a `Writer`;
 * `encodeFrontendToBytes(msg)` is the one-message convenience. Values the wire cannot carry (a NUL inside a string,
 * an empty or NUL-containing parameter name, a protocol major version other than 3, a cancel key outside 4 to 256
 * bytes) throw a `ProtocolError` with reason `InvalidValue`.
 */
import { checkInt, INT32_MAX, INT32_MIN, invalid, writeCString } from "../backend/WireText.ts"
import { Writer } from "../Writer.ts"
import type { FrontendMessage } from "./FrontendMessage.ts"

/** Appends one frontend message to `w` and returns `w`. Throws `ProtocolError` for unencodable values. */
export const encodeFrontend = (msg: FrontendMessage, w: Writer): Writer => {
  switch (msg._tag) {
    case "CopyData":
      return w.begin(0x64).bytes(msg.data).finish()
    case "Query":
      w.begin(0x51)
      writeCString(w, msg.sql, msg._tag, "sql")
      return w.finish()
    case "CopyDone":
      return w.begin(0x63).finish()
    case "CopyFail":
      w.begin(0x66)
      writeCString(w, msg.message, msg._tag, "message")
      return w.finish()
    case "Terminate":
      return w.begin(0x58).finish()
    case "PasswordMessage":
      w.begin(0x70)
      writeCString(w, msg.password, msg._tag, "password")
      return w.finish()
    case "SASLInitialResponse":
      w.begin(0x70)
      writeCString(w, msg.mechanism, msg._tag, "mechanism")
      if (msg.data === null) w.i32(-1)
      else w.i32(msg.data.length).bytes(msg.data)
      return w.finish()
    case "SASLResponse":
      return w.begin(0x70).bytes(msg.data).finish()
    case "StartupMessage": {
      const v = checkInt(msg.protocolVersion, 0, INT32_MAX, msg._tag, "protocolVersion")
      if (v >>> 16 !== 3) invalid(msg._tag, "protocolVersion", `major version ${v >>> 16} is not 3`)
      w.begin().i32(v)
      for (const [name, value] of msg.parameters) {
        // An empty name would read as the end of the parameter list.
        if (name.length === 0) invalid(msg._tag, "parameters", "a parameter name is empty")
        writeCString(w, name, msg._tag, "parameters")
        writeCString(w, value, msg._tag, name)
      }
      return w.u8(0).finish()
    }
    case "SSLRequest":
      return w.begin().i32(80877103).finish()
    case "GSSENCRequest":
      return w.begin().i32(80877104).finish()
    case "CancelRequest":
      if (msg.secretKey.length < 4 || msg.secretKey.length > 256) {
        invalid(msg._tag, "secretKey", `${msg.secretKey.length} bytes, expected 4 to 256`)
      }
      return w
        .begin()
        .i32(80877102)
        .i32(checkInt(msg.processId, INT32_MIN, INT32_MAX, msg._tag, "processId"))
        .bytes(msg.secretKey)
        .finish()
  }
}

/** One frontend message as a fresh byte array. */
export const encodeFrontendToBytes = (msg: FrontendMessage): Uint8Array => encodeFrontend(msg, new Writer(64)).toBytes()
