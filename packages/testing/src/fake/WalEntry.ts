/**
 * What the fake WAL holds: changes resolved against the catalog at their LSNs, and the decoded entries of the log
 * (transactions, logical messages, prepared transactions and their COMMIT/ROLLBACK PREPARED), in log order, as
 * logical decoding hands them to an output plugin.
 *
 * Records only: Wal.ts writes them, Output.ts turns them into pgoutput messages for a session.
 */
import type { TupleData } from "@pgcdc/protocol"
import type { FakeTable } from "./Wal.ts"

/** A change resolved against the catalog, at its LSN. */
export type WalChange =
  | { readonly _tag: "Insert"; readonly lsn: bigint; readonly table: FakeTable; readonly newTuple: TupleData }
  | {
      readonly _tag: "Update"
      readonly lsn: bigint
      readonly table: FakeTable
      readonly key: TupleData | undefined
      readonly old: TupleData | undefined
      readonly newTuple: TupleData
    }
  | {
      readonly _tag: "Delete"
      readonly lsn: bigint
      readonly table: FakeTable
      readonly key: TupleData | undefined
      readonly old: TupleData | undefined
    }
  | {
      readonly _tag: "Truncate"
      readonly lsn: bigint
      readonly tables: ReadonlyArray<FakeTable>
      readonly cascade: boolean
      readonly restartIdentity: boolean
    }
  | { readonly _tag: "Message"; readonly lsn: bigint; readonly prefix: string; readonly content: Uint8Array }

/** A decoded WAL entry, in log order. */
export type WalEntry =
  | {
      readonly _tag: "Transaction"
      readonly xid: number
      readonly changes: ReadonlyArray<WalChange>
      readonly firstLsn: bigint
      readonly commitLsn: bigint
      readonly endLsn: bigint
      readonly commitTime: bigint
      readonly origin: string | undefined
      /** Streamed (large) transaction: its segment count; undefined for a normal one. */
      readonly segments: number | undefined
      readonly aborted: boolean
    }
  | {
      readonly _tag: "Message"
      readonly lsn: bigint
      readonly endLsn: bigint
      readonly prefix: string
      readonly content: Uint8Array
    }
  | {
      readonly _tag: "Prepare"
      readonly xid: number
      readonly gid: string
      readonly changes: ReadonlyArray<WalChange>
      readonly firstLsn: bigint
      readonly prepareLsn: bigint
      readonly endLsn: bigint
      readonly prepareTime: bigint
      readonly origin: string | undefined
      /** Streamed (large) prepared transaction: its segment count. */
      readonly segments: number | undefined
    }
  | {
      readonly _tag: "CommitPrepared" | "RollbackPrepared"
      readonly prepare: Extract<WalEntry, { readonly _tag: "Prepare" }>
      /** The LSN of the COMMIT/ROLLBACK PREPARED record. */
      readonly lsn: bigint
      readonly endLsn: bigint
      readonly time: bigint
    }

export type PrepareEntry = Extract<WalEntry, { readonly _tag: "Prepare" }>
