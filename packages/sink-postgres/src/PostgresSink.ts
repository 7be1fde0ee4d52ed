/**
 * The exactly-once sink into PostgreSQL: applies each source transaction to a target database in one target
 * transaction together with the progress row (`pgcdc_sink_progress`: this sink's id, the commit LSN of the last
 * transaction applied), and on start skips every transaction whose commit LSN is not after the row. So the target
 * sees each transaction once across crashes, restarts and moves of the consumer to another process, while the slot
 * (at least once) may send some again. Only after the target committed is the slot told (`commit`).
 *
 * Several transactions that arrive together go into one target transaction (at most `maxTransactions`), which keeps
 * the target's commits few when the sink lags. Row changes become upserts and deletes by the target's primary key,
 * truncates become TRUNCATE, snapshot and backfill rows become upserts (a snapshot truncates each target table when
 * its source table begins, and sets the progress row to its consistent point when complete). Tables map by name
 * (`TableMap`), columns by name.
 *
 * It does not create target tables, apply two-phase transactions, or retry: a failure ends `run` (the cluster's
 * slot supervisor, or the caller, starts it again, and the progress row makes that safe).
 */
import { Connection, type ConnectionConfig, type ConnectionError, type ConnectionShape } from "@pgcdc/connection"
import { Lsn, type ReplicationError, type ReplicationShape, Transactions } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Stream from "effect/Stream"
import { Catalog } from "./internal/catalog.ts"
import { build, segments, tablesOf } from "./internal/plan.ts"
import * as Progress from "./internal/progress.ts"
import { SinkError } from "./SinkError.ts"
import * as TableMap from "./TableMap.ts"

export type { Progress } from "./internal/progress.ts"

export interface PostgresSinkOptions {
  /** The target database (a regular session; `replication` is ignored). */
  readonly target: ConnectionConfig
  /** The progress row's key: one per slot (the cluster passes the slot's name). */
  readonly id: string
  /** Source "schema.table" → target "schema.table"; unlisted tables keep their names (see TableMap). */
  readonly tables?: Readonly<Record<string, string>> | undefined
  /** Schema of the progress table in the target. Default "public". */
  readonly progressSchema?: string | undefined
  /** The most source transactions in one target transaction. Default 500. */
  readonly maxTransactions?: number | undefined
  /** Called after each target commit (for logs and tests). */
  readonly onApplied?: ((event: AppliedEvent) => Effect.Effect<void>) | undefined
}

export interface AppliedEvent {
  /** Transactions applied by this target transaction. */
  readonly applied: number
  /** Transactions skipped because the progress row already had them. */
  readonly skipped: number
  /** The progress row after the commit. */
  readonly progress: Progress.Progress | undefined
}

/** The sink's metrics, labelled with its `id` (attribute `sink`). */
export const SinkMetrics = {
  applied: Metric.counter("pgcdc_sink_transactions_applied_total", {
    description: "Source transactions applied to the target",
    incremental: true
  }),
  skipped: Metric.counter("pgcdc_sink_transactions_skipped_total", {
    description: "Source transactions the slot sent again that the target already had",
    incremental: true
  })
} as const

/** The settings under which the text form of values reads back exactly (what the walsender sessions use). */
const sessionSettings =
  "SET standard_conforming_strings = on; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC'; SET extra_float_digits = 3"

/** Statements per query: a transaction of many rows goes in several queries inside BEGIN ... COMMIT. */
const maxQueryChars = 4 * 1024 * 1024

const targetError = (e: ConnectionError): SinkError =>
  new SinkError({
    reason: "Target",
    message: `The target database: ${e.message}`,
    code: e.code,
    retryable: e.isRetryable,
    cause: e
  })

/** Runs `statements` as one transaction: one implicit-transaction query when small, else BEGIN ... COMMIT. */
const transact = (conn: ConnectionShape, statements: ReadonlyArray<string>) => {
  const queries: Array<string> = []
  let current = ""
  for (const s of statements) {
    if (current.length > 0 && current.length + s.length > maxQueryChars) {
      queries.push(current)
      current = ""
    }
    current = current.length === 0 ? s : `${current};\n${s}`
  }
  if (current.length > 0) queries.push(current)
  if (queries.length <= 1) return conn.query(queries[0] ?? "SELECT 1")
  return Effect.forEach(["BEGIN", ...queries, "COMMIT"], (q) => conn.query(q), { discard: true }).pipe(
    Effect.tapError(() => Effect.ignore(conn.query("ROLLBACK")))
  )
}

