/**
 * Reads an initial snapshot into the service's queue: `sessions` regular sessions each import the exported snapshot
 * (`BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT`), the first plans what to read
 * (plan.ts), and all of them take COPY chunks (chunks.ts) in order until none is left. Each CopyData batch goes to the
 * queue undecoded, holding one permit per row, exactly like the replication stream's XLogData: memory is bounded by
 * `bufferSize` rows whatever the tables' sizes, and a consumer that stops pulling stops the COPYs through TCP.
 *
 * Ordering: `SnapshotBegin` of a table is queued by the session that takes its first chunk, before that chunk's rows
 * (taking a chunk and queueing the Begin happen under one lock); `SnapshotEnd` by the session that finishes its last
 * chunk, after all its rows; `SnapshotComplete` once every session is done. Rows of tables read in parallel
 * interleave; each `Read` names its table.
 *
 * Sessions use the same settings as the walsender sessions (DateStyle, IntervalStyle, extra_float_digits,
 * bytea_output, TimeZone), so a value's text is the one pgoutput would send. It deliberately creates no slot (the
 * snapshot phase does) and decodes no row (the consumer's pull does).
 */
import type { ConnectionShape, CopyDataFrames } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { fromConnectionError, type ReplicationError, replicationError } from "../../ReplicationError.ts"
import type { WalMessage } from "../../WalMessage.ts"
import type { Received } from "../received.ts"
import { literal } from "../sqlText.ts"
import { type Chunk, chunksOf } from "./chunks.ts"
import { planSnapshot, type SnapshotTable } from "./plan.ts"
import { SnapshotRowCodec } from "./rowCodec.ts"

/** The text settings every pgcdc session uses, so a value prints the same in COPY and in pgoutput. */
export const textSettings =
  "SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'"

export interface SnapshotReadOptions {
  readonly snapshotName: string
  readonly consistentPoint: Lsn.Lsn
  readonly publications: ReadonlyArray<string>
  /** The schema of the backfill progress table, which the snapshot does not read. */
  readonly backfillSchema: string
  /** How many sessions read in parallel (at least 1). */
  readonly sessions: number
  readonly pagesPerChunk: number
  /** Opens a regular SQL session. */
  readonly connect: Effect.Effect<ConnectionShape, ReplicationError, Scope.Scope>
  readonly slice: number
  readonly permits: Semaphore.Semaphore
  readonly queue: Queue.Queue<Received, ReplicationError | Cause.Done>
}

export interface SnapshotSummary {
  readonly tables: number
  readonly rows: number
}

/** A session inside the exported snapshot. */
const importSnapshot = (options: SnapshotReadOptions) =>
  Effect.gen(function* () {
    const conn = yield* options.connect
    yield* conn
      .query(
        `${textSettings}; BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT ${literal(options.snapshotName)}`
      )
      .pipe(
        Effect.mapError((e) =>
          // A snapshot that is gone: 22023 (invalid parameter) on 14 to 16, 42704 (undefined object) from 17 on.
          e.code === "22023" || e.code === "42704"
            ? replicationError("Snapshot", {
                message: `The exported snapshot ${options.snapshotName} is gone (${e.message}): the walsender session that exported it ended during the snapshot. Start again to take a new one.`,
                code: e.code,
                cause: e
              })
            : fromConnectionError(e, "Importing the exported snapshot")
        )
      )
    return conn
  })

const message = (queue: Queue.Queue<Received, ReplicationError | Cause.Done>, m: WalMessage) =>
  Queue.offer(queue, { _tag: "Message", message: m })

