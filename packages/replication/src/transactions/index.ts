/**
 * Transaction views over the replication stream: whole transactions in commit order, a bounded-memory event form,
 * two-phase commit, and acknowledging by element.
 */
export type { AssemblerOptions } from "../internal/transactions/TransactionAssembler.ts"
export { TransactionError, type TransactionErrorReason } from "./TransactionError.ts"
export type {
  Change,
  OriginInfo,
  PreparedTransaction,
  Transaction,
  TransactionAbort,
  TransactionBegin,
  TransactionChange,
  TransactionCommit,
  TransactionElement,
  TransactionEvent,
  TransactionInterrupted,
  TransactionPrepare
} from "./TransactionEvent.ts"
export { acknowledge, events, transactions } from "./Transactions.ts"