/** The progress row of a sink, read from the target (for status pages and tests). */
export const readProgress = (conn: ConnectionShape, id: string, progressSchema = "public") =>
  Progress.read(conn, progressSchema, id).pipe(Effect.mapError(targetError))

/**
 * Applies the replication stream to the target until the stream ends or fails. Consume the stream with nothing
 * else: the sink commits to the slot itself.
 */
export const run = (
  replication: ReplicationShape,
  options: PostgresSinkOptions
): Effect.Effect<void, SinkError | ReplicationError | Transactions.TransactionError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const schema = options.progressSchema ?? "public"
      const map = yield* Effect.fromResult(TableMap.make(options.tables))
      const conn = yield* Connection.make(options.target).pipe(Effect.mapError(targetError))
      yield* conn.query(sessionSettings).pipe(Effect.mapError(targetError))
      yield* Progress.ensure(conn, schema).pipe(Effect.mapError(targetError))
      let progress = yield* readProgress(conn, options.id, schema)
      yield* Effect.logInfo(
        `sink ${options.id}: resuming after ${progress === undefined ? "nothing (no progress row yet)" : Lsn.format(progress.commitLsn)}`
      )
      const catalog = new Catalog(conn)
      const attributes = { sink: options.id }

      const applySegment = (segment: ReadonlyArray<Transactions.TransactionElement>) =>
        Effect.gen(function* () {
          for (;;) {
            const tables = yield* Effect.try({
              try: () => tablesOf(segment, progress, catalog, map),
              catch: (e) => e as SinkError
            })
            yield* catalog.load(tables).pipe(Effect.mapError((e) => (e instanceof SinkError ? e : targetError(e))))
            const plan = yield* Effect.try({
              try: () => build(segment, progress, catalog, map),
              catch: (e) => e as SinkError
            })
            const statements = [
              ...(plan.advance === undefined ? [] : [Progress.advance(schema, options.id, progress, plan.advance)]),
              ...plan.statements,
              ...(plan.reset === undefined ? [] : [Progress.reset(schema, options.id, plan.reset)])
            ]
            // Uninterruptible, with the commit to the slot: a consumer stopped mid-batch (a move) still tells the slot
            // what the target committed, so its last status update covers it and the next owner skips nothing.
            const confirm = plan.confirm === undefined ? Effect.void : replication.commit(plan.confirm)
            const outcome = yield* Effect.uninterruptible(
              Effect.result(statements.length === 0 ? confirm : Effect.andThen(transact(conn, statements), confirm))
            )
            if (outcome._tag === "Failure") {
              const failure = outcome.failure
              if (failure._tag === "ReplicationError") return yield* failure
              if (failure.code !== Progress.supersededCode) return yield* targetError(failure)
              // Another process applied some of these meanwhile: start from where the row is now.
              progress = yield* readProgress(conn, options.id, schema)
              yield* Effect.logWarning(
                `sink ${options.id}: the progress row moved under this sink (now ${progress === undefined ? "none" : Lsn.format(progress.commitLsn)}); planning again`
              )
              continue
            }
            progress = plan.reset ?? plan.advance ?? progress
            if (plan.applied > 0)
              yield* Metric.update(Metric.withAttributes(SinkMetrics.applied, attributes), plan.applied)
            if (plan.skipped > 0)
              yield* Metric.update(Metric.withAttributes(SinkMetrics.skipped, attributes), plan.skipped)
            if (options.onApplied !== undefined) {
              yield* options.onApplied({ applied: plan.applied, skipped: plan.skipped, progress })
            }
            return
          }
        })

      const max = Math.max(1, options.maxTransactions ?? 500)
      yield* replication.batches.pipe(
        Stream.flattenArray,
        Transactions.transactions(),
        Stream.runForEachArray((elements) => Effect.forEach(segments(elements, max), applySegment, { discard: true }))
      )
    })
  )

/** The sink as a consumer of a slot (what `@pgcdc/cluster` runs per slot): `id` defaults to the slot's name. */
export const consumer =
  (options: Omit<PostgresSinkOptions, "id"> & { readonly id?: string | undefined }) =>
  (context: { readonly replication: ReplicationShape; readonly slot: string }) =>
    run(context.replication, { ...options, id: options.id ?? context.slot })
