/**
 * @pgcdc/protocol: pure codecs for the PostgreSQL wire protocol, the streaming-replication messages and pgoutput.
 * Bytes in, data out, and back. No I/O, no state beyond a framer's buffer, no dependency besides `effect`.
 */
export * as Lsn from "./Lsn.ts"
export { ProtocolError, type ProtocolErrorReason, isProtocolError } from "./ProtocolError.ts"
export { Reader } from "./Reader.ts"
export { Writer } from "./Writer.ts"
