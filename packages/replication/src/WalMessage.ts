/**
 * What the replication stream emits: each pgoutput message with the WAL position of the XLogData that carried it,
 * and for row changes the table resolved from the relation cache and the rows decoded by column name.
 *
 * Row values are `PgValue` (lossless, see values/), SQL NULL is `null`, and a TOASTed column that PostgreSQL did not
 * send because it did not change is the `UnchangedToast` marker — never `null`, which would be a lie.
 * Messages other than row changes and Relation are passed through unchanged with the position added.
 */
import { Lsn, type Pgoutput, type PgoutputMessage, type ReplicaIdentity, type UnchangedToast } from "@pgcdc/protocol"
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

type Resolved = "Insert" | "Update" | "Delete" | "Truncate" | "Relation"

/** Every other pgoutput message (Begin, Commit, Message, Type, Origin, Stream*, *Prepare*) with its position. */
export type Passthrough = Exclude<PgoutputMessage, { readonly _tag: Resolved }> & WalPosition

export type WalMessage = Insert | Update | Delete | Truncate | Relation | Passthrough | Reconnected

export type WalMessageTag = WalMessage["_tag"]

/** Narrow by tag: `WalMessage.is("Commit")(message)`. */
export const is =
  <T extends WalMessageTag>(tag: T) =>
  (message: WalMessage): message is Extract<WalMessage, { readonly _tag: T }> =>
    message._tag === tag

/**
 * The LSN that confirms a message once it and everything before it are processed: the end LSN for messages that
 * end a transaction (Commit, StreamCommit, Prepare, StreamPrepare, CommitPrepared, RollbackPrepared), otherwise
 * `walStart`. Committing a mid-transaction LSN is safe but makes the server resend the whole transaction on resume.
 */
export const commitLsn = (message: WalMessage): Lsn.Lsn => {
  switch (message._tag) {
    case "Commit":
    case "StreamCommit":
    case "Prepare":
    case "StreamPrepare":
    case "CommitPrepared":
      return Lsn.max(message.endLsn, message.walStart)
    case "RollbackPrepared":
      return Lsn.max(message.rollbackEndLsn, message.walStart)
    default:
      return message.walStart
  }
}

export type { Pgoutput }
