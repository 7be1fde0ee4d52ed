/**
 * @pgcdc/connection: one PostgreSQL session (normal or walsender) as a scoped Effect service: TCP or Unix socket,
 * TLS with libpq's sslmode semantics, trust/password/MD5/SCRAM-SHA-256(-PLUS) authentication, simple queries,
 * CopyBoth, COPY ... TO STDOUT (CopyOut), cancellation and clean close. Configuration from explicit options, a libpq
 * URL or the PG* variables.
 */
export {
  Connection,
  type ConnectionShape,
  type CopyBoth,
  type CopyOut,
  type FieldDescription,
  type QueryResult
} from "./Connection.ts"
export { Connector, type ConnectorShape } from "./Connector.ts"
export type { CopyDataFrames } from "./CopyDataPull.ts"
export type { BackendKey } from "./Startup.ts"
export {
  type ChannelBinding,
  ConnectionConfig,
  type Endpoint,
  type ReplicationMode,
  type SslMode
} from "./ConnectionConfig.ts"
export {
  ConnectionError,
  type ConnectionErrorReason,
  isConnectionError,
  isRetryableSqlState
} from "./ConnectionError.ts"
export * as ReplicationCommands from "./ReplicationCommands.ts"
export type {
  CreatedSlot,
  CreateLogicalSlotOptions,
  CreateSlotOptions,
  ReplicationSlotInfo,
  SnapshotAction,
  SystemIdentity,
  TimelineHistory
} from "./ReplicationCommands.ts"
export { majorOf, parseServerVersion } from "./ServerVersion.ts"
export type { SocketFactory } from "./SocketTransport.ts"
