/**
 * What the replication stream emits: each pgoutput message with the WAL position of the XLogData that carried it,
 * and for row changes the table resolved from the relation cache and the rows decoded by column name.
 *
 * Row values are `PgValue` (lossless, see values/), SQL NULL is `null`, and a TOASTed column that PostgreSQL did not
 * send because it did not change is the `UnchangedToast` marker — never `null`, which would be a lie.
 * Messages other than row changes and Relation are passed through unchanged with the position added.
 */
import { Lsn, type Pgoutput, type PgoutputMessage, type ReplicaIdentity, type UnchangedToast } from "@pgcdc/protocol"
import type {
  PreparedTransaction,
  Transaction,
  TransactionElement,
  TransactionEvent
} from "./transactions/TransactionEvent.ts"
import type { PgValue } from "./values/PgValue.ts"

/** Where the message sits in the WAL (from its XLogData header). */
export interface WalPosition {
  /**
   * The WAL position of the message: the LSN of the change, of the transaction start for Begin, and the end of the
   * commit record for Commit. Committing a Commit's `walStart` confirms the whole transaction.
   */
  readonly walStart: Lsn.Lsn
  /** The server's WAL end when it sent the message. */
  readonly walEnd: Lsn.Lsn
}

export interface Column {
  readonly name: string
  readonly typeOid: number
  /** atttypmod; -1 when the type has no modifier. */
  readonly typeModifier: number
  /** Part of the replica identity (the primary key, the chosen index, or every column with FULL). */
  readonly isKey: boolean
}

export interface Table {
  readonly relationId: number
  /** The schema name (`pg_catalog` where pgoutput sends an empty namespace). */
  readonly schema: string
  readonly name: string
  readonly replicaIdentity: ReplicaIdentity
  readonly columns: ReadonlyArray<Column>
}

export type ColumnValue = PgValue | null | UnchangedToast

/** One row keyed by column name. */
export type Row = { readonly [column: string]: ColumnValue }

export interface Insert extends WalPosition {
  readonly _tag: "Insert"
  /** The streamed transaction's xid (only inside StreamStart/StreamStop). */
  readonly xid: number | undefined
  readonly table: Table
  readonly new: Row
}

export interface Update extends WalPosition {
  readonly _tag: "Update"
  readonly xid: number | undefined
  readonly table: Table
  /** The old key columns, sent when the replica identity changed (identity DEFAULT or USING INDEX). */
  readonly key: Row | undefined
  /** The whole old row, sent with REPLICA IDENTITY FULL (unchanged TOAST columns marked). */
  readonly old: Row | undefined
  readonly new: Row
}

export interface Delete extends WalPosition {
  readonly _tag: "Delete"
  readonly xid: number | undefined
  readonly table: Table
  /** The key columns of the deleted row (identity DEFAULT or USING INDEX). */
  readonly key: Row | undefined
  /** The whole deleted row (identity FULL). */
  readonly old: Row | undefined
}

export interface Truncate extends WalPosition {
  readonly _tag: "Truncate"
  readonly xid: number | undefined
  readonly cascade: boolean
  readonly restartIdentity: boolean
  readonly tables: ReadonlyArray<Table>
}

export interface Relation extends WalPosition {
  readonly _tag: "Relation"
  readonly xid: number | undefined
  readonly table: Table
}

/**
 * Not a pgoutput message: the service reconnected after a retryable failure and the new session starts at `walStart`:
 * the end of the last transaction already handed to the consumer (never before its last commit). Nothing handed out
 * before comes again in this process; a transaction the consumer was in the middle of is sent again from its start,
 * so changes it staged for a transaction it had not seen end must be dropped (the transactions views do). Never
 * emitted for the first session.
 */
export interface Reconnected extends WalPosition {
  readonly _tag: "Reconnected"
  /** The session number (2 for the first reconnect). */
  readonly session: number
}

/**
 * Not a pgoutput message: the initial snapshot starts reading a table (every row of it committed before the
 * snapshot's consistent point follows as `Read` messages, then `SnapshotEnd`). Its position is the consistent point.
 */
export interface SnapshotBegin extends WalPosition {
  readonly _tag: "SnapshotBegin"
  /** The table as the stream describes it (the same relation id, columns, key flags and column list). */
  readonly table: Table
  /** The planner's estimate of its rows (pg_class.reltuples); -1 when unknown. */
  readonly estimatedRows: number
}

