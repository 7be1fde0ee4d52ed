/**
 * One backfill (an incremental snapshot, DBLog's watermark method): re-reads a table in primary-key order, a chunk at
 * a time, while the stream flows, without locks and without pausing the stream. Per chunk, on a regular session:
 * 1. a low watermark (a transactional logical message);
 * 2. the chunk: `COPY (SELECT <published columns> FROM <table> WHERE <row filter> AND (<key>) > (<last key>) ORDER BY
 *    <key> LIMIT <chunk size>) TO STDOUT`, decoded and handed to the consumer's side (desk.ts);
 * 3. a high watermark: the desk hands the chunk out there, minus the rows changed since the low watermark;
 * 4. once the consumer has committed the high watermark's transaction (and the server has that commit), the progress
 *    table records the chunk's last key; then the next chunk.
 * A crash anywhere repeats at most the chunk in flight. The table must have a primary key, published (it orders the
 * chunks and identifies rows), and REPLICA IDENTITY DEFAULT or FULL (so every change carries it).
 *
 * It deliberately does not look at the stream itself: the desk does, in the consumer's pull.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { fromConnectionError, type ReplicationError, replicationError } from "../../ReplicationError.ts"
import { encodeText } from "../../values/encode.ts"
import type { PgValue } from "../../values/PgValue.ts"
import type { Column, Row } from "../../WalMessage.ts"
import { planSnapshot, type SnapshotTable } from "../snapshot/plan.ts"
import { SnapshotRowCodec } from "../snapshot/rowCodec.ts"
import { textSettings } from "../snapshot/snapshotReader.ts"
import { ident, literal } from "../sqlText.ts"
import type { BackfillRegistration, ChunkRows } from "./desk.ts"
import { confirmChunk, type StoredBackfill } from "./progressTable.ts"
import { encodeWatermark, type Watermark, watermarkPrefix } from "./watermark.ts"

export interface BackfillProgress {
  readonly id: string
  readonly schema: string
  readonly table: string
  /** Chunks confirmed by the consumer, resumed ones included. */
  readonly chunks: number
  /** Rows read (before the rows changed during their chunk's window were left out), resumed ones included. */
  readonly rows: number
  /** The planner's estimate of the table's rows (pg_class.reltuples); -1 when unknown. */
  readonly estimatedRows: number
  readonly state: "running" | "done" | "cancelled" | "failed"
}

export interface RunBackfillOptions {
  readonly backfill: StoredBackfill
  /** This run's id (Watermark.run). */
  readonly run: string
  readonly publications: ReadonlyArray<string>
  readonly progressSchema: string
  readonly connectSql: Effect.Effect<ConnectionShape, ReplicationError, Scope.Scope>
  readonly registrations: Queue.Queue<BackfillRegistration>
  readonly chunks: Queue.Queue<ChunkRows>
  /** Completes once the consumer has committed `lsn` and the server has been told. */
  readonly committed: (lsn: Lsn.Lsn) => Effect.Effect<void, ReplicationError>
  readonly progress: Ref.Ref<BackfillProgress>
}

const emit = (conn: ConnectionShape, w: Watermark) =>
  conn
    .query(
      `SELECT /* pgcdc:backfill-watermark */ pg_logical_emit_message(true, ${literal(watermarkPrefix)}, ${literal(encodeWatermark(w))})::text`
    )
    .pipe(Effect.mapError((e) => fromConnectionError(e, "Writing a backfill watermark")))

/** The primary key's columns in key order, or a clear error for a table a backfill cannot read. */
const primaryKey = (conn: ConnectionShape, t: SnapshotTable): Effect.Effect<ReadonlyArray<Column>, ReplicationError> =>
  Effect.gen(function* () {
    const name = `${t.table.schema}.${t.table.name}`
    if (t.table.replicaIdentity === "n" || t.table.replicaIdentity === "i") {
      return yield* replicationError("InvalidOption", {
        message: `Table ${name} has REPLICA IDENTITY ${t.table.replicaIdentity === "n" ? "NOTHING" : "USING INDEX"}: a backfill needs every change to carry the primary key. ALTER TABLE ${name} REPLICA IDENTITY DEFAULT (or FULL).`
      })
    }
    const names = (yield* conn
      .query(
        `SELECT /* pgcdc:backfill-key */ a.attname FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE i.indrelid = ${t.table.relationId} AND i.indisprimary ORDER BY k.n`
      )
      .pipe(Effect.mapError((e) => fromConnectionError(e, `Reading the primary key of ${name}`))))[0]?.rows.map(
      (r) => r[0]!
    )
    const key = (names ?? []).map((n) => t.table.columns.find((c) => c.name === n))
    if (key.length === 0) {
      return yield* replicationError("InvalidOption", {
        message: `Table ${name} has no primary key: a backfill reads a table in primary-key order and tells its rows apart by it. Add a primary key (ALTER TABLE ${name} ADD PRIMARY KEY (...)).`
      })
    }
    if (key.some((c) => c === undefined)) {
      return yield* replicationError("InvalidOption", {
        message: `The publications of ${name} do not publish its whole primary key (${names!.join(", ")}): a backfill needs it. Add the key columns to the column list.`
      })
    }
    return key as ReadonlyArray<Column>
  })

