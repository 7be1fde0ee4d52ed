/**
 * What a test can do with the fake PostgreSQL server: the `FakePostgres` service's shape, its options, its error and
 * the records its methods return.
 *
 * Types only (and the error class): FakePostgres.ts builds the service and re-exports all of these.
 */
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Socket from "effect/socket/Socket"
import type { Lsn } from "@pgcdc/protocol"
import type { Disconnection, FakeServer, PublishAction, ReceivedStatusUpdate } from "./FakeServer.ts"
import type { FakeServerOptions, ResolvedOptions } from "./FakeServerOptions.ts"
import type {
  FakeChange,
  FakeRow,
  FakeTable,
  FakeTableDefinition,
  FakeTypeDefinition,
  PreparedOptions,
  StreamedOptions,
  TransactionOptions,
  WrittenTransaction
} from "./Wal.ts"

export class FakePostgresError extends Schema.TaggedError<FakePostgresError>()("FakePostgresError", {
  message: Schema.String
}) {}

export interface FakePostgresOptions extends FakeServerOptions {
  /** Start the loopback TCP listener (default true). Without it `port` is 0 and `url` is unusable. */
  readonly listen?: boolean | undefined
}

export interface SlotInfo {
  readonly name: string
  readonly kind: "logical" | "physical"
  readonly plugin: string | undefined
  readonly temporary: boolean
  readonly twoPhase: boolean
  readonly confirmedFlush: Lsn.Lsn
  /** PID of the session streaming from it. */
  readonly activePid: number | undefined
}

/** One connection to the fake, as `pg_stat_activity` would show it. */
export interface ConnectionInfo {
  readonly pid: number
  /** "logical" for a walsender (replication=database), "physical" (replication=true), or "regular". */
  readonly mode: "logical" | "physical" | "regular"
  /** The slot it streams from, while in START_REPLICATION. */
  readonly streamingSlot: string | undefined
  /** Whether it has a transaction block open. */
  readonly inTransaction: boolean
}

/** An error the server sends on request: FATAL (default) ends the connection, ERROR ends a stream. */
export interface InjectedError {
  readonly code: string
  readonly message: string
  readonly severity?: "ERROR" | "FATAL" | undefined
  readonly detail?: string | undefined
  readonly hint?: string | undefined
}

export interface FakePostgresShape {
  /** The resolved options (server version, user, password, database, timeouts...). */
  readonly config: ResolvedOptions
  /** Loopback listener address ("127.0.0.1"), its port and a libpq URL (with `replication=database`). */
  readonly host: string
  readonly port: number
  readonly url: string
  /** A new in-memory socket: each `reader` acquisition is one connection. */
  readonly socket: Effect.Effect<Socket.Socket>

  readonly defineTable: (definition: FakeTableDefinition) => Effect.Effect<FakeTable, FakePostgresError>
  /**
   * Defines a user-defined type (enum, domain, array, composite, range): Type messages name it as pgoutput does and
   * the Replication service's catalog query finds it. Values stay what the test writes (text, or binary bytes).
   */
  readonly defineType: (definition: FakeTypeDefinition) => Effect.Effect<void, FakePostgresError>
  readonly createSlot: (
    name: string,
    options?: { readonly twoPhase?: boolean }
  ) => Effect.Effect<void, FakePostgresError>
  readonly dropSlot: (name: string) => Effect.Effect<void, FakePostgresError>
  /**
   * A publication of every table (default) or of the listed tables ("name" or "schema.name"), sending the kinds of
   * change in `publish` (default all four, as `CREATE PUBLICATION ... WITH (publish = '...')`).
   */
  readonly createPublication: (
    name: string,
    options?: {
      readonly tables?: ReadonlyArray<string> | undefined
      readonly publish?: ReadonlyArray<PublishAction> | undefined
      /** Column lists (PostgreSQL 15+): table ("name" or "schema.name", as in `tables`) → the columns it sends. */
      readonly columns?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
      /**
       * Row filters (PostgreSQL 15+): table → the expression of its `WHERE (...)`, e.g. `"tenant = 42 AND NOT archived"`.
       * Fails for an expression the fake cannot evaluate (see RowFilter.ts).
       */
      readonly rowFilters?: Readonly<Record<string, string>> | undefined
    }
  ) => Effect.Effect<void, FakePostgresError>