/**
 * Not a pgoutput message: one row of a table as of the snapshot's consistent point, decoded by the same lossless
 * decoders as the stream's rows (an `Insert`'s `new` and a `Read`'s `new` of the same row are equal). Apply it as an
 * insert or upsert. Its position is the consistent point; there is nothing to confirm for it alone.
 */
export interface Read extends WalPosition {
  readonly _tag: "Read"
  readonly table: Table
  readonly new: Row
}

/** Not a pgoutput message: every row of the table has been handed out. */
export interface SnapshotEnd extends WalPosition {
  readonly _tag: "SnapshotEnd"
  readonly table: Table
  readonly rows: number
}

/**
 * Not a pgoutput message: the snapshot is over; every change after it comes as the stream's messages. Commit it
 * (`lsnToConfirm` gives the consistent point) once every row before it is durably applied: then the slot is made
 * permanent at the consistent point, so a crash before that takes the snapshot again instead of losing rows.
 */
export interface SnapshotComplete extends WalPosition {
  readonly _tag: "SnapshotComplete"
  /** The LSN the snapshot is consistent with: the stream carries exactly the transactions that commit after it. */
  readonly consistentPoint: Lsn.Lsn
  readonly tables: number
  readonly rows: number
}

/** The messages of the initial snapshot. */
export type SnapshotMessage = SnapshotBegin | Read | SnapshotEnd | SnapshotComplete

/**
 * Not a pgoutput message: a backfill of the table starts (`Replication.backfill`, or a `pgcdc.signal`). Its rows come
 * as `Read` messages inside the stream, each where its chunk's read happened (a high watermark), never behind a newer
 * change of the same row, then `BackfillEnd`.
 */
export interface BackfillBegin extends WalPosition {
  readonly _tag: "BackfillBegin"
  readonly id: string
  readonly table: Table
}

/** Not a pgoutput message: the backfill handed out its last row (or was cancelled). */
export interface BackfillEnd extends WalPosition {
  readonly _tag: "BackfillEnd"
  readonly id: string
  readonly table: Table
  /** Rows handed out by this process (a resumed backfill counts from where it resumed). */
  readonly rows: number
  readonly cancelled: boolean
}

type Resolved = "Insert" | "Update" | "Delete" | "Truncate" | "Relation"

/** Every other pgoutput message (Begin, Commit, Message, Type, Origin, Stream*, *Prepare*) with its position. */
export type Passthrough = Exclude<PgoutputMessage, { readonly _tag: Resolved }> & WalPosition

export type WalMessage =
  | Insert
  | Update
  | Delete
  | Truncate
  | Relation
  | Passthrough
  | Reconnected
  | SnapshotMessage
  | BackfillBegin
  | BackfillEnd

export type WalMessageTag = WalMessage["_tag"]

type Of<T extends WalMessageTag> = Extract<WalMessage, { readonly _tag: T }>

/** Narrow by tag: `WalMessage.is("Commit")(message)`. */
export const is =
  <T extends WalMessageTag>(tag: T) =>
  (message: WalMessage): message is Of<T> =>
    message._tag === tag

/**
 * What each kind of message means for a consumer, in one table: a new kind of message does not compile until every
 * rule has decided about it.
 */
interface Rule<T extends WalMessageTag> {
  /**
   * After it nothing of its transaction is left to send (the transaction was committed, prepared or decided): a new
   * session may start after it without splitting a transaction.
   */
  readonly endsTransaction: boolean
  /**
   * The LSN to pass to `commit` once it and everything before it are processed: the end of the commit (prepare,
   * decision) record for messages that end a transaction, the position of a message that stands alone (a
   * non-transactional logical message, the abort of a whole streamed transaction); undefined in the middle of a
   * transaction, where confirming would gain nothing (the server sends a transaction again from its start).
   */
  readonly lsnToConfirm: (m: Of<T>) => Lsn.Lsn | undefined
  /** Whether it lies past `end` (the service's `endLsn`): transactions by their commit LSN, by their Begin. */
  readonly beyond: (m: Of<T>, end: Lsn.Lsn) => boolean
}

const inside = (): undefined => undefined
const never = (): boolean => false
const byPosition = (m: WalMessage, end: Lsn.Lsn): boolean => m.walStart > end
const endOf =
  <T extends WalMessageTag>(endLsn: (m: Of<T>) => Lsn.Lsn) =>
  (m: Of<T>): Lsn.Lsn =>
    Lsn.max(endLsn(m), m.walStart)

