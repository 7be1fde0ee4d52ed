/**
 * The simulation's backfills (`SimulationOptions.backfill`). At random Commits the consumer loses a table (its replica
 * of it is emptied, as a sink that lost its data) and asks for a backfill of it: from then on the replica of that table
 * can only come back whole through the backfill's `Read`s and the stream's changes, so a row a backfill never hands
 * out stays missing and a row it hands out behind a newer change stays stale. Until the backfill's `BackfillEnd` the
 * harness checks that every row the replica holds of the table is the model's (none stale, none that should be gone);
 * after it, and at the end of the run, that the replica equals the model.
 *
 * The harness crashes the consumer during backfills too (with `crashProbability` for backfill messages). A crashed
 * consumer's service is gone with its backfill runners: the next start must resume each backfill from the progress
 * table (its BackfillBegin comes again, with the same id) after the last chunk the consumer committed, never skipping
 * one. At the end the harness drives the stream, starting no more backfills, until the progress table holds no
 * running backfill of the slot.
 *
 * This module keeps what the consumer lost and what the current session has begun, and the counts; it deliberately
 * decides nothing about crashes (the harness's crash points do).
 */
import type { ReplicationShape, WalMessage } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import type { Backend, Row, TableSpec } from "./Backend.ts"
import type { Tables } from "./Model.ts"
import type { Random } from "./Random.ts"
import { keyOf } from "./Rows.ts"

export interface BackfillSimulationOptions {
  /** Rows each table holds before the first start (keys 1 to `rows`; give the workload a `keySpace` as large). */
  readonly rows: number
  /** Rows per chunk. Default 8. */
  readonly chunkSize?: number | undefined
  /** Chance, per Commit the consumer handles, that it loses a table none runs for and backfills it. Default 0.05. */
  readonly startProbability?: number | undefined
  /** Chance that a crash point crashes the consumer while it handles a backfill's message. Default 0.02. */
  readonly crashProbability?: number | undefined
}

export interface BackfillCounts {
  /** Backfills the consumer started (each after losing the table). */
  readonly started: number
  /** Rows handed out by backfills (Reads), resumed runs included. */
  readonly reads: number
  /** BackfillEnd messages, not cancelled (again after a crash before the last chunk was committed). */
  readonly completed: number
  /** BackfillBegin messages of a backfill an earlier session began: resumed after a crash from the progress table. */
  readonly resumed: number
  /** Crashes while a backfill was running in the crashed session. */
  readonly crashes: number
}

/** The columns of the service's progress table that the harness reads. */
const progressTable: TableSpec = {
  name: "pgcdc_backfills",
  columns: [
    { name: "id", type: "text", key: true },
    { name: "slot", type: "text" },
    { name: "table_name", type: "text" },
    { name: "state", type: "text" }
  ]
}

const backfillMessages = new Set(["BackfillBegin", "Read", "BackfillEnd"])

export class SimulatedBackfills {
  readonly options: BackfillSimulationOptions
  private readonly random: Random
  private readonly tables: ReadonlyArray<TableSpec>
  private readonly trace: Array<string>
  /** Tables the consumer lost and whose backfill has not ended yet (durable, like the replica: crashes keep it). */
  private readonly lost = new Set<string>()
  /** Tables with a backfill begun in this session and not ended. */
  private running = new Set<string>()
  /** Ids of the backfills begun in earlier sessions, and in the current one. */
  private readonly earlier = new Set<string>()
  private readonly current = new Set<string>()
  /** Set for the end of the run: no new backfills. */
  private draining = false
  private counts = { started: 0, reads: 0, completed: 0, resumed: 0, crashes: 0 }

  constructor(
    options: BackfillSimulationOptions,
    random: Random,
    tables: ReadonlyArray<TableSpec>,
    trace: Array<string>
  ) {
    this.options = options
    this.random = random
    this.tables = tables
    this.trace = trace
  }

  get stats(): BackfillCounts {
    return { ...this.counts }
  }

  /** A message a backfill hands out (the simulation's Reads are all backfills' when it takes no snapshot). */
  isBackfillMessage(m: WalMessage): boolean {
    return backfillMessages.has(m._tag) && (m._tag !== "Read" || this.running.has(m.table.name))
  }

