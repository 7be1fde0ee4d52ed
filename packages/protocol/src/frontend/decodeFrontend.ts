/**
 * Decoding of frontend (client → server) messages, for the in-memory fake server.
 *
 * Entry points:
 * - `decodeStartup(buf, start?, end?)` / `unsafeDecodeStartup`: an untyped startup-phase packet (int32 length, int32
 *   code, body) → StartupMessage, SSLRequest, CancelRequest or GSSENCRequest.
 * - `decodeFrontend(buf, start?, end?, passwordContext?)` / `unsafeDecodeFrontend`: one typed frame.
 * - `unsafeDecodeFrontendBody(type, buf, bodyStart, end, passwordContext?)`: a body as handed out by the `Framer`.
 * - `decodePasswordMessage`, `decodeSASLInitialResponse`, `decodeSASLResponse`: a 'p' frame read as the message the
 *   authentication exchange expects. Without a context, 'p' fails with `InvalidValue` rather than guess.
 *
 * Same rules as the backend decoders: truncation, trailing bytes, bad lengths, invalid UTF-8 and unknown type bytes
 * or request codes fail with a `ProtocolError`; byte fields are copies, except `CopyData.data` (a view).
 */
import * as Result from "effect/Result"
import { copyBytes, copyRest, failBack, readFrameHeader } from "../backend/decodeBackend.ts"
import { isProtocolError, type ProtocolError } from "../ProtocolError.ts"
import { Reader } from "../Reader.ts"
import type {
  PasswordContext,
  PasswordMessage,
  SASLInitialResponse,
  SASLResponse,
  StartupPhaseMessage,
  TypedFrontendMessage
} from "./FrontendMessage.ts"

const reader = new Reader(new Uint8Array(0), "FrontendMessage")

const SSLRequest = { _tag: "SSLRequest" } as const
const GSSENCRequest = { _tag: "GSSENCRequest" } as const
const CopyDone = { _tag: "CopyDone" } as const
const Terminate = { _tag: "Terminate" } as const

const attempt = <A>(f: () => A): Result.Result<A, ProtocolError> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    if (isProtocolError(e)) return Result.fail(e)
    throw e
  }
}

/** Decodes one untyped startup-phase packet, throwing `ProtocolError`. */
export const unsafeDecodeStartup = (buf: Uint8Array, start = 0, end: number = buf.length): StartupPhaseMessage => {
  const r = reader.reset(buf, "StartupPacket", start, end)
  const len = r.i32("length")
  const actual = end - start
  if (len < 8) failBack(r, 4, "LengthOutOfRange", "length", `${len} is below the minimum 8`)
  if (len > actual) failBack(r, 4, "Truncated", "length", `the packet says ${len} bytes, ${actual} given`)
  if (len < actual) failBack(r, 4, "TrailingBytes", "length", `the packet says ${len} bytes, ${actual} given`)
  const code = r.i32("code")
  switch (code) {
    case 80877103:
      r.messageName = "SSLRequest"
      r.done()
      return SSLRequest
    case 80877104:
      r.messageName = "GSSENCRequest"
      r.done()
      return GSSENCRequest
    case 80877102: {
      r.messageName = "CancelRequest"
      const processId = r.i32("processId")
      const n = r.remaining
      if (n < 4 || n > 256) r.fail("LengthOutOfRange", "secretKey", `${n} bytes, expected 4 to 256`)
      return { _tag: "CancelRequest", processId, secretKey: copyRest(r, "secretKey") }
    }
    default: {
      if (code >>> 16 !== 3) {
        // Neither a request code nor protocol 3.x: PostgreSQL answers "unsupported frontend protocol".
        failBack(r, 4, "InvalidValue", "protocolVersion", `unsupported protocol ${code >>> 16}.${code & 0xffff}`)
      }
      r.messageName = "StartupMessage"
      const parameters: Array<readonly [string, string]> = []
      for (;;) {
        r.need(1, "name")
        if (r.buf[r.pos] === 0) break
        const name = r.cstring("name")
        parameters.push([name, r.cstring("value")])
      }
      r.pos++
      r.done()
      return { _tag: "StartupMessage", protocolVersion: code, parameters }
    }
  }
}

/** Decodes one untyped startup-phase packet. */
export const decodeStartup = (
  buf: Uint8Array,
  start = 0,
  end: number = buf.length
): Result.Result<StartupPhaseMessage, ProtocolError> => attempt(() => unsafeDecodeStartup(buf, start, end))

