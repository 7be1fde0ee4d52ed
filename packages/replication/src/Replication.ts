/**
 * The `Replication` service: a `Stream` of `WalMessage`s from a logical replication slot, `commit(lsn)` to say what
 * has been processed, `flush` to report it now, and `status` for positions and lag. This module holds the options,
 * the service's shape and the layers; the parts live in internal/ (docs/design.md has the picture):
 * - service: what `Replication.make` does: the start, the state `commit`, `flush` and `status` share with the
 *   sessions, and the wiring (runService runs the parts);
 * - preflight: wal_level, the slot, the publications, before anything streams;
 * - supervisor: runs sessions one after another and classifies how each ended (retry, wait for the slot, fail);
 * - session: one walsender session; its reader (socket to queue) and feedback loop (status updates);
 * - delivery: the consumer's side, decoding each message as it is pulled.
 *
 * The invariants it holds (numbered as in docs/design.md): at-least-once (1), only committed LSNs are reported;
 * monotonic, cheap `commit` (2), one Ref update; never timed out (3), the feedback loop runs apart from the
 * consumer at a third of wal_sender_timeout at most; resume (4), reconnects start after the last transaction handed
 * out; bounded memory (5), at most `bufferSize` undecoded messages wait; every ending classified (9).
 *
 * It deliberately does not group messages into transactions (Transactions does), create slots or publications
 * implicitly, or copy the initial table contents.
 */
import { type ConnectionConfig, Connector } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import type * as Arr from "effect/Array"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Schedule from "effect/Schedule"
import type * as Stream from "effect/Stream"
import type { Backfill, BackfillOptions } from "./internal/backfill/backfills.ts"
import { makeService } from "./internal/service.ts"
import * as Metrics from "./internal/metrics.ts"
import type { SnapshotMode } from "./internal/preflight.ts"
import type { StartOptions } from "./internal/startOptions.ts"
import type { SlotHealth } from "./internal/slotWatch.ts"
import type { ReplicationError } from "./ReplicationError.ts"
import type { WalMessage } from "./WalMessage.ts"

export interface ReplicationOptions extends StartOptions {
  /** Where to start; default the slot's confirmed_flush_lsn (where the last consumer committed). */
  readonly startLsn?: Lsn.Lsn | undefined
  /** End the stream (normally) before the first transaction that commits after this LSN. */
  readonly endLsn?: Lsn.Lsn | undefined
  /**
   * The longest time between two status updates. Default 10 seconds. Each session reads the server's
   * `wal_sender_timeout` and sends at least every third of it when that is shorter, so no setting lets the server
   * time the session out, however long the consumer stalls (`status` shows the interval in use).
   */
  readonly statusInterval?: Duration.Input | undefined
  /**
   * How soon a commit reaches the server: a status update goes out at most this long after `commit` moves the
   * position (one update for all the commits in that time). After a crash of this process, the work repeated is what
   * was not committed plus at most this much of what was (after a crash of the server, more: the README's contract
   * says why). Default 1 second; `flush` sends one at once.
   */
  readonly flushDelay?: Duration.Input | undefined
  /**
   * When the slot is held by another process: without this option the service fails at once with "SlotActive"
   * naming that process; with it, the service waits on this schedule (a standby taking over when the active consumer
   * stops), logging who holds the slot every 10 seconds. The layer is built at once; the stream starts when the slot
   * is free. Example: `Schedule.spaced("1 second")`.
   */
  readonly waitForSlot?: Schedule.Schedule<unknown, ReplicationError> | undefined
  /**
   * Messages received ahead of the consumer, kept undecoded (the consumer decodes each one when it pulls it); when
   * this many wait, the reader stops reading the socket. Default 1024.
   */
  readonly bufferSize?: number | undefined
  /**
   * When to reconnect after a retryable failure. Default: exponential from 100 ms, at most 10 attempts in a row
   * (the count starts over after a session that received data).
   */
  readonly reconnect?: Schedule.Schedule<unknown, ReplicationError> | undefined
  /** How long a graceful stop waits for the server to end the copy. Default 10 seconds. */
  readonly stopTimeout?: Duration.Input | undefined
  /**
   * Read the published tables' current rows first (SnapshotBegin, Read, SnapshotEnd per table, then
   * SnapshotComplete), then stream every change after the snapshot's consistent point: "initial" (the slot must not
   * exist: the snapshot creates it), "when_needed" (snapshot only when the slot is missing or has lost its WAL,
   * otherwise stream), "initial_only" (the snapshot alone: the stream ends after SnapshotComplete, no slot is kept).
   * Default "never": stream from the existing slot. Commit SnapshotComplete once the rows are durably applied: the
   * slot is made permanent then (see docs/snapshots.md).
   */
  readonly snapshot?: SnapshotMode | undefined
  /** Sessions that read the snapshot in parallel (each a regular connection). Default 2. */
  readonly snapshotSessions?: number | undefined
  /**
   * The schema of the backfill progress table (`pgcdc_backfills`, created by the first `backfill`), where backfills
   * are resumed from after a restart. Default "public".
   */
  readonly backfillSchema?: string | undefined
  /**
   * Write a heartbeat (a non-transactional logical message, `pgcdc.heartbeat`) this often on a regular session, so
   * the slot advances while the published tables are idle and the rest of the database is busy (without one, the
   * walsender sends nothing and the slot pins all that WAL). Hidden from the consumer (see `heartbeatMessages`), and
   * passed by the slot once everything before it is committed. Default: none.
   */
  readonly heartbeat?: Duration.Input | undefined
  /** Hand the heartbeat's messages to the consumer too (as `Message`s with prefix `pgcdc.heartbeat`). Default false. */
  readonly heartbeatMessages?: boolean | undefined
  /**
   * How often to read the slot's health (wal_status, safe_wal_size, retained WAL) on a regular session, for `status`
   * and the metrics, warning when it nears max_slot_wal_keep_size. Default 1 minute; 0 turns it off.
   */
  readonly slotCheckInterval?: Duration.Input | undefined
  /**
   * When the values of Insert, Update and Delete rows are decoded. "eager" (the default): every column before the
   * message is handed out, so an undecodable value fails the stream. "lazy": each column when it is first read, for
   * consumers that read a key or pass most values through; the values are the same, the row holds a copy of its
   * undecoded bytes, and an undecodable value throws its `ReplicationError` from the property access that reads it.
   * Keys of Update and Delete and snapshot rows are decoded eagerly.
   */
  readonly values?: "eager" | "lazy" | undefined
}