  /** Whether the consumer lost the table and its backfill has not ended: its replica may lack rows, nothing more. */
  isLost(table: string): boolean {
    return this.lost.has(table)
  }

  /** Tables lost and not backfilled yet. */
  get stillLost(): ReadonlyArray<string> {
    return [...this.lost]
  }

  /** A new service started: what the last one began is now another session's. */
  newSession(): void {
    for (const id of this.current) this.earlier.add(id)
    this.current.clear()
    this.running = new Set()
  }

  /** The consumer crashed. */
  crashed(): void {
    if (this.running.size > 0) this.counts.crashes++
  }

  /** No more backfills from now on: the run drives the running ones to their end. */
  drain(): void {
    this.draining = true
  }

  /** A message handed out, before the consumer handles it. */
  observe(m: WalMessage): void {
    switch (m._tag) {
      case "BackfillBegin": {
        const resumed = this.earlier.has(m.id)
        if (resumed) this.counts.resumed++
        this.current.add(m.id)
        this.running.add(m.table.name)
        this.trace.push(`backfill of ${m.table.name} ${resumed ? "resumed" : "begins"}`)
        return
      }
      case "BackfillEnd":
        if (!m.cancelled) this.counts.completed++
        this.running.delete(m.table.name)
        this.trace.push(
          `backfill of ${m.table.name} ends: ${m.rows} rows in this run${m.cancelled ? ", cancelled" : ""}`
        )
        return
      case "Read":
        if (this.running.has(m.table.name)) this.counts.reads++
        return
      default:
        return
    }
  }

  /** A message the consumer has handled: after a BackfillEnd, the replica of its table must be whole again. */
  handled(m: WalMessage): void {
    if (m._tag === "BackfillEnd" && !m.cancelled) this.lost.delete(m.table.name)
  }

  /**
   * At a Commit the consumer handled: perhaps it loses a table that no backfill runs for, in this session or in the
   * progress table (one a crashed session left, which this one resumes: a consumer asks for one backfill of a table at
   * a time), and asks for a backfill of it. The consumer has committed everything up to here, so what it lost comes
   * back as the backfill's Reads, and every later change as the stream.
   */
  maybeStart(replication: ReplicationShape, backend: Backend, slot: string, replica: Tables) {
    return Effect.gen({ self: this }, function* () {
      if (this.draining || !this.random.chance(this.options.startProbability ?? 0.05)) return
      const stored = new Set((yield* this.runningRows(backend, slot)).map((r) => r.table_name))
      const idle = this.tables.filter((t) => !this.lost.has(t.name) && !stored.has(t.name))
      if (idle.length === 0) return
      const table = this.random.pick(idle)
      const rows = replica.size(table.name)
      replica.clear(table.name)
      this.lost.add(table.name)
      this.counts.started++
      this.trace.push(`lose the ${rows} rows of ${table.name} and start a backfill of it`)
      yield* replication.backfill(table.name, { chunkSize: this.options.chunkSize ?? 8 })
    })
  }

  /** The progress table's running backfills of the slot (none before the first backfill made the table). */
  private runningRows(backend: Backend, slot: string) {
    return this.counts.started === 0 || backend.readTable === undefined
      ? Effect.succeed([])
      : Effect.map(backend.readTable(progressTable), (rows) =>
          rows.filter((r) => r.slot === slot && r.state === "running")
        )
  }

  /** How many backfills of the slot the progress table holds as running. */
  unfinished(backend: Backend, slot: string) {
    return Effect.map(this.runningRows(backend, slot), (rows) => rows.length)
  }
}

/**
 * The model's rows to compare a lost table's replica with: those whose keys the replica holds. A row the replica holds
 * that the model does not (deleted since), or holds with other values (stale), is a difference; a missing one is not.
 */
export const rowsHeldBy = (
  spec: TableSpec,
  model: ReadonlyArray<Row>,
  replica: ReadonlyArray<Row>
): ReadonlyArray<Row> => {
  const held = new Set(replica.map((r) => keyOf(spec, r)))
  return model.filter((r) => held.has(keyOf(spec, r)))
}
