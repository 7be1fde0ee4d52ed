/**
 * What the transaction views emit, as plain readonly data: whole transactions (`TransactionElement`, the
 * `transactions` view) and the bounded-memory event form (`TransactionEvent`, the `events` view), plus the LSN to
 * confirm for each.
 *
 * The WAL messages inside keep their own positions and xids; nothing here copies or re-decodes rows. It does not
 * decide anything: the assembler builds these values, and the consumer chooses when to confirm.
 */
import type { Lsn } from "@pgcdc/protocol"
import type { SnapshotMessage, WalMessage } from "../WalMessage.ts"

type Of<T extends WalMessage["_tag"]> = Extract<WalMessage, { readonly _tag: T }>

/**
 * A message that belongs to a transaction: row changes, transactional logical decoding messages, and the Relation
 * and Type messages PostgreSQL sent before the rows that need them (so a consumer sees a table's new shape in order).
 * Inside a streamed transaction each keeps the xid it arrived with: the xid of the (sub)transaction that made it.
 */
export type Change =
  | Of<"Insert">
  | Of<"Update">
  | Of<"Delete">
  | Of<"Truncate">
  | Of<"Relation">
  | Of<"Type">
  | Of<"Message">

/** The replication origin of a transaction replayed from another server (an Origin message). */
export interface OriginInfo {
  readonly name: string
  /**
   * The commit LSN of the transaction on the origin server; `0/0` for a streamed transaction, whose Origin message
   * PostgreSQL sends with the first segment, before that LSN is known.
   */
  readonly commitLsn: Lsn.Lsn
}

/** A committed transaction, whole: from Begin…Commit, or from every segment of a streamed transaction. */
export interface Transaction {
  readonly _tag: "Transaction"
  readonly xid: number
  /** Arrived in StreamStart…StreamStop segments before it committed (streaming on or parallel). */
  readonly streamed: boolean
  readonly origin: OriginInfo | undefined
  readonly changes: ReadonlyArray<Change>
  /** The Commit or StreamCommit message: commit LSN, end LSN (what to confirm) and commit time. */
  readonly end: Of<"Commit"> | Of<"StreamCommit">
}

/**
 * A transaction prepared for two-phase commit (PREPARE TRANSACTION): not committed yet. Stage its changes; a later
 * `CommitPrepared` or `RollbackPrepared` element with the same `gid` says what became of it.
 */
export interface PreparedTransaction {
  readonly _tag: "PreparedTransaction"
  readonly xid: number
  readonly gid: string
  readonly streamed: boolean
  readonly origin: OriginInfo | undefined
  readonly changes: ReadonlyArray<Change>
  /** The Prepare or StreamPrepare message. */
  readonly end: Of<"Prepare"> | Of<"StreamPrepare">
}

/**
 * What the `transactions` view emits, in the order the server decided them: committed transactions, prepared
 * transactions, the decisions on prepared transactions (the WAL messages themselves, which carry `gid` and `xid`),
 * logical decoding messages emitted outside any transaction (`transactional: false`), and the StreamAbort of a
 * streamed transaction that aborted as a whole: nothing to apply (its changes are gone), only an LSN to confirm so
 * that an idle slot can advance.
 */
export type TransactionElement =
  | Transaction
  | PreparedTransaction
  | Of<"CommitPrepared">
  | Of<"RollbackPrepared">
  | Of<"Message">
  | Of<"StreamAbort">
  | SnapshotMessage
  | Of<"BackfillBegin">
  | Of<"BackfillEnd">

// ---------------------------------------------------------------------------------------------------------------
// The bounded-memory event form

/** A transaction starts: the changes that follow, up to its end event, belong to it. */
export interface TransactionBegin {
  readonly _tag: "TransactionBegin"
  readonly xid: number
  readonly streamed: boolean
  /**
   * True for a streamed transaction in "tentative" mode: its changes arrive before PostgreSQL knows whether it will
   * commit. They must be staged until `TransactionCommit` (or `TransactionPrepare`), and discarded on
   * `TransactionAbort`.
   */
  readonly tentative: boolean
  readonly origin: OriginInfo | undefined
  /** The message that started it: Begin, BeginPrepare, or the StreamStart of its first segment. */
  readonly start: Of<"Begin"> | Of<"BeginPrepare"> | Of<"StreamStart">
}

export interface TransactionChange {
  readonly _tag: "TransactionChange"
  /** The top-level transaction. */
  readonly xid: number
  /** Position of the change in its transaction, from 0 (what `TransactionAbort.fromIndex` refers to). */
  readonly index: number
  readonly tentative: boolean
  readonly change: Change
}

export interface TransactionCommit {
  readonly _tag: "TransactionCommit"
  readonly xid: number
  readonly streamed: boolean
  readonly end: Of<"Commit"> | Of<"StreamCommit">
}

export interface TransactionPrepare {
  readonly _tag: "TransactionPrepare"
  readonly xid: number
  readonly gid: string
  readonly streamed: boolean
  readonly end: Of<"Prepare"> | Of<"StreamPrepare">
}

/**
 * Tentative mode only: discard the staged changes of `xid` whose `index` is `fromIndex` or more. `subXid === xid`
 * (and `fromIndex` 0) when the whole streamed transaction aborted; otherwise a subtransaction rolled back, and its
 * changes and every later change of the transaction go (see docs/transactions.md for why "later" is exact).
 */
export interface TransactionAbort {
  readonly _tag: "TransactionAbort"
  readonly xid: number
  readonly subXid: number
  readonly fromIndex: number
  /** The transaction is over (whole abort, or a restart of its stream); false after a subtransaction rollback. */
  readonly final: boolean
  /** The StreamAbort, or undefined when the server started streaming the same xid over (a session restart). */
  readonly abort: Of<"StreamAbort"> | undefined
}

/**
 * A non-streamed transaction was cut off before its Commit (the replication session restarted in the middle of
 * it). The server sends it again from its Begin; forget what was received of it.
 */
export interface TransactionInterrupted {
  readonly _tag: "TransactionInterrupted"
  readonly xid: number
}

export type TransactionEvent =
  | TransactionBegin
  | TransactionChange
  | TransactionCommit
  | TransactionPrepare
  | TransactionAbort
  | TransactionInterrupted
  | Of<"CommitPrepared">
  | Of<"RollbackPrepared">
  | Of<"Message">
  /** "buffer" mode: a held streamed transaction aborted as a whole (nothing of it was emitted). */
  | Of<"StreamAbort">
  /** The initial snapshot's messages, before any transaction, and a backfill's, which stand alone. */
  | SnapshotMessage
  | Of<"BackfillBegin">
  | Of<"BackfillEnd">
