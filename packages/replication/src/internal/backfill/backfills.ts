/**
 * The service's backfills: starting one (`Replication.backfill`, or a `pgcdc.signal` message in the stream), resuming
 * those that were running for this slot when its last consumer stopped (from the progress table), and the handles the
 * caller gets (progress, done, cancel). Each runs in its own fiber (runBackfill.ts) for the service's lifetime; the
 * consumer's side of them is the desk (desk.ts), which the service's delivery owns.
 *
 * A backfill that fails fails alone: its handle's `done` reports why, the stream goes on. The runner and the progress
 * table's writes are loaded when the first backfill starts: a consumer that never backfills does not load them.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { type ReplicationError, replicationError } from "../../ReplicationError.ts"
import { BackfillDesk, type BackfillRegistration, type ChunkRows } from "./desk.ts"
import { ensureTable, insertBackfill, markCancelled, markFailed, type StoredBackfill } from "./progressTable.ts"
import { type BackfillProgress, backfillTarget, emitCancel, runBackfill } from "./runBackfill.ts"
import type { Signal } from "./watermark.ts"

export type { BackfillProgress }

/** A running backfill. */
export interface Backfill {
  readonly id: string
  readonly progress: Effect.Effect<BackfillProgress>
  /** Completes when the last chunk is confirmed; fails with why the backfill stopped. */
  readonly done: Effect.Effect<BackfillProgress, ReplicationError>
  /**
   * Stops it: the stream hands out BackfillEnd (cancelled), and it will not be resumed. Fails when the cancellation
   * could not be written to the database (the backfill is stopped in this process all the same).
   */
  readonly cancel: Effect.Effect<void, ReplicationError>
}

export interface BackfillOptions {
  /** Rows per chunk. Default 1024. */
  readonly chunkSize?: number | undefined
}

export interface BackfillsOptions {
  readonly slot: string
  readonly publications: ReadonlyArray<string>
  /** The schema of the progress table (`pgcdc_backfills`). */
  readonly schema: string
  /** Whether the consumer asked for logical messages. */
  readonly userMessages: boolean
  /** Whether the consumer asked for the heartbeat's messages. */
  readonly heartbeats?: boolean | undefined
  readonly connectSql: Effect.Effect<ConnectionShape, ReplicationError, Scope.Scope>
  readonly committed: (lsn: Lsn.Lsn) => Effect.Effect<void, ReplicationError>
  /** Where the runners' fibers live: the service's scope. */
  readonly scope: Scope.Scope
}

/** "schema.table" or "table" (schema public). */
const tableRef = (table: string | { readonly schema?: string | undefined; readonly name: string }) => {
  if (typeof table !== "string") return { schema: table.schema ?? "public", name: table.name }
  const dot = table.indexOf(".")
  return dot < 0 ? { schema: "public", name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) }
}

const random = (): string =>
  Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, "0")
const newId = (): string => `bf_${Date.now().toString(36)}_${random()}`