export interface ReplicationStatus {
  /** The highest WAL position received. */
  readonly received: Lsn.Lsn
  /** The highest LSN passed to `commit` (or the start position). */
  readonly committed: Lsn.Lsn
  /** The flush position last reported to the server. */
  readonly flushed: Lsn.Lsn
  /** The server's WAL end, from its latest message. */
  readonly serverWalEnd: Lsn.Lsn
  /** Bytes of WAL between the server's WAL end and what may be flushed now. */
  readonly lagBytes: bigint
  /** Sessions started so far (1 + reconnects): START_REPLICATION commands the server accepted. */
  readonly sessions: number
  /** The interval between status updates in the current session (see `statusInterval`). */
  readonly statusInterval: Duration.Duration
  /** The server's wal_sender_timeout as the current session read it; undefined before the first session. */
  readonly walSenderTimeout: Duration.Duration | undefined
  /** The slot's health at the last check (`slotCheckInterval`); undefined before it, or when the slot is missing. */
  readonly slot: SlotHealth | undefined
}

export interface ReplicationShape {
  /** The WAL messages, in order. Consume it once: every message is delivered to one consumer. */
  readonly stream: Stream.Stream<WalMessage, ReplicationError>
  /**
   * The same messages as `stream`, in order, as non-empty arrays (what was decoded together, at most `bufferSize`
   * messages). For consumers that loop over an array themselves: it costs one pull per batch instead of one per
   * message. Each array is delivered whole or not at all, so stopping early (Stream.take) loses nothing. `stream` and
   * `batches` read the same messages: use one of them.
   */
  readonly batches: Stream.Stream<Arr.NonEmptyReadonlyArray<WalMessage>, ReplicationError>
  /**
   * Everything up to `lsn` is processed and may be discarded by the server. Monotonic (an older LSN is ignored),
   * fails with "CommitBeyondReceived" for an LSN beyond everything received, never waits on the network.
   */
  readonly commit: (lsn: Lsn.Lsn) => Effect.Effect<void, ReplicationError>
  /**
   * Sends a status update now (with everything committed so far) and completes once it is written to the server's
   * socket; during a reconnect, the next session sends it. Fails if the service has failed.
   */
  readonly flush: Effect.Effect<void, ReplicationError>
  readonly status: Effect.Effect<ReplicationStatus>
  /**
   * Re-reads a published table with a primary key ("schema.name", or "name" in public) while the stream goes on, a
   * chunk of rows at a time, without locks: the stream hands out BackfillBegin, the rows as Read messages, then
   * BackfillEnd, among the changes, never a row older than a change of it already handed out. The next chunk is read
   * once the consumer commits the transaction that carried the last one; a restart resumes after the last committed
   * chunk (progress is kept in `<backfillSchema>.pgcdc_backfills`). See docs/snapshots.md.
   */
  readonly backfill: (
    table: string | { readonly schema?: string | undefined; readonly name: string },
    options?: BackfillOptions
  ) => Effect.Effect<Backfill, ReplicationError>
}

/** The service's metrics, for dashboards and tests (`Metric.value(ReplicationMetrics.messages)`). */
export const ReplicationMetrics = {
  messages: Metrics.messagesTotal,
  bytes: Metrics.bytesTotal,
  lagBytes: Metrics.lagGauge,
  reconnects: Metrics.reconnectsTotal
} as const

/** The connection settings of `config` as a logical walsender session. */
const walsender = (config: ConnectionConfig): ConnectionConfig => ({ ...config, replication: "logical" })

export class Replication extends Context.Service<Replication, ReplicationShape>()("@pgcdc/replication/Replication") {
  /**
   * Starts replicating for the lifetime of the scope, opening every session (the first, and one per reconnect)
   * through the `Connector` in context: a logical walsender connector.
   */
  static readonly make = makeService

  /**
   * The service as a layer over a `Connector` layer (its config with `replication: "logical"`). Configuration mistakes
   * (a connector that is not a walsender, wal_level, a missing slot or publication, options the server is too old
   * for, a slot in use) fail the layer; later failures fail the stream.
   */
  static readonly layer = (options: ReplicationOptions): Layer.Layer<Replication, ReplicationError, Connector> =>
    Layer.effect(Replication, makeService(options))

  /**
   * The service with its own walsender connections, configured through Effect `Config` (by default the libpq
   * variables, `fromEnv` of `@pgcdc/connection/config`, loaded only then); `replication: "logical"` is set for you.
   */
  static readonly layerConfig = (
    options: ReplicationOptions,
    config?: Config.Config<ConnectionConfig>
  ): Layer.Layer<Replication, ReplicationError | Config.ConfigError> =>
    Replication.layer(options).pipe(
      Layer.provide(
        Layer.effect(
          Connector,
          Effect.map(Effect.service(Connector), (connector) => Connector.make(walsender(connector.config)))
        )
      ),
      Layer.provide(Connector.layerConfig(config))
    )
}