const rules: { readonly [T in WalMessageTag]: Rule<T> } = {
  Begin: { endsTransaction: false, lsnToConfirm: inside, beyond: (m, end) => m.finalLsn > end },
  BeginPrepare: { endsTransaction: false, lsnToConfirm: inside, beyond: (m, end) => m.prepareLsn > end },
  // Inside a transaction already admitted (or not) by its Begin.
  Insert: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Update: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Delete: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Truncate: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Relation: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Type: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Origin: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Commit: { endsTransaction: true, lsnToConfirm: endOf((m) => m.endLsn), beyond: never },
  Message: {
    endsTransaction: false,
    lsnToConfirm: (m) => (m.transactional ? undefined : m.walStart),
    beyond: (m, end) => !m.transactional && m.walStart > end
  },
  StreamStart: { endsTransaction: false, lsnToConfirm: inside, beyond: byPosition },
  StreamStop: { endsTransaction: false, lsnToConfirm: inside, beyond: byPosition },
  StreamCommit: { endsTransaction: true, lsnToConfirm: endOf((m) => m.endLsn), beyond: byPosition },
  StreamPrepare: { endsTransaction: true, lsnToConfirm: endOf((m) => m.endLsn), beyond: byPosition },
  // The abort of a whole streamed transaction has nothing to apply, only a position that lets an idle slot advance.
  StreamAbort: {
    endsTransaction: false,
    lsnToConfirm: (m) => (m.subXid === m.xid ? m.walStart : undefined),
    beyond: byPosition
  },
  Prepare: { endsTransaction: true, lsnToConfirm: endOf((m) => m.endLsn), beyond: never },
  CommitPrepared: { endsTransaction: true, lsnToConfirm: endOf((m) => m.endLsn), beyond: byPosition },
  RollbackPrepared: { endsTransaction: true, lsnToConfirm: endOf((m) => m.rollbackEndLsn), beyond: byPosition },
  Reconnected: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  // The snapshot comes before every transaction of the stream: nothing in it is beyond an end LSN.
  SnapshotBegin: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  Read: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  SnapshotEnd: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  SnapshotComplete: { endsTransaction: false, lsnToConfirm: (m) => m.consistentPoint, beyond: never },
  // Inside the watermark transactions of a backfill.
  BackfillBegin: { endsTransaction: false, lsnToConfirm: inside, beyond: never },
  BackfillEnd: { endsTransaction: false, lsnToConfirm: inside, beyond: never }
}

const ruleOf = <T extends WalMessageTag>(m: Of<T>): Rule<T> => rules[m._tag as T]

/** Whether nothing of the message's transaction is left to send after it (see `Rule.endsTransaction`). */
export const endsTransaction = (m: WalMessage): boolean => rules[m._tag].endsTransaction

/** Whether the message lies past `end`: a transaction by the commit LSN its Begin announces, the rest by position. */
export const isBeyond = (m: WalMessage, end: Lsn.Lsn): boolean => ruleOf(m).beyond(m, end)

/** Messages whose `lsnToConfirm` is always defined: those that end a transaction. */
export type TransactionEnd =
  | Of<"Commit">
  | Of<"StreamCommit">
  | Of<"Prepare">
  | Of<"StreamPrepare">
  | Of<"CommitPrepared">
  | Of<"RollbackPrepared">

/**
 * The one answer to "which LSN do I pass to `commit`" once something is durably processed: a WAL message, an element
 * of `Transactions.transactions` or an event of `Transactions.events`. Defined for whatever ends a transaction (a
 * Commit, a whole transaction, a prepared one, a decision) or stands alone; undefined in the middle of a transaction.
 * Committing less often only means more duplicates after a crash, never a gap; never commit for work not done.
 */
export function lsnToConfirm(processed: TransactionEnd | Transaction | PreparedTransaction): Lsn.Lsn
export function lsnToConfirm(processed: WalMessage | TransactionElement | TransactionEvent): Lsn.Lsn | undefined
export function lsnToConfirm(processed: WalMessage | TransactionElement | TransactionEvent): Lsn.Lsn | undefined {
  switch (processed._tag) {
    case "Transaction":
    case "PreparedTransaction":
    case "TransactionCommit":
    case "TransactionPrepare":
      return ruleOf(processed.end).lsnToConfirm(processed.end)
    case "TransactionAbort":
      return processed.final && processed.abort !== undefined
        ? ruleOf(processed.abort).lsnToConfirm(processed.abort)
        : undefined
    case "TransactionBegin":
    case "TransactionChange":
    case "TransactionInterrupted":
      return undefined
    default:
      // Every other element or event is a WAL message itself: the table decides.
      return ruleOf(processed).lsnToConfirm(processed)
  }
}

export type { Pgoutput }
