/**
 * A `Backend`: a place where a workload is written and from which the `Replication` service reads it back, so the
 * conformance suite and the simulation run unchanged against the fake server and against real PostgreSQL.
 *
 * A workload is plain data: tables with int4/int8/text columns, and transactions of inserts, updates and deletes by
 * key, truncates and logical messages, committed or rolled back, optionally large enough to be streamed. Values are
 * text as PostgreSQL prints them (`null` is SQL NULL), so a model can hold them and compare them with what a table
 * or a replica holds.
 *
 * It deliberately says nothing about how a backend stores rows or about timing: backends that need time (status updates reaching a real server) hide it behind effects that
 * complete when the condition holds.
 */
import type { ConnectionConfig } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import type { ReplicationOptions } from "@pgcdc/replication"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export type ColumnType = "int4" | "int8" | "text"

export interface ColumnSpec {
  readonly name: string
  readonly type: ColumnType
  /** Part of the primary key (the replica identity). */
  readonly key?: boolean | undefined
}

export interface TableSpec {
  readonly name: string
  readonly columns: ReadonlyArray<ColumnSpec>
  /** "full" sends whole old rows with updates and deletes. Default "default" (the primary key). */
  readonly replicaIdentity?: "default" | "full" | undefined
}

/** A column value as text (as PostgreSQL prints it); null is SQL NULL. */
export type Value = string | null
export type Row = Readonly<Record<string, Value>>

export type Op =
  | { readonly _tag: "Insert"; readonly table: string; readonly row: Row }
  /** Sets the non-key columns of the row with the same key (every column is given). */
  | { readonly _tag: "Update"; readonly table: string; readonly row: Row }
  | { readonly _tag: "Delete"; readonly table: string; readonly key: Row }
  | { readonly _tag: "Truncate"; readonly tables: ReadonlyArray<string> }
  /** A transactional logical message (pg_logical_emit_message(true, ...)). */
  | { readonly _tag: "Message"; readonly prefix: string; readonly content: string }
  /**
   * `count` rows `{ id: from + i, v: text, n: (from + i) * 1000 }` inserted into a table with columns id, v and n:
   * one SQL statement on PostgreSQL, so a transaction can be made larger than logical_decoding_work_mem cheaply.
   */
  | {
      readonly _tag: "InsertSeries"
      readonly table: string
      readonly from: number
      readonly count: number
      readonly text: string
    }

export interface Transaction {
  readonly ops: ReadonlyArray<Op>
  /** ROLLBACK instead of COMMIT. */
  readonly rollback?: boolean | undefined
  /**
   * A transaction the server streams while in progress (with `streaming: "on"`). PostgreSQL streams by size (the
   * test server runs with a small logical_decoding_work_mem); the fake streams it because it is told to.
   */
  readonly streamed?: boolean | undefined
}

export class BackendError extends Schema.TaggedError<BackendError>()("BackendError", {
  backend: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.Unknown)
}) {}

export interface SetupSpec {
  /** The pgoutput slot the workload uses (dropped when the backend's scope closes). */
  readonly slot: string
  /** Create the slot now (default true); false leaves it to an initial snapshot, which creates it. */
  readonly createSlot?: boolean | undefined
  readonly publication: string
  /** Tables created and published. */
  readonly tables: ReadonlyArray<TableSpec>
  /** Tables created but left out of the publication. */
  readonly unpublished?: ReadonlyArray<TableSpec> | undefined
  /** The kinds of change the publication sends (`WITH (publish = '...')`); all four when omitted. */
  readonly publish?: ReadonlyArray<"insert" | "update" | "delete" | "truncate"> | undefined
  /** Column lists (PostgreSQL 15+): table name → the columns the publication sends of it. */
  readonly columns?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** Row filters (PostgreSQL 15+): table name → the expression of its `WHERE (...)`. */
  readonly rowFilters?: Readonly<Record<string, string>> | undefined
  /** More publications of the same tables, each with its own column lists and row filters (to combine in a session). */
  readonly more?: ReadonlyArray<{
    readonly publication: string
    readonly columns?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
    readonly rowFilters?: Readonly<Record<string, string>> | undefined
  }>
}

export interface Backend {
  /** For messages and test names, e.g. "fake 18.1" or "PostgreSQL 18". */
  readonly name: string
  readonly kind: "fake" | "postgres"
  /** server_version_num form. */
  readonly serverVersion: number
  /** The settings of a walsender `Connection` for the `Replication` service (and its reconnects). */
  readonly connection: ConnectionConfig
  /** Options that make the service fit the backend (status interval, reconnect schedule). */
  readonly replicationOptions: Partial<ReplicationOptions>
  /** Creates the tables, a publication of the published ones and (unless told not to) a pgoutput slot. */
  readonly setup: (spec: SetupSpec) => Effect.Effect<void, BackendError>
  /** Runs one transaction (nothing reaches the stream when it is rolled back). */
  readonly transaction: (tx: Transaction) => Effect.Effect<void, BackendError>
  /** A non-transactional logical message. */
  readonly message: (prefix: string, content: string) => Effect.Effect<void, BackendError>
  /** The slot's confirmed_flush_lsn. */
  readonly confirmedFlush: (slot: string) => Effect.Effect<Lsn.Lsn, BackendError>
  /** Ends the walsender sessions streaming from the slot, without a message (a lost connection). */
  readonly dropReplicationConnections: (slot: string) => Effect.Effect<void, BackendError>
  /** Whether the slot exists. */
  readonly slotExists: (slot: string) => Effect.Effect<boolean, BackendError>
  /** Waits until the slot exists (an initial snapshot's slot appears once the consumer confirmed the snapshot). */
  readonly awaitSlot: (slot: string) => Effect.Effect<void, BackendError>
  /**
   * Ends, without a message, every session that holds a temporary slot (as `pg_terminate_backend` does, waiting until
   * it is gone): the walsender that exported an initial snapshot, with its slot and its snapshot.
   */
  readonly dropTemporarySlotSessions: Effect.Effect<void, BackendError>
  /** The rows of a table, as text, when the backend stores rows (PostgreSQL and the fake do). */
  readonly readTable: ((table: TableSpec) => Effect.Effect<ReadonlyArray<Row>, BackendError>) | undefined
  /**
   * The LSNs of the non-transactional logical messages with this prefix written since the backend was made (a
   * heartbeat's, say), when the backend can tell: the fake from its WAL, PostgreSQL 15 and later with pg_walinspect.
   */
  readonly logicalMessages: ((prefix: string) => Effect.Effect<ReadonlyArray<Lsn.Lsn>, BackendError>) | undefined
  /**
   * Runs `check` until it is true: on a real server every 20 ms for up to 10 s, on the fake again as soon as the other
   * fibers have run (up to 10,000 times), which needs no clock. Fails with a BackendError naming `what` when it never is.
   */
  readonly eventually: <E>(what: string, check: Effect.Effect<boolean, E>) => Effect.Effect<void, E | BackendError>
}
