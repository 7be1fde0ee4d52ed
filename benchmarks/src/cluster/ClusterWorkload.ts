/**
 * The cluster benchmark's data: four tables (`cb_t1`..`cb_t4`), each published by its own publication (`cb_p1`..),
 * read through slots of its own, and a backlog of single-row INSERT transactions written round-robin into the four
 * tables (transaction i goes to table i mod 4) before any consumer starts, then one last transaction that inserts a
 * row into every table: its position is the end every slot must confirm.
 *
 * Every run of every variant drains its own four slots, all created before the backlog, so every run sees the same
 * WAL (each slot's walsender decodes all of it and sends its own table's changes). It starts nothing.
 */
import type pg from "pg"

export const slotCount = 4

export const tableOf = (slot: number): string => `cb_t${slot + 1}`
export const publicationOf = (slot: number): string => `cb_p${slot + 1}`

/** The four slot names of one run of one variant, e.g. `cb_separate_2_s1`. */
export const slotNames = (variant: string, run: number): Array<string> =>
  Array.from({ length: slotCount }, (_, i) => `cb_${variant}_${run}_s${i + 1}`)

const createTable = (i: number) =>
  `CREATE TABLE ${tableOf(i)} (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), payload jsonb);`

const schema = Array.from(
  { length: slotCount },
  (_, i) => `
DROP PUBLICATION IF EXISTS ${publicationOf(i)};
DROP TABLE IF EXISTS ${tableOf(i)};
${createTable(i)}
CREATE PUBLICATION ${publicationOf(i)} FOR TABLE ${tableOf(i)};`
).join("\n")

/** The four tables again, for the exactly-once sink's target database (`--consumer sink`). */
export const targetSchema = Array.from({ length: slotCount }, (_, i) => createTable(i)).join("\n")

/** One row per transaction, a table per slot in turn: the WAL of the four slots interleaved, as concurrent writers'. */
const backlogProcedure = `
CREATE OR REPLACE PROCEDURE cb_backlog(n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 0..(${slotCount} * n - 1) LOOP
    EXECUTE format('INSERT INTO cb_t%s VALUES ($1, $2, $3, $4)', (i % ${slotCount}) + 1)
      USING i, 'name-' || i, ((i::bigint * 7919) % 10000000) / 100.0,
            jsonb_build_object('id', i, 'tags', jsonb_build_array('red', 'green'), 'score', (i % 1000) / 10.0);
    COMMIT;
  END LOOP;
END $$;`

export const createSchema = async (admin: pg.Client): Promise<void> => {
  await admin.query(schema)
  await admin.query(backlogProcedure)
}

export const createSlots = async (admin: pg.Client, slots: ReadonlyArray<string>): Promise<void> => {
  for (const slot of slots) await admin.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot])
}

export const dropSlots = async (admin: pg.Client, slots: ReadonlyArray<string>): Promise<void> => {
  for (const slot of slots) {
    await admin.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
      [slot]
    )
  }
}

/**
 * Writes `perSlot` transactions per table, then the closing transaction, and returns the WAL insert position read
 * inside that transaction after its inserts: a slot whose confirmed_flush_lsn reaches it has confirmed the closing
 * transaction, so its consumer has committed the whole backlog.
 */
export const writeBacklog = async (admin: pg.Client, perSlot: number): Promise<string> => {
  await admin.query(`CALL cb_backlog(${perSlot})`)
  await admin.query("BEGIN")
  for (let i = 0; i < slotCount; i++) {
    await admin.query(`INSERT INTO ${tableOf(i)} VALUES (-1, 'end', NULL, NULL)`)
  }
  const end = await admin.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")
  await admin.query("COMMIT")
  return end.rows[0]!.lsn
}
