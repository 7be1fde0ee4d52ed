/**
 * The progress row in the target: one row per sink (its `id`, normally the slot's name) holding the commit LSN and
 * end LSN of the last source transaction applied, written in the same target transaction as that transaction's
 * changes. It is the only record of what the target has: on start the sink skips every transaction whose commit LSN
 * is not after it.
 *
 * `advance` is a compare-and-set done by a function in the target (`pgcdc_sink_advance`): it moves the row from the
 * position this sink believes to the batch's last commit, or raises SQLSTATE `PGC01` when the row is not where this
 * sink believes (another process applied transactions meanwhile: a previous owner still finishing). It runs first
 * in the batch's transaction, so it also takes the row lock that serialises two appliers of one slot; a batch whose
 * advance fails is rolled back whole. It does not read or write anything but the progress table.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import { ident, literal } from "./sqlText.ts"

/** SQLSTATE raised by `pgcdc_sink_advance` when the row is not at the expected position. */
export const supersededCode = "PGC01"

export const progressTable = "pgcdc_sink_progress"

export interface Progress {
  /** The commit LSN of the last transaction applied (the consistent point after a snapshot). */
  readonly commitLsn: Lsn.Lsn
  /** Its end LSN: what the slot may be confirmed up to. */
  readonly endLsn: Lsn.Lsn
}

/**
 * Creates the table and the function when missing. Serialised by an advisory lock, since several sinks sharing a
 * target may start at once (CREATE ... IF NOT EXISTS is not safe against a concurrent create).
 */
export const ensure = (conn: ConnectionShape, schema: string) => {
  const table = `${ident(schema)}.${progressTable}`
  return conn.query(`
    SET client_min_messages = warning;
    BEGIN;
    SELECT pg_advisory_xact_lock(hashtext(${literal(`pgcdc_sink_progress ${schema}`)}));
    CREATE TABLE IF NOT EXISTS ${table} (
      id text PRIMARY KEY,
      commit_lsn pg_lsn NOT NULL,
      end_lsn pg_lsn NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE OR REPLACE FUNCTION ${ident(schema)}.pgcdc_sink_advance(p_id text, p_from pg_lsn, p_commit pg_lsn, p_end pg_lsn)
    RETURNS void LANGUAGE plpgsql AS $pgcdc$
    BEGIN
      IF p_from IS NULL THEN
        INSERT INTO ${table} (id, commit_lsn, end_lsn) VALUES (p_id, p_commit, p_end) ON CONFLICT (id) DO NOTHING;
      ELSE
        UPDATE ${table} SET commit_lsn = p_commit, end_lsn = p_end, applied_at = now()
        WHERE id = p_id AND commit_lsn = p_from;
      END IF;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'pgcdc sink %: progress is no longer at %', p_id, coalesce(p_from::text, 'none')
          USING ERRCODE = '${supersededCode}',
                HINT = 'Another process applied transactions of this slot; the sink reads the row again and goes on.';
      END IF;
    END $pgcdc$;
    COMMIT;
    RESET client_min_messages`)
}

/** The row of `id`, if any. */
export const read = (conn: ConnectionShape, schema: string, id: string) =>
  Effect.map(
    conn.query(
      `SELECT commit_lsn::text, end_lsn::text FROM ${ident(schema)}.${progressTable} WHERE id = ${literal(id)}`
    ),
    (results): Progress | undefined => {
      const row = results.at(-1)?.rows[0]
      return row === undefined
        ? undefined
        : { commitLsn: Lsn.unsafeParse(row[0] ?? "0/0"), endLsn: Lsn.unsafeParse(row[1] ?? "0/0") }
    }
  )

/** The statement that moves the row from `from` (undefined: no row yet) to `to`, or raises `PGC01`. */
export const advance = (schema: string, id: string, from: Progress | undefined, to: Progress): string =>
  `SELECT ${ident(schema)}.pgcdc_sink_advance(${literal(id)}, ${
    from === undefined ? "NULL" : `${literal(Lsn.format(from.commitLsn))}::pg_lsn`
  }, ${literal(Lsn.format(to.commitLsn))}::pg_lsn, ${literal(Lsn.format(to.endLsn))}::pg_lsn)`

/** After a snapshot the target equals the source as of its consistent point, whatever the row said before. */
export const reset = (schema: string, id: string, to: Progress): string =>
  `INSERT INTO ${ident(schema)}.${progressTable} AS p (id, commit_lsn, end_lsn) VALUES (${literal(id)}, ${literal(
    Lsn.format(to.commitLsn)
  )}, ${literal(Lsn.format(to.endLsn))}) ON CONFLICT (id) DO UPDATE SET commit_lsn = excluded.commit_lsn, end_lsn = excluded.end_lsn, applied_at = now()`
