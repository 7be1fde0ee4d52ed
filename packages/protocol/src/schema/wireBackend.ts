/**
 * Schemas of the backend messages: for users (types, validation, JSON with bytes as base64 strings via
 * `Schema.toCodecJson`, arbitraries via `Arbitrary.schema` for property tests) and `BackendMessageFromBytes`, which
 * exposes the byte codec as a Schema transformation (`Schema.Uint8Array` → `BackendMessage`).
 *
 * The hot path never goes through these: the connection calls the plain decoders. The compile-time checks at the end
 * keep each Schema's type identical to the hand-written interface in `backend/BackendMessage.ts`.
 */
import * as Schema from "effect/Schema"
import type * as M from "../backend/BackendMessage.ts"
import { decodeBackend } from "../backend/decodeBackend.ts"
import { encodeBackendToBytes } from "../backend/encodeBackend.ts"
import {
  bytesTransformation,
  CString,
  FormatCode,
  Int16,
  Int32,
  NonEmptyCString,
  SecretKey,
  Uint32,
  Utf8String
} from "./wireCommon.ts"

export const AuthenticationOk = Schema.TaggedStruct("AuthenticationOk", {})
export const AuthenticationKerberosV5 = Schema.TaggedStruct("AuthenticationKerberosV5", {})
export const AuthenticationCleartextPassword = Schema.TaggedStruct("AuthenticationCleartextPassword", {})
export const AuthenticationMD5Password = Schema.TaggedStruct("AuthenticationMD5Password", {
  salt: Schema.Uint8Array.check(Schema.isBetweenLength(4, 4))
})
export const AuthenticationGSS = Schema.TaggedStruct("AuthenticationGSS", {})
export const AuthenticationGSSContinue = Schema.TaggedStruct("AuthenticationGSSContinue", { data: Schema.Uint8Array })
export const AuthenticationSSPI = Schema.TaggedStruct("AuthenticationSSPI", {})
export const AuthenticationSASL = Schema.TaggedStruct("AuthenticationSASL", {
  mechanisms: Schema.Array(NonEmptyCString)
})
export const AuthenticationSASLContinue = Schema.TaggedStruct("AuthenticationSASLContinue", { data: Schema.Uint8Array })
export const AuthenticationSASLFinal = Schema.TaggedStruct("AuthenticationSASLFinal", { data: Schema.Uint8Array })

export const ParameterStatus = Schema.TaggedStruct("ParameterStatus", { name: CString, value: CString })
export const BackendKeyData = Schema.TaggedStruct("BackendKeyData", { processId: Int32, secretKey: SecretKey })
export const ReadyForQuery = Schema.TaggedStruct("ReadyForQuery", { status: Schema.Literals(["I", "T", "E"]) })

export const FieldDescription = Schema.Struct({
  name: CString,
  tableOid: Uint32,
  columnAttributeNumber: Int16,
  dataTypeOid: Uint32,
  dataTypeSize: Int16,
  typeModifier: Int32,
  format: FormatCode
})
export const RowDescription = Schema.TaggedStruct("RowDescription", {
  fields: Schema.Array(FieldDescription).check(Schema.isMaxLength(0x7fff))
})
export const DataRow = Schema.TaggedStruct("DataRow", {
  values: Schema.Array(Schema.NullOr(Utf8String)).check(Schema.isMaxLength(0x7fff))
})
export const CommandComplete = Schema.TaggedStruct("CommandComplete", { commandTag: CString })
export const EmptyQueryResponse = Schema.TaggedStruct("EmptyQueryResponse", {})

/** A field code that the documentation does not define (one byte, not NUL). */
export const UnknownNoticeField = Schema.Struct({
  code: Schema.String.check(
    Schema.makeFilter(
      (c: string) =>
        (c.length === 1 && c.charCodeAt(0) > 0 && c.charCodeAt(0) <= 0xff && !"SVCMDHPpqWstcdnFLR".includes(c)) ||
        "must be one byte that is not NUL and not a documented field code"
    )
  ),
  value: CString
})

