/**
 * @pgcdc/replication: the `Replication` service (a Stream of WAL messages from a logical replication slot and
 * `commit(lsn)`), slot and publication management, and lossless decoding of column values.
 */
export * as Feedback from "./Feedback.ts"
export * as Publication from "./Publication.ts"
export { RelationCache } from "./RelationCache.ts"
export {
  Replication,
  ReplicationMetrics,
  type ReplicationOptions,
  type ReplicationShape,
  type ReplicationStatus
} from "./Replication.ts"
export { isReplicationError, ReplicationError } from "./ReplicationError.ts"
export * as ReplicationErrorReason from "./ReplicationErrorReason.ts"
export * as Rows from "./rows/index.ts"
export * as Slot from "./Slot.ts"
export * as StartOptions from "./StartOptions.ts"
export * as Transactions from "./transactions/index.ts"
export * from "./values/index.ts"
export { WalDecoder, type WalDecoderOptions } from "./WalDecoder.ts"
export * as WalMessage from "./WalMessage.ts"
export type {
  Column,
  ColumnValue,
  Row,
  Table,
  WalMessage as WalMessageType,
  WalPosition
} from "./WalMessage.ts"