/**
 * What a backfill of `table` reads (its published columns and row filter) and orders by (its primary key), or a clear
 * error for a table it cannot read.
 */
export const backfillTarget = (
  conn: ConnectionShape,
  publications: ReadonlyArray<string>,
  progressSchema: string,
  table: { readonly schema: string; readonly name: string }
): Effect.Effect<{ readonly t: SnapshotTable; readonly key: ReadonlyArray<Column> }, ReplicationError> =>
  Effect.gen(function* () {
    const plan = yield* planSnapshot(conn, publications, progressSchema)
    const t = plan.find((p) => p.table.schema === table.schema && p.table.name === table.name)
    if (t === undefined) {
      return yield* replicationError("InvalidOption", {
        message: `Table ${table.schema}.${table.name} is not published by ${publications.join(", ")}: add it to a publication (ALTER PUBLICATION ... ADD TABLE) before backfilling it.`
      })
    }
    return { t, key: yield* primaryKey(conn, t) }
  })

/** The COPY of the chunk after `after` (the last key of the previous one, as text values). */
const chunkSql = (
  t: SnapshotTable,
  key: ReadonlyArray<Column>,
  after: ReadonlyArray<string> | undefined,
  n: number
) => {
  const keyList = key.map((c) => ident(c.name)).join(", ")
  const conditions = [
    t.filter === undefined ? undefined : `(${t.filter})`,
    after === undefined ? undefined : `(${keyList}) > (${after.map(literal).join(", ")})`
  ].filter((c) => c !== undefined)
  const where = conditions.length === 0 ? "" : ` WHERE ${conditions.join(" AND ")}`
  const source = `${ident(t.table.schema)}.${ident(t.table.name)}`
  return `COPY (SELECT ${t.columns.join(", ")} FROM ${source}${where} ORDER BY ${keyList} LIMIT ${n}) TO STDOUT`
}

const readChunk = (conn: ConnectionShape, codec: SnapshotRowCodec, sql: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const copy = yield* conn.copyOut(sql).pipe(Effect.mapError((e) => fromConnectionError(e, "Backfill COPY")))
      const rows: Array<Row> = []
      yield* copy.frames.pipe(
        Stream.mapError((e) => fromConnectionError(e, "Backfill COPY")),
        Stream.runForEach((frames) =>
          Effect.sync(() => {
            for (let i = 0; i < frames.buffers.length; i++) {
              rows.push(codec.decode(frames.buffers[i]!, frames.starts[i]!, frames.ends[i]!))
            }
          })
        )
      )
      return rows
    })
  )

/** Runs the backfill to its end; fails with the reason it could not go on. */
export const runBackfill = (options: RunBackfillOptions): Effect.Effect<void, ReplicationError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const b = options.backfill
      const conn = yield* options.connectSql
      // A watermark reaches the stream only once its commit is flushed: with the server's synchronous_commit off, a
      // chunk would wait for the WAL writer twice (measured: ~0.4 s per chunk at the default wal_writer_delay).
      yield* conn
        .query(`${textSettings}; SET synchronous_commit = local`)
        .pipe(Effect.mapError((e) => fromConnectionError(e, "Session settings")))
      const { t, key } = yield* backfillTarget(conn, options.publications, options.progressSchema, b)
      yield* Ref.update(options.progress, (p) => ({ ...p, estimatedRows: t.estimatedRows }))
      yield* Queue.offer(options.registrations, { id: b.id, run: options.run, table: t.table, key })
      const codec = new SnapshotRowCodec(t)
      let after = b.afterKey
      let chunks = b.chunks
      let rows = b.rows
      for (;;) {
        const chunk = chunks + 1
        yield* emit(conn, { id: b.id, run: options.run, chunk, mark: "low", last: false })
        const read = yield* readChunk(conn, codec, chunkSql(t, key, after, b.chunkSize))
        const last = read.length < b.chunkSize
        const handedOut = yield* Deferred.make<Lsn.Lsn>()
        yield* Queue.offer(options.chunks, { id: b.id, chunk, rows: read, handedOut })
        yield* emit(conn, { id: b.id, run: options.run, chunk, mark: "high", last })
        // The consumer has the chunk once it commits the high watermark's transaction.
        yield* options.committed(yield* Deferred.await(handedOut))
        const lastRow = read.at(-1)
        // The key of a row read from the table is never NULL or unchanged TOAST.
        if (lastRow !== undefined) after = key.map((c) => encodeText(c.typeOid, lastRow[c.name] as PgValue))
        chunks = chunk
        rows += read.length
        yield* confirmChunk(
          conn,
          options.progressSchema,
          b.id,
          { chunks, rows, afterKey: after },
          last ? "done" : "running"
        )
        const state: BackfillProgress["state"] = last ? "done" : "running"
        yield* Ref.update(options.progress, (p) => ({ ...p, chunks, rows, state }))
        if (last) return
      }
    })
  )

/** Writes the cancel watermark (the consumer's side hands out BackfillEnd, cancelled, there). */
export const emitCancel = (conn: ConnectionShape, id: string, run: string) =>
  emit(conn, { id, run, chunk: 0, mark: "cancel", last: false })