export const readSnapshot = (options: SnapshotReadOptions): Effect.Effect<SnapshotSummary, ReplicationError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const first = yield* importSnapshot(options)
      const plan = yield* planSnapshot(first, options.publications, options.backfillSchema)
      const codecs = plan.map((t) => new SnapshotRowCodec(t))
      const chunks: ReadonlyArray<Chunk> = plan.flatMap((t, i) => chunksOf(t, i, options.pagesPerChunk))
      const remaining = plan.map((_, i) => chunks.filter((c) => c.table === i).length)
      const rows = plan.map(() => 0)
      const next = yield* Ref.make(0)
      const dispatch = yield* Semaphore.make(1)
      const at = options.consistentPoint
      const position = { walStart: at, walEnd: at }

      /** The next chunk, and the SnapshotBegin of its table queued first when it is the table's first chunk. */
      const take = dispatch.withPermit(
        Effect.gen(function* () {
          const index = yield* Ref.getAndUpdate(next, (n) => n + 1)
          const chunk = chunks[index]
          if (chunk === undefined) return undefined
          if (chunks.findIndex((c) => c.table === chunk.table) === index) {
            const t: SnapshotTable = plan[chunk.table]!
            yield* message(options.queue, {
              _tag: "SnapshotBegin",
              ...position,
              table: t.table,
              estimatedRows: t.estimatedRows
            })
          }
          return chunk
        })
      )

      const copyChunk = (conn: ConnectionShape, chunk: Chunk) =>
        Effect.scoped(
          Effect.gen(function* () {
            const copy = yield* conn.copyOut(chunk.sql).pipe(Effect.mapError((e) => fromConnectionError(e, "COPY")))
            const codec = codecs[chunk.table]!
            yield* copy.frames.pipe(
              Stream.mapError((e) => fromConnectionError(e, `Reading ${codec.table.schema}.${codec.table.name}`)),
              Stream.runForEach((frames) => queueRows(options, codec, frames, at))
            )
            return yield* copy.rowCount.pipe(Effect.mapError((e) => fromConnectionError(e, "COPY")))
          })
        )

      /** Records a finished chunk; queues the table's SnapshotEnd after its last chunk. */
      const finished = (chunk: Chunk, count: number) =>
        dispatch.withPermit(
          Effect.suspend(() => {
            rows[chunk.table] = rows[chunk.table]! + count
            remaining[chunk.table] = remaining[chunk.table]! - 1
            if (remaining[chunk.table]! > 0) return Effect.void
            return message(options.queue, {
              _tag: "SnapshotEnd",
              ...position,
              table: plan[chunk.table]!.table,
              rows: rows[chunk.table]!
            })
          })
        )

      const work = (conn: ConnectionShape): Effect.Effect<void, ReplicationError> =>
        Effect.gen(function* () {
          for (;;) {
            const chunk = yield* take
            if (chunk === undefined) return
            yield* finished(chunk, yield* copyChunk(conn, chunk))
          }
        })

      const sessions = Math.max(1, Math.min(options.sessions, chunks.length))
      yield* Effect.all(
        [work(first), ...Array.from({ length: sessions - 1 }, () => Effect.flatMap(importSnapshot(options), work))],
        { concurrency: "unbounded", discard: true }
      )
      const total = rows.reduce((a, b) => a + b, 0)
      yield* message(options.queue, {
        _tag: "SnapshotComplete",
        ...position,
        consistentPoint: at,
        tables: plan.length,
        rows: total
      })
      return { tables: plan.length, rows: total }
    })
  )

/** Queues one read's rows, a slice at a time, each slice holding a permit per row. */
const queueRows = (
  options: SnapshotReadOptions,
  codec: SnapshotRowCodec,
  frames: CopyDataFrames,
  position: Lsn.Lsn
): Effect.Effect<void> => {
  const total = frames.buffers.length
  const step = (from: number): Effect.Effect<void> => {
    if (from >= total) return Effect.void
    const to = Math.min(total, from + options.slice)
    return Effect.flatMap(
      Effect.uninterruptibleMask((restore) =>
        Effect.andThen(
          restore(options.permits.take(to - from)),
          Queue.offer(options.queue, { _tag: "Rows", codec, frames, from, to, position })
        )
      ),
      () => step(to)
    )
  }
  return step(0)
}
