/**
 * Transaction views over the replication stream: whole transactions in commit order, a bounded-memory event form,
 * two-phase commit, and acknowledging by element.
 */
export { type AssemblerOptions, TransactionAssembler } from "./TransactionAssembler.ts"
export { TransactionError, TransactionErrorReason } from "./TransactionError.ts"
export {
  type Change,
  commitLsnOf,
  eventCommitLsn,
  type OriginInfo,
  type PreparedTransaction,
  type Transaction,
  type TransactionAbort,
  type TransactionBegin,
  type TransactionChange,
  type TransactionCommit,
  type TransactionElement,
  type TransactionEvent,
  type TransactionInterrupted,
  type TransactionPrepare
} from "./TransactionEvent.ts"
export { acknowledge, events, lsnToConfirm, transactions } from "./Transactions.ts"
