/**
 * @pgcdc/protocol: pure codecs for the PostgreSQL wire protocol, the streaming-replication messages and pgoutput.
 * Bytes in, data out, and back. No I/O, no state beyond a framer's buffer, no dependency besides `effect`.
 */
export * as Lsn from "./Lsn.ts"
export { ProtocolError, type ProtocolErrorReason, isProtocolError } from "./ProtocolError.ts"
export { Reader } from "./Reader.ts"
export { Writer } from "./Writer.ts"
export * as PgTime from "./PgTime.ts"
export * from "./replication/ReplicationMessage.ts"
export * from "./replication/ReplicationSchema.ts"
export * from "./pgoutput/TupleData.ts"
export * from "./pgoutput/TupleDataSchema.ts"
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
export * from "./pgoutput/PgoutputSchema.ts"
