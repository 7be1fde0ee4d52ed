/**
 * @pgcdc/protocol: pure codecs for the PostgreSQL wire protocol, the streaming-replication messages and pgoutput.
 * Bytes in, data out, and back. No I/O, no state beyond a framer's buffer, no dependency besides `effect`.
 *
 * The Effect Schemas of the messages (and the `Timestamp` ↔ `DateTime` conversions) are in `@pgcdc/protocol/schema`:
 * this entry must not load `effect/Schema`, `effect/Config` or `effect/DateTime`, which together bring most of
 * Effect's modules, so that importing the codecs stays cheap (`test/entry-modules.test.ts` holds it to that).
 */
export * as Lsn from "./Lsn.ts"
export { ProtocolError, type ProtocolErrorReason, isProtocolError } from "./ProtocolError.ts"
export { Reader } from "./Reader.ts"
export { Writer } from "./Writer.ts"
export * as Timestamp from "./Timestamp.ts"
export { CopyTextCursor, decodeCopyTextRow, unsafeDecodeCopyTextRow } from "./copy/CopyTextRow.ts"
export * from "./replication/ReplicationMessage.ts"
export * from "./pgoutput/TupleData.ts"
export * as Pgoutput from "./pgoutput/PgoutputMessage.ts"
export type {
  PgoutputMessage,
  PgoutputOptions,
  PgoutputTag,
  ProtoVersion,
  RelationColumn,
  ReplicaIdentity
} from "./pgoutput/PgoutputMessage.ts"
export * from "./pgoutput/PgoutputCodec.ts"
// Framing and the frontend/backend message codecs. Message types live in the `Backend` and `Frontend` namespaces
// (both directions have a CopyData and a CopyDone).
export {
  defaultMaxMessageSize,
  defaultMaxStartupMessageSize,
  Framer,
  type FramerMode,
  type FramerOptions
} from "./Framer.ts"
export * as Backend from "./backend/BackendMessage.ts"
export { AuthenticationCode, type BackendMessage, BackendType } from "./backend/BackendMessage.ts"
export {
  decodeBackend,
  decodeDataRowRaw,
  unsafeDecodeBackend,
  unsafeDecodeBackendBody,
  unsafeDecodeDataRowRawBody
} from "./backend/decodeBackend.ts"
export { encodeBackend, encodeBackendToBytes, encodeDataRowRaw } from "./backend/encodeBackend.ts"
export * as Frontend from "./frontend/FrontendMessage.ts"
export {
  type FrontendMessage,
  FrontendType,
  type PasswordContext,
  StartupCode,
  type StartupPhaseMessage,
  startupParameter,
  type TypedFrontendMessage
} from "./frontend/FrontendMessage.ts"
export {
  decodeFrontend,
  decodePasswordMessage,
  decodeSASLInitialResponse,
  decodeSASLResponse,
  decodeStartup,
  unsafeDecodeFrontend,
  unsafeDecodeFrontendBody,
  unsafeDecodeStartup
} from "./frontend/decodeFrontend.ts"
export { encodeFrontend, encodeFrontendToBytes } from "./frontend/encodeFrontend.ts"
