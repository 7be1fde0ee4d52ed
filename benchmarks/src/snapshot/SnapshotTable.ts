/**
 * The snapshot benchmark's table: `snap_rows`, a mixed-type table of realistic rows (int8 key, text with the odd
 * escaped character, numeric with some NULLs, timestamptz with microseconds, bool, a jsonb document, a text[] with
 * quoted elements), published by `snap_pub`; the one COPY statement every COPY-reading client runs; and the
 * table's size as the report states it.
 *
 * It deliberately starts nothing and measures no client (benchSnapshot.ts and Runner.ts do).
 */
import type pg from "pg"

export const snapshotTable = "snap_rows"
export const snapshotPublication = "snap_pub"

/** The columns in table order: pgcdc's snapshot selects exactly these, so every client reads the same text. */
export const snapshotColumns = ["id", "name", "amount", "created", "active", "payload", "tags"] as const

/**
 * The statement pgcdc's snapshot runs for a table of one chunk (packages/replication/src/internal/snapshot/chunks.ts:
 * the published columns, quoted, of the schema-qualified table); psql and the raw pgcdc COPY drain run it too.
 */
export const copySql = `COPY (SELECT ${snapshotColumns.map((c) => `"${c}"`).join(", ")} FROM "public"."${snapshotTable}") TO STDOUT`

/**
 * The session settings of every pgcdc session (packages/replication/src/internal/snapshot/snapshotReader.ts), as
 * `PGOPTIONS` for psql and pg_dump: the same settings print the same value text, so every client reads the same bytes.
 */
export const textSettingsOptions =
  "-c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex -c TimeZone=UTC"

const schema = `
DROP PUBLICATION IF EXISTS ${snapshotPublication};
DROP TABLE IF EXISTS ${snapshotTable};
CREATE TABLE ${snapshotTable} (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  amount numeric(12,2),
  created timestamptz NOT NULL,
  active boolean NOT NULL,
  payload jsonb,
  tags text[]
);
CREATE PUBLICATION ${snapshotPublication} FOR TABLE ${snapshotTable};
`

/**
 * Row i, deterministic: one name in 50 holds a tab and a backslash (COPY escapes them), one amount in 20 is NULL, a
 * timestamp with microseconds, a jsonb document of about 130 bytes (nested object, array, decimal), and 0 to 3 tags,
 * one of which needs quoting in an array literal.
 */
const rows = (n: number) => `
INSERT INTO ${snapshotTable}
SELECT i,
       'customer ' || i || CASE WHEN i % 50 = 0 THEN E'\\tnote \\\\ ' || i ELSE '' END,
       CASE WHEN i % 20 = 0 THEN NULL ELSE ((i::bigint * 7919) % 10000000) / 100.0 END,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => i * 1.000001),
       i % 3 <> 0,
       jsonb_build_object('id', i, 'tags', jsonb_build_array('red', 'green'), 'score', (i % 1000) / 10.0,
                          'nested', jsonb_build_object('ok', i % 2 = 0, 'label', 'item ' || i)),
       CASE i % 4 WHEN 0 THEN '{}'::text[] WHEN 1 THEN ARRAY['red'] WHEN 2 THEN ARRAY['red', 'dark blue']
                  ELSE ARRAY['a', 'b,c', 'd'] END
FROM generate_series(1, ${n}) AS i`

/** Creates and fills the table (`n` rows), then VACUUM ANALYZE: visibility map set, statistics as a real table's. */
export const createSnapshotTable = async (admin: pg.Client, n: number): Promise<void> => {
  await admin.query(schema)
  await admin.query(rows(n))
  await admin.query(`VACUUM (FREEZE, ANALYZE) ${snapshotTable}`)
}

export interface TableSize {
  readonly rows: number
  /** pg_total_relation_size: heap, TOAST and the primary key's index. */
  readonly totalBytes: number
  /** The heap alone (pg_relation_size), in pages: what pgcdc splits into COPY chunks. */
  readonly heapPages: number
  /** The bytes of the COPY text of every row (newlines included), measured by reading it once. */
  readonly copyTextBytes: number
}

export const tableSizes = async (
  admin: pg.Client
): Promise<{ readonly rows: number; readonly totalBytes: number; readonly heapPages: number }> => {
  const result = await admin.query<{ rows: string; total: string; pages: string }>(
    `SELECT (SELECT count(*) FROM ${snapshotTable})::text AS rows,
            pg_total_relation_size('${snapshotTable}')::text AS total,
            (pg_relation_size('${snapshotTable}') / current_setting('block_size')::int8)::text AS pages`
  )
  const row = result.rows[0]!
  return { rows: Number(row.rows), totalBytes: Number(row.total), heapPages: Number(row.pages) }
}