export const makeBackfills = (options: BackfillsOptions) =>
  Effect.gen(function* () {
    const registrations = yield* Queue.unbounded<BackfillRegistration>()
    const chunks = yield* Queue.unbounded<ChunkRows>()
    const signals = yield* Queue.unbounded<Signal>()
    const desk = new BackfillDesk({
      registrations,
      chunks,
      signals,
      userMessages: options.userMessages,
      heartbeats: options.heartbeats,
      progressSchema: options.schema
    })
    const running = yield* Ref.make<ReadonlyMap<string, Backfill & { readonly table: string }>>(new Map())

    const start = (stored: StoredBackfill): Effect.Effect<Backfill> =>
      Effect.gen(function* () {
        const progress = yield* Ref.make<BackfillProgress>({
          id: stored.id,
          schema: stored.schema,
          table: stored.name,
          chunks: stored.chunks,
          rows: stored.rows,
          estimatedRows: -1,
          state: "running"
        })
        const run = random()
        const fiber = yield* runBackfill({
          backfill: stored,
          run,
          publications: options.publications,
          progressSchema: options.schema,
          connectSql: options.connectSql,
          registrations,
          chunks,
          committed: options.committed,
          progress
        }).pipe(
          Effect.tapError((e) =>
            Effect.andThen(
              Ref.update(progress, (p): BackfillProgress => ({ ...p, state: "failed" })),
              Effect.logWarning(`Backfill ${stored.id} of ${stored.schema}.${stored.name} stopped: ${e.message}`)
            ).pipe(
              // A mistake it would meet again is recorded, so that it is not resumed; a lost connection is not: the
              // next start of the service resumes it.
              Effect.andThen(
                e.reason._tag === "InvalidOption"
                  ? Effect.scoped(
                      Effect.flatMap(options.connectSql, (sql) => markFailed(sql, options.schema, stored.id, e.message))
                    ).pipe(
                      Effect.catch((w) =>
                        Effect.logWarning(`Backfill ${stored.id} could not be recorded as failed: ${w.message}`)
                      )
                    )
                  : Effect.void
              )
            )
          ),
          Effect.ensuring(
            Ref.update(running, (m) => {
              const next = new Map(m)
              next.delete(stored.id)
              return next
            })
          ),
          Effect.forkIn(options.scope)
        )
        const cancel = Effect.gen(function* () {
          // Before the interruption, so that `done` sees a cancelled backfill, not a failed one.
          yield* Ref.update(progress, (p): BackfillProgress => ({ ...p, state: "cancelled" }))
          yield* Fiber.interrupt(fiber)
          yield* Effect.scoped(
            Effect.flatMap(options.connectSql, (sql) =>
              Effect.andThen(emitCancel(sql, stored.id, run), markCancelled(sql, options.schema, stored.id))
            )
          )
        })
        const handle: Backfill = {
          id: stored.id,
          progress: Ref.get(progress),
          done: Effect.flatMap(Fiber.await(fiber), (exit) =>
            Exit.isSuccess(exit)
              ? Ref.get(progress)
              : Effect.flatMap(Ref.get(progress), (p) =>
                  p.state === "cancelled"
                    ? Effect.succeed(p)
                    : Effect.failCause(exit.cause as Exit.Failure<never, ReplicationError>["cause"])
                )
          ),
          cancel
        }
        yield* Ref.update(running, (m) =>
          new Map(m).set(stored.id, { ...handle, table: `${stored.schema}.${stored.name}` })
        )
        return handle
      })

    /** A new backfill of `table`, recorded in the progress table first. */
    const backfill = (
      table: string | { readonly schema?: string | undefined; readonly name: string },
      backfillOptions?: BackfillOptions
    ): Effect.Effect<Backfill, ReplicationError> =>
      Effect.gen(function* () {
        const ref = tableRef(table)
        const chunkSize = Math.floor(backfillOptions?.chunkSize ?? 1024)
        if (!(chunkSize >= 1)) {
          return yield* replicationError("InvalidOption", {
            message: `chunkSize ${backfillOptions?.chunkSize} is not a number of rows: give 1 or more`
          })
        }
        const stored: StoredBackfill = { id: newId(), ...ref, chunkSize, chunks: 0, rows: 0, afterKey: undefined }
        // A table it cannot read fails here, before anything is recorded.
        yield* Effect.scoped(
          Effect.flatMap(options.connectSql, (sql) =>
            backfillTarget(sql, options.publications, options.schema, ref).pipe(
              Effect.andThen(ensureTable(sql, options.schema)),
              Effect.andThen(insertBackfill(sql, options.schema, options.slot, stored))
            )
          )
        )
        return yield* start(stored)
      })

    /** Backfills this slot's last consumer was running; started again from their last confirmed chunk. */
    const resume = (stored: ReadonlyArray<StoredBackfill>) => Effect.forEach(stored, start, { discard: true })

    /** Signals from the stream: a backfill of a table none is running for. */
    const serveSignals = Effect.forever(
      Effect.gen(function* () {
        const signal = yield* Queue.take(signals)
        const name = `${signal.backfill.schema}.${signal.backfill.name}`
        const busy = [...(yield* Ref.get(running)).values()].some((b) => b.table === name)
        if (busy) return
        yield* backfill(signal.backfill, { chunkSize: signal.chunkSize }).pipe(
          Effect.catch((e) => Effect.logWarning(`A signalled backfill of ${name} could not start: ${e.message}`))
        )
      })
    )

    return { desk, backfill, resume, serveSignals } as const
  })