const noticeFields = {
  severity: Schema.optionalKey(CString),
  severityNonLocalized: Schema.optionalKey(CString),
  code: Schema.optionalKey(CString),
  message: Schema.optionalKey(CString),
  detail: Schema.optionalKey(CString),
  hint: Schema.optionalKey(CString),
  position: Schema.optionalKey(CString),
  internalPosition: Schema.optionalKey(CString),
  internalQuery: Schema.optionalKey(CString),
  where: Schema.optionalKey(CString),
  schemaName: Schema.optionalKey(CString),
  tableName: Schema.optionalKey(CString),
  columnName: Schema.optionalKey(CString),
  dataTypeName: Schema.optionalKey(CString),
  constraintName: Schema.optionalKey(CString),
  file: Schema.optionalKey(CString),
  line: Schema.optionalKey(CString),
  routine: Schema.optionalKey(CString),
  unknown: Schema.optionalKey(Schema.Array(UnknownNoticeField).check(Schema.isNonEmpty()))
}
export const ErrorResponse = Schema.TaggedStruct("ErrorResponse", noticeFields)
export const NoticeResponse = Schema.TaggedStruct("NoticeResponse", noticeFields)

export const NegotiateProtocolVersion = Schema.TaggedStruct("NegotiateProtocolVersion", {
  newestMinorVersion: Int32,
  unrecognizedOptions: Schema.Array(CString)
})
const copyResponseFields = {
  format: FormatCode,
  columnFormats: Schema.Array(FormatCode).check(Schema.isMaxLength(0x7fff))
}
export const CopyInResponse = Schema.TaggedStruct("CopyInResponse", copyResponseFields)
export const CopyOutResponse = Schema.TaggedStruct("CopyOutResponse", copyResponseFields)
export const CopyBothResponse = Schema.TaggedStruct("CopyBothResponse", copyResponseFields)
export const CopyData = Schema.TaggedStruct("CopyData", { data: Schema.Uint8Array })
export const CopyDone = Schema.TaggedStruct("CopyDone", {})
export const NotificationResponse = Schema.TaggedStruct("NotificationResponse", {
  processId: Int32,
  channel: CString,
  payload: CString
})

export const BackendMessage = Schema.Union([
  AuthenticationOk,
  AuthenticationKerberosV5,
  AuthenticationCleartextPassword,
  AuthenticationMD5Password,
  AuthenticationGSS,
  AuthenticationGSSContinue,
  AuthenticationSSPI,
  AuthenticationSASL,
  AuthenticationSASLContinue,
  AuthenticationSASLFinal,
  ParameterStatus,
  BackendKeyData,
  ReadyForQuery,
  RowDescription,
  DataRow,
  CommandComplete,
  EmptyQueryResponse,
  ErrorResponse,
  NoticeResponse,
  NegotiateProtocolVersion,
  CopyInResponse,
  CopyOutResponse,
  CopyBothResponse,
  CopyData,
  CopyDone,
  NotificationResponse
])

/** One whole backend frame (type byte, length, body) ↔ message, through `decodeBackend`/`encodeBackendToBytes`. */
export const BackendMessageFromBytes = Schema.Uint8Array.pipe(
  Schema.decodeTo(BackendMessage, bytesTransformation(decodeBackend, encodeBackendToBytes))
)

/** JSON form of a backend message (byte fields as base64 strings). */
export const BackendMessageJson = Schema.toCodecJson(BackendMessage)

// Compile-time: the Schema types and the interfaces are the same types, in both directions.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const sameBackend: Same<(typeof BackendMessage)["Type"], M.BackendMessage> = true
const sameFields: Same<(typeof FieldDescription)["Type"], M.FieldDescription> = true
void sameBackend
void sameFields