/** Decodes one typed frame, throwing `ProtocolError`. */
export const unsafeDecodeFrontend = (
  buf: Uint8Array,
  start = 0,
  end: number = buf.length,
  passwordContext?: PasswordContext
): TypedFrontendMessage => {
  const type = readFrameHeader(reader.reset(buf, "FrontendMessage", start, end))
  return unsafeDecodeFrontendBody(type, buf, start + 5, end, passwordContext)
}

/** Decodes one typed frame; `passwordContext` says how to read a 'p' message. */
export const decodeFrontend = (
  buf: Uint8Array,
  start = 0,
  end: number = buf.length,
  passwordContext?: PasswordContext
): Result.Result<TypedFrontendMessage, ProtocolError> =>
  attempt(() => unsafeDecodeFrontend(buf, start, end, passwordContext))

/** Decodes the body `buf[start, end)` of a typed frontend message, throwing `ProtocolError`. */
export const unsafeDecodeFrontendBody = (
  type: number,
  buf: Uint8Array,
  start: number,
  end: number,
  passwordContext?: PasswordContext
): TypedFrontendMessage => {
  switch (type) {
    case 0x64:
      return { _tag: "CopyData", data: buf.subarray(start, end) }
    case 0x70:
      return password(buf, start, end, passwordContext)
    case 0x51: {
      const r = reader.reset(buf, "Query", start, end)
      const sql = r.cstring("sql")
      r.done()
      return { _tag: "Query", sql }
    }
    case 0x63:
      reader.reset(buf, "CopyDone", start, end).done()
      return CopyDone
    case 0x66: {
      const r = reader.reset(buf, "CopyFail", start, end)
      const message = r.cstring("message")
      r.done()
      return { _tag: "CopyFail", message }
    }
    case 0x58:
      reader.reset(buf, "Terminate", start, end).done()
      return Terminate
    default:
      return reader
        .reset(buf, "FrontendMessage", start, end)
        .fail("UnknownType", "type", `type byte ${type} (${JSON.stringify(String.fromCharCode(type))})`)
  }
}

const passwordMessage = (buf: Uint8Array, start: number, end: number): PasswordMessage => {
  const r = reader.reset(buf, "PasswordMessage", start, end)
  const password = r.cstring("password")
  r.done()
  return { _tag: "PasswordMessage", password }
}

const saslInitialResponse = (buf: Uint8Array, start: number, end: number): SASLInitialResponse => {
  const r = reader.reset(buf, "SASLInitialResponse", start, end)
  const mechanism = r.cstring("mechanism")
  const n = r.i32("dataLength")
  if (n < -1 || n > r.remaining)
    failBack(r, 4, "LengthOutOfRange", "dataLength", `${n} is outside [-1, ${r.remaining}]`)
  const data = n === -1 ? null : copyBytes(r, n, "data")
  r.done()
  return { _tag: "SASLInitialResponse", mechanism, data }
}

const saslResponse = (buf: Uint8Array, start: number, end: number): SASLResponse => ({
  _tag: "SASLResponse",
  data: copyRest(reader.reset(buf, "SASLResponse", start, end), "data")
})

const password = (
  buf: Uint8Array,
  start: number,
  end: number,
  context: PasswordContext | undefined
): PasswordMessage | SASLInitialResponse | SASLResponse => {
  switch (context) {
    case "PasswordMessage":
      return passwordMessage(buf, start, end)
    case "SASLInitialResponse":
      return saslInitialResponse(buf, start, end)
    case "SASLResponse":
      return saslResponse(buf, start, end)
    case undefined:
      return reader
        .reset(buf, "PasswordMessage", start, end)
        .fail(
          "InvalidValue",
          "type",
          "'p' is PasswordMessage, SASLInitialResponse or SASLResponse depending on the authentication exchange: pass the expected one"
        )
  }
}

const expecting =
  <A>(name: PasswordContext, body: (buf: Uint8Array, start: number, end: number) => A) =>
  (buf: Uint8Array, start = 0, end: number = buf.length): Result.Result<A, ProtocolError> =>
    attempt(() => {
      const r = reader.reset(buf, name, start, end)
      const type = readFrameHeader(r)
      if (type !== 0x70) r.fail("UnknownType", "type", `expected 'p', got type byte ${type}`)
      return body(buf, start + 5, end)
    })

/** A 'p' frame read as PasswordMessage (after AuthenticationCleartextPassword or MD5Password). */
export const decodePasswordMessage = expecting("PasswordMessage", passwordMessage)
/** A 'p' frame read as SASLInitialResponse (after AuthenticationSASL). */
export const decodeSASLInitialResponse = expecting("SASLInitialResponse", saslInitialResponse)
/** A 'p' frame read as SASLResponse (after AuthenticationSASLContinue). */
export const decodeSASLResponse = expecting("SASLResponse", saslResponse)
