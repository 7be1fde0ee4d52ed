/**
 * What `Simulation.run` takes and returns: the options (the backend, the consumer, fault probabilities, the workload,
 * an initial snapshot, backfills), the report of a run, and the failure that names the seed. See Simulation.ts for
 * what a run does with them.
 */
import * as Schema from "effect/Schema"
import type { Backend, TableSpec } from "./Backend.ts"
import type { BackfillCounts, BackfillSimulationOptions } from "./Backfills.ts"
import type { Consumer } from "./Consumer.ts"
import type { WorkloadOptions } from "./Workload.ts"

export type { BackfillCounts, BackfillSimulationOptions }

export interface SimulationOptions {
  /** A non-negative safe integer; the same seed gives the same workload, crash points and drops. */
  readonly seed: number
  readonly iterations: number
  readonly backend: Backend
  /** Default `applyThenCommit`. */
  readonly consumer?: Consumer | undefined
  /** Chance that a crash point crashes the consumer. Default 0.03. */
  readonly crashProbability?: number | undefined
  /** Chance, per delivered message, that the harness drops the walsender connection. Default 0.005. */
  readonly dropProbability?: number | undefined
  readonly workload?: WorkloadOptions | undefined
  /** Prefix of the tables, slot and publication. Default `sim_<seed>`. */
  readonly name?: string | undefined
  /** Default: `<name>_a` (primary key identity) and `<name>_b` (REPLICA IDENTITY FULL), columns id, v, n. */
  readonly tables?: ReadonlyArray<TableSpec> | undefined
  /** Start from an initial snapshot of tables that already hold rows (see the module header). */
  readonly snapshot?: SnapshotSimulationOptions | undefined
  /** Backfills of tables that hold rows, started by the consumer, with crashes during them (Backfills.ts). */
  readonly backfill?: BackfillSimulationOptions | undefined
}

export interface SnapshotSimulationOptions {
  /**
   * Rows each table holds before the first start (keys 1 to `rows`; give the workload a `keySpace` as large for its
   * updates and deletes to meet them). Keep it under the service's `bufferSize` (1024) on PostgreSQL: a workload
   * TRUNCATE during the snapshot waits for the snapshot's sessions, which wait for the consumer.
   */
  readonly rows: number
  /** Chance that a crash point crashes the consumer while it handles a snapshot message. Default 0.01. */
  readonly crashProbability?: number | undefined
  /** Chance, per snapshot message, that the harness commits a workload transaction then. Default 0.05. */
  readonly writeProbability?: number | undefined
}

export interface SimulationReport {
  readonly seed: number
  readonly iterations: number
  /** Transactions written: committed and rolled back (markers not counted). */
  readonly committed: number
  readonly rolledBack: number
  /** Row operations in committed transactions. */
  readonly operations: number
  /** Messages delivered to the consumer, replays included. */
  readonly messages: number
  /** Transactions delivered again after a consumer crash (at-least-once at work; a dropped connection repeats none). */
  readonly replayedTransactions: number
  readonly crashes: number
  readonly drops: number
  /** Replication services started by the harness (1 + restarts after crashes). */
  readonly restarts: number
  /**
   * Starts that took an initial snapshot (no slot existed), and crashes before the consumer committed one's
   * SnapshotComplete (a crash just after it, before the slot is created, also makes the next start take it again).
   */
  readonly snapshots: number
  readonly snapshotCrashes: number
  /** Transactions the harness committed while a snapshot was delivered. */
  readonly writesDuringSnapshot: number
  /** With `backfill`: backfills started, rows they handed out, completed, resumed after crashes, crashes during them. */
  readonly backfills: BackfillCounts
  /** Walsender sessions in total, the service's own reconnects included. */
  readonly sessions: number
  /** Rows per table at the end. */
  readonly rows: Readonly<Record<string, number>>
  /** What happened, one line per event; equal for equal seeds on the fake. */
  readonly trace: ReadonlyArray<string>
}

export class SimulationFailure extends Schema.TaggedError<SimulationFailure>()("SimulationFailure", {
  seed: Schema.Number,
  iteration: Schema.Number,
  message: Schema.String,
  trace: Schema.Array(Schema.String)
}) {}
