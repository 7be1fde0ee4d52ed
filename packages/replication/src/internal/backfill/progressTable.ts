/**
 * Where a backfill's progress lives: a small table in the source database (`<schema>.pgcdc_backfills`, created on
 * first use), one row per backfill with its table, chunk size, state and the last key of the last chunk the consumer
 * confirmed. It is in the source database because the slot is: whichever process streams the slot next (after a
 * crash, or on another machine) finds the backfills it must finish there, with no other store to set up; and it is
 * written only after the consumer has committed a chunk (and the server has that commit), so resuming after the key it
 * holds repeats at most the chunk that was in flight, never skips one.
 *
 * Its statements carry `/* pgcdc:backfill-... *\/` tags (the fake server answers them). It deliberately reads no rows
 * of the backfilled table.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import { fromConnectionError, type ReplicationError } from "../../ReplicationError.ts"
import { ident, literal } from "../sqlText.ts"

export interface StoredBackfill {
  readonly id: string
  readonly schema: string
  readonly name: string
  readonly chunkSize: number
  readonly chunks: number
  readonly rows: number
  /** The last key of the last confirmed chunk, as text values; undefined before the first. */
  readonly afterKey: ReadonlyArray<string> | undefined
}

/** The progress table's schema when the options name none. */
export const defaultProgressSchema = "public"

const tableName = (schema: string) => `${ident(schema)}.pgcdc_backfills`

/**
 * Whether `table` is the progress table of `schema`: pgcdc's own bookkeeping, which a publication of every table (or
 * of its schema) also publishes. The snapshot does not read it and the stream does not hand out its changes.
 */
export const isProgressTable = (schema: string, table: { readonly schema: string; readonly name: string }): boolean =>
  table.name === "pgcdc_backfills" && table.schema === schema

const run = (conn: ConnectionShape, sql: string, what: string) =>
  conn.query(sql).pipe(Effect.mapError((e) => fromConnectionError(e, what)))

const textArray = (values: ReadonlyArray<string> | undefined): string =>
  values === undefined ? "NULL" : `ARRAY[${values.map(literal).join(", ")}]::text[]`

export const ensureTable = (conn: ConnectionShape, schema: string): Effect.Effect<void, ReplicationError> =>
  Effect.asVoid(
    run(
      conn,
      `SET client_min_messages = warning; CREATE TABLE IF NOT EXISTS /* pgcdc:backfill-table */ ${tableName(schema)} (id text PRIMARY KEY, slot text NOT NULL, table_schema text NOT NULL, table_name text NOT NULL, chunk_size int NOT NULL, state text NOT NULL, chunks int NOT NULL DEFAULT 0, rows bigint NOT NULL DEFAULT 0, after_key text[], error text, started_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now()); RESET client_min_messages`,
      `Creating the backfill progress table ${schema}.pgcdc_backfills`
    )
  )

export const insertBackfill = (
  conn: ConnectionShape,
  schema: string,
  slot: string,
  b: StoredBackfill
): Effect.Effect<void, ReplicationError> =>
  Effect.asVoid(
    run(
      conn,
      `INSERT INTO /* pgcdc:backfill-insert */ ${tableName(schema)} (id, slot, table_schema, table_name, chunk_size, state) VALUES (${literal(b.id)}, ${literal(slot)}, ${literal(b.schema)}, ${literal(b.name)}, ${b.chunkSize}, 'running')`,
      "Recording a backfill"
    )
  )

/** The consumer confirmed chunk `chunks` (and every one before it), which ended at `afterKey`. */
export const confirmChunk = (
  conn: ConnectionShape,
  schema: string,
  id: string,
  progress: { readonly chunks: number; readonly rows: number; readonly afterKey: ReadonlyArray<string> | undefined },
  state: "running" | "done"
): Effect.Effect<void, ReplicationError> =>
  Effect.asVoid(
    run(
      conn,
      `UPDATE /* pgcdc:backfill-progress */ ${tableName(schema)} SET chunks = ${progress.chunks}, rows = ${progress.rows}, after_key = ${textArray(progress.afterKey)}, state = ${literal(state)}, updated_at = now() WHERE id = ${literal(id)}`,
      "Recording a backfill's progress"
    )
  )

export const markCancelled = (
  conn: ConnectionShape,
  schema: string,
  id: string
): Effect.Effect<void, ReplicationError> =>
  Effect.asVoid(
    run(
      conn,
      `UPDATE /* pgcdc:backfill-progress */ ${tableName(schema)} SET state = 'cancelled', updated_at = now() WHERE id = ${literal(id)}`,
      "Recording a cancelled backfill"
    )
  )

/** The backfill stopped on an error it will meet again (the table was dropped, unpublished, lost its key): not resumed. */
export const markFailed = (
  conn: ConnectionShape,
  schema: string,
  id: string,
  error: string
): Effect.Effect<void, ReplicationError> =>
  Effect.asVoid(
    run(
      conn,
      `UPDATE /* pgcdc:backfill-progress */ ${tableName(schema)} SET state = 'failed', error = ${literal(error)}, updated_at = now() WHERE id = ${literal(id)}`,
      "Recording a failed backfill"
    )
  )

/** The backfills of `slot` still marked running are cancelled (a new initial snapshot of the slot supersedes them). */
export const cancelRunning = (
  conn: ConnectionShape,
  schema: string,
  slot: string
): Effect.Effect<void, ReplicationError> =>
  Effect.asVoid(
    run(
      conn,
      `UPDATE /* pgcdc:backfill-progress */ ${tableName(schema)} SET state = 'cancelled', updated_at = now() WHERE slot = ${literal(slot)} AND state = 'running'`,
      "Cancelling the backfills an initial snapshot supersedes"
    )
  )

/** The backfills of `slot` that were running when their consumer stopped; none when the table does not exist. */
export const runningBackfills = (
  conn: ConnectionShape,
  schema: string,
  slot: string
): Effect.Effect<ReadonlyArray<StoredBackfill>, ReplicationError> =>
  Effect.gen(function* () {
    const exists = (yield* run(
      conn,
      `SELECT /* pgcdc:backfill-exists */ (to_regclass(${literal(`${ident(schema)}.pgcdc_backfills`)}) IS NOT NULL)::text`,
      "Looking for backfills to resume"
    ))[0]?.rows[0]?.[0]
    if (exists !== "true") return []
    const rows = (yield* run(
      conn,
      `SELECT /* pgcdc:backfill-running */ id, table_schema, table_name, chunk_size, chunks, rows, array_to_json(after_key)::text FROM ${tableName(schema)} WHERE slot = ${literal(slot)} AND state = 'running' ORDER BY started_at`,
      "Looking for backfills to resume"
    ))[0]?.rows
    return (rows ?? []).map(
      (r): StoredBackfill => ({
        id: r[0]!,
        schema: r[1]!,
        name: r[2]!,
        chunkSize: Number(r[3]),
        chunks: Number(r[4]),
        rows: Number(r[5]),
        afterKey: r[6] === null ? undefined : (JSON.parse(r[6]!) as ReadonlyArray<string>)
      })
    )
  })
