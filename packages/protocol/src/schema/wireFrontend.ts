/**
 * Schemas of the frontend messages (see `wireBackend.ts` for what they are for), and the byte transformations:
 * `StartupPhaseMessageFromBytes` for untyped startup packets and `TypedFrontendMessageFromBytes(context?)` for typed
 * frames, where the 'p' context says which of PasswordMessage, SASLInitialResponse and SASLResponse to read.
 */
import * as Schema from "effect/Schema"
import { decodeFrontend, decodeStartup } from "../frontend/decodeFrontend.ts"
import { encodeFrontendToBytes } from "../frontend/encodeFrontend.ts"
import type * as M from "../frontend/FrontendMessage.ts"
import { bytesTransformation, CString, Int32, NonEmptyCString, SecretKey } from "./wireCommon.ts"

/** Protocol 3.x: major 3 in the high 16 bits. */
const ProtocolVersion = Schema.Int.check(Schema.isBetween({ minimum: 0x30000, maximum: 0x3ffff }))

export const StartupMessage = Schema.TaggedStruct("StartupMessage", {
  protocolVersion: ProtocolVersion,
  parameters: Schema.Array(Schema.Tuple([NonEmptyCString, CString]))
})
export const SSLRequest = Schema.TaggedStruct("SSLRequest", {})
export const GSSENCRequest = Schema.TaggedStruct("GSSENCRequest", {})
export const CancelRequest = Schema.TaggedStruct("CancelRequest", { processId: Int32, secretKey: SecretKey })
export const PasswordMessage = Schema.TaggedStruct("PasswordMessage", { password: CString })
export const SASLInitialResponse = Schema.TaggedStruct("SASLInitialResponse", {
  mechanism: CString,
  data: Schema.NullOr(Schema.Uint8Array)
})
export const SASLResponse = Schema.TaggedStruct("SASLResponse", { data: Schema.Uint8Array })
export const Query = Schema.TaggedStruct("Query", { sql: CString })
export const CopyData = Schema.TaggedStruct("CopyData", { data: Schema.Uint8Array })
export const CopyDone = Schema.TaggedStruct("CopyDone", {})
export const CopyFail = Schema.TaggedStruct("CopyFail", { message: CString })
export const Terminate = Schema.TaggedStruct("Terminate", {})

export const StartupPhaseMessage = Schema.Union([StartupMessage, SSLRequest, GSSENCRequest, CancelRequest])

export const TypedFrontendMessage = Schema.Union([
  PasswordMessage,
  SASLInitialResponse,
  SASLResponse,
  Query,
  CopyData,
  CopyDone,
  CopyFail,
  Terminate
])

export const FrontendMessage = Schema.Union([
  StartupMessage,
  SSLRequest,
  GSSENCRequest,
  CancelRequest,
  PasswordMessage,
  SASLInitialResponse,
  SASLResponse,
  Query,
  CopyData,
  CopyDone,
  CopyFail,
  Terminate
])

/** An untyped startup packet ↔ StartupMessage, SSLRequest, GSSENCRequest or CancelRequest. */
export const StartupPhaseMessageFromBytes = Schema.Uint8Array.pipe(
  Schema.decodeTo(StartupPhaseMessage, bytesTransformation(decodeStartup, encodeFrontendToBytes))
)

/** A typed frontend frame ↔ message; `passwordContext` says how a 'p' frame is read. */
export const TypedFrontendMessageFromBytes = (passwordContext?: M.PasswordContext) =>
  Schema.Uint8Array.pipe(
    Schema.decodeTo(
      TypedFrontendMessage,
      bytesTransformation((bytes) => decodeFrontend(bytes, 0, bytes.length, passwordContext), encodeFrontendToBytes)
    )
  )

/** JSON form of a frontend message (byte fields as base64 strings). */
export const FrontendMessageJson = Schema.toCodecJson(FrontendMessage)

// Compile-time: the Schema types and the interfaces are the same types, in both directions.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameFrontend: Same<(typeof FrontendMessage)["Type"], M.FrontendMessage> = true
const sameStartup: Same<(typeof StartupPhaseMessage)["Type"], M.StartupPhaseMessage> = true
const sameTyped: Same<(typeof TypedFrontendMessage)["Type"], M.TypedFrontendMessage> = true
void sameFrontend
void sameStartup
void sameTyped
