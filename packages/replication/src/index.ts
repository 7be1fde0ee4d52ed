/**
 * @pgcdc/replication: the `Replication` service (a Stream of WAL messages from a logical replication slot,
 * `commit(lsn)` and `flush`), slot and publication management, transaction views, typed rows, and lossless decoding
 * of column values. One import is enough for a consumer: the LSN type, the unchanged-TOAST marker and the protocol's
 * timestamps (a Commit's `commitTime`) are re-exported here.
 */
export { Lsn, Timestamp, UnchangedToast } from "@pgcdc/protocol"
export type { Backfill, BackfillOptions, BackfillProgress } from "./internal/backfill/backfills.ts"
export type { SlotHealth } from "./internal/slotWatch.ts"
export * as Publication from "./Publication.ts"
export {
  Replication,
  ReplicationMetrics,
  type ReplicationOptions,
  type ReplicationShape,
  type ReplicationStatus
} from "./Replication.ts"
export { isReplicationError, ReplicationError } from "./ReplicationError.ts"
export * as ReplicationErrorReason from "./ReplicationErrorReason.ts"
export * as Slot from "./Slot.ts"
export * as Transactions from "./transactions/index.ts"
export * from "./values/index.ts"
import * as WalMessageModule from "./WalMessage.ts"
/** The WAL messages of the stream (`WalMessage` is also their union type) and the rules for them (`lsnToConfirm`). */
export { WalMessageModule as WalMessage }
export type WalMessage = WalMessageModule.WalMessage
export type { Column, ColumnValue, Row, Table, WalPosition } from "./WalMessage.ts"