  readonly transaction: (
    changes: ReadonlyArray<FakeChange>,
    options?: TransactionOptions
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly insert: (table: string, row: FakeRow) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly update: (table: string, row: FakeRow, old?: FakeRow) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly delete: (table: string, old: FakeRow) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly truncate: (
    tables: ReadonlyArray<string>,
    options?: { readonly cascade?: boolean; readonly restartIdentity?: boolean }
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  /** A logical message; non-transactional unless `transactional: true` (then it is a one-message transaction). */
  readonly message: (
    prefix: string,
    content: string | Uint8Array,
    options?: { readonly transactional?: boolean }
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly streamed: (
    changes: ReadonlyArray<FakeChange>,
    options?: StreamedOptions
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  /** PREPARE TRANSACTION; `segments` makes it a large (streamed) one for sessions with streaming and two_phase. */
  readonly prepared: (
    gid: string,
    changes: ReadonlyArray<FakeChange>,
    options?: PreparedOptions
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly commitPrepared: (gid: string) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly rollbackPrepared: (gid: string) => Effect.Effect<WrittenTransaction, FakePostgresError>
  /** Sends a keepalive to every streaming session now. */
  readonly keepalive: (options?: { readonly replyRequested?: boolean }) => Effect.Effect<void>

  /** Drops every connection at once, without a message. */
  readonly dropConnections: Effect.Effect<void>
  /**
   * Drops one connection without a message, as `pg_terminate_backend(pid)` does: its temporary slots and its exported
   * snapshot go with it. False when no connection has that PID.
   */
  readonly terminate: (pid: number) => Effect.Effect<boolean>
  /** Sends an ErrorResponse to every connection. */
  readonly failWith: (error: InjectedError) => Effect.Effect<void>
  /** Stops writing to every connection (keepalives included) until `resume`. */
  readonly stall: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
  /** Writes bytes that break the framing (default `corruptFrame`) to every connection. */
  readonly corrupt: (bytes?: Uint8Array) => Effect.Effect<void>

  readonly currentLsn: Effect.Effect<Lsn.Lsn>
  readonly confirmedFlush: (slot: string) => Effect.Effect<Lsn.Lsn | undefined>
  readonly slots: Effect.Effect<ReadonlyArray<SlotInfo>>
  readonly statusUpdates: Effect.Effect<ReadonlyArray<ReceivedStatusUpdate>>
  readonly queries: Effect.Effect<ReadonlyArray<string>>
  readonly disconnections: Effect.Effect<ReadonlyArray<Disconnection>>
  readonly connectionCount: Effect.Effect<number>
  /** The open connections. */
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
  /**
   * The rows a table holds now ("name" or "schema.name"): what the committed transactions left, by column name, as a
   * COPY or an initial snapshot reads them.
   */
  readonly rows: (table: string) => Effect.Effect<ReadonlyArray<FakeRow>>

  /** Waits until a session streams (from `slot`, when given). */
  readonly awaitStreaming: (slot?: string) => Effect.Effect<void>
  /** Waits until the slot exists (an initial snapshot's slot appears once the consumer confirmed the snapshot). */
  readonly awaitSlot: (slot: string) => Effect.Effect<SlotInfo>
  /** Waits until the slot's confirmed position reaches `lsn`. */
  readonly awaitConfirmedFlush: (slot: string, lsn: Lsn.Lsn) => Effect.Effect<void>
  /** Waits until at least `count` status updates have arrived in total; returns them all. */
  readonly awaitStatusUpdates: (count: number) => Effect.Effect<ReadonlyArray<ReceivedStatusUpdate>>
  /** Waits until at least `count` connections have ended in total; returns them all. */
  readonly awaitDisconnections: (count: number) => Effect.Effect<ReadonlyArray<Disconnection>>

  /** The server state itself, for harnesses that need more than the methods above. */
  readonly server: FakeServer
}
