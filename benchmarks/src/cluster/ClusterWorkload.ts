/**
 * The cluster benchmark's data: four tables (`cb_t1`..`cb_t4`), each published by its own publication (`cb_p1`..),
 * read through slots of its own, and a backlog of single-row INSERT transactions written before any consumer starts,
 * then a closing transaction: its position is the end the slot must confirm.
 *
 * Two layouts. "tables": the four tables in the one database, the backlog written round-robin (transaction i goes to
 * table i mod 4), one closing transaction with a row in every table; each slot's walsender decodes all the WAL and
 * sends its table's quarter. "databases": each table in a database of its own (`cb_db1`..), as four tenants would
 * be, written by four sessions at once, each closing on its own; a walsender skips other databases' records early,
 * so the servers' share of the work shrinks and the consumers' grows.
 *
 * Every run of every variant drains its own four slots, all created before the backlog, so every run sees the same
 * WAL. It starts nothing.
 */
import type { TestDatabaseInfo } from "@pgcdc/testing"
import type pg from "pg"
import { connectAdmin } from "../Driver.ts"

export type Layout = "tables" | "databases"

/** The database of slot `i`'s table. */
export const databaseOf = (layout: Layout, db: TestDatabaseInfo, slot: number): string =>
  layout === "tables" ? db.database : `cb_db${slot + 1}`

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

/**
 * One row per transaction into `tables` in turn (one table: every transaction into it): with several tables, the WAL
 * of their slots interleaved, as concurrent writers'.
 */
const backlogProcedure = `
CREATE OR REPLACE PROCEDURE cb_backlog(tables text[], n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 0..(cardinality(tables) * n - 1) LOOP
    EXECUTE format('INSERT INTO %I VALUES ($1, $2, $3, $4)', tables[(i % cardinality(tables)) + 1])
      USING i, 'name-' || i, ((i::bigint * 7919) % 10000000) / 100.0,
            jsonb_build_object('id', i, 'tags', jsonb_build_array('red', 'green'), 'score', (i % 1000) / 10.0);
    COMMIT;
  END LOOP;
END $$;`

/** A session to one database of the server (the driver's settings: synchronous commit). */
const sessionTo = (db: TestDatabaseInfo, database: string) => connectAdmin({ ...db, database })

/** The tables, publications and procedure, and the slots of every run (`slotSets`: four names each, in slot order). */
export const createSchema = async (
  admin: pg.Client,
  db: TestDatabaseInfo,
  layout: Layout,
  slotSets: ReadonlyArray<ReadonlyArray<string>>
): Promise<void> => {
  if (layout === "tables") {
    await admin.query(schema)
    await admin.query(backlogProcedure)
    for (const slots of slotSets) {
      for (const slot of slots) await admin.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot])
    }
    return
  }
  for (let i = 0; i < slotCount; i++) {
    await admin.query(`CREATE DATABASE ${databaseOf(layout, db, i)}`)
    const session = await sessionTo(db, databaseOf(layout, db, i))
    await session.query(`${createTable(i)} CREATE PUBLICATION ${publicationOf(i)} FOR TABLE ${tableOf(i)};`)
    await session.query(backlogProcedure)
    for (const slots of slotSets) {
      await session.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slots[i]])
    }
    await session.end()
  }
}

/**
 * The closing transaction of `tables`: returns the WAL insert position read inside it after its inserts. A slot
 * whose confirmed_flush_lsn reaches it has confirmed the closing transaction, so its consumer has committed the whole
 * backlog.
 */
const close = async (session: pg.Client, tables: ReadonlyArray<string>): Promise<string> => {
  await session.query("BEGIN")
  for (const table of tables) await session.query(`INSERT INTO ${table} VALUES (-1, 'end', NULL, NULL)`)
  const end = await session.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")
  await session.query("COMMIT")
  return end.rows[0]!.lsn
}

/** Writes `perSlot` transactions per table and the closing transaction(s); returns each slot's end position. */
export const writeBacklog = async (
  admin: pg.Client,
  db: TestDatabaseInfo,
  layout: Layout,
  perSlot: number
): Promise<Array<string>> => {
  const all = Array.from({ length: slotCount }, (_, i) => tableOf(i))
  if (layout === "tables") {
    await admin.query("CALL cb_backlog($1, $2)", [all, perSlot])
    const end = await close(admin, all)
    return all.map(() => end)
  }
  const sessions = await Promise.all(all.map((_, i) => sessionTo(db, databaseOf(layout, db, i))))
  await Promise.all(sessions.map((s, i) => s.query("CALL cb_backlog($1, $2)", [[tableOf(i)], perSlot])))
  const ends: Array<string> = []
  for (const [i, s] of sessions.entries()) ends.push(await close(s, [tableOf(i)]))
  await Promise.all(sessions.map((s) => s.end()))
  return ends
}
