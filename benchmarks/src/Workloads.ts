/**
 * The benchmark's schema and workloads, run through an ordinary `pg` connection by the driver.
 *
 * Every client drains its own slot, created after the schema and before the workload, so every client sees the same
 * WAL. A workload ends with an end marker: an INSERT into `bench_end` in its own transaction. Node clients stop when
 * they see it; pg_recvlogical stops at `--endpos`, the WAL insert position read between the workload's last commit
 * and the marker (it then stops at the first record past the workload).
 *
 * It deliberately does not start the server or the clients (see bench.ts and Runner.ts).
 */
import type pg from "pg"

export type WorkloadName = "A" | "B" | "C"

export interface Sizes {
  /** Workload A: rows inserted by one transaction. */
  readonly bulkRows: number
  /** Workload B: single-row INSERT transactions, then as many single-row UPDATE transactions. */
  readonly singleTransactions: number
  /** Workload C: rows inserted by one transaction (for memory). */
  readonly hugeRows: number
}

export const fullSizes: Sizes = { bulkRows: 200_000, singleTransactions: 20_000, hugeRows: 1_000_000 }
export const quickSizes: Sizes = { bulkRows: 20_000, singleTransactions: 2_000, hugeRows: 100_000 }

export const dataTable = "bench_rows"
export const endTable = "bench_end"
export const publication = "bench_pub"

export interface Workload {
  readonly name: WorkloadName
  readonly title: (sizes: Sizes) => string
  /** INSERT/UPDATE changes of the data table each client must see before the end marker. */
  readonly expectedChanges: (sizes: Sizes) => number
  readonly run: (client: pg.Client, sizes: Sizes) => Promise<void>
}

/** The values of row `i`: every column type of the table, deterministic so every run writes the same WAL. */
const rowValues = (i: string): string =>
  `${i}, 'name-' || ${i}, ((${i}::bigint * 7919) % 10000000) / 100.0,
   timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => ${i}),
   jsonb_build_object('id', ${i}, 'tags', jsonb_build_array('red', 'green'), 'score', (${i} % 1000) / 10.0,
                      'nested', jsonb_build_object('ok', ${i} % 2 = 0, 'label', 'item ' || ${i}))`

const schema = `
DROP PUBLICATION IF EXISTS ${publication};
DROP TABLE IF EXISTS ${dataTable}, ${endTable};
CREATE TABLE ${dataTable} (id bigint PRIMARY KEY, name text, amount numeric(12,2), created timestamptz, payload jsonb);
CREATE TABLE ${endTable} (id bigserial PRIMARY KEY, workload text NOT NULL);
CREATE PUBLICATION ${publication} FOR TABLE ${dataTable}, ${endTable};
CREATE OR REPLACE PROCEDURE bench_single_inserts(n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    INSERT INTO ${dataTable} VALUES (${rowValues("i")});
    COMMIT;
  END LOOP;
END $$;
CREATE OR REPLACE PROCEDURE bench_single_updates(n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    UPDATE ${dataTable} SET amount = amount + 1, name = name || '+' WHERE id = i;
    COMMIT;
  END LOOP;
END $$;
`

export const createSchema = async (client: pg.Client): Promise<void> => {
  await client.query(schema)
}

/** Empties the data table before a workload (before its slots exist, so no client sees it). */
export const resetData = async (client: pg.Client): Promise<void> => {
  await client.query(`TRUNCATE ${dataTable}`)
  await client.query(`VACUUM ${dataTable}`)
}

const bulkInsert = async (client: pg.Client, rows: number): Promise<void> => {
  await client.query(`INSERT INTO ${dataTable} SELECT ${rowValues("i")} FROM generate_series(1, ${rows}) AS i`)
}

export const workloads: Record<WorkloadName, Workload> = {
  A: {
    name: "A",
    title: (s) => `one transaction inserting ${s.bulkRows.toLocaleString("en-US")} rows`,
    expectedChanges: (s) => s.bulkRows,
    run: (client, s) => bulkInsert(client, s.bulkRows)
  },
  B: {
    name: "B",
    title: (s) =>
      `${s.singleTransactions.toLocaleString("en-US")} single-row INSERT transactions, then ${s.singleTransactions.toLocaleString("en-US")} single-row UPDATE transactions`,
    expectedChanges: (s) => 2 * s.singleTransactions,
    run: async (client, s) => {
      await client.query(`CALL bench_single_inserts(${s.singleTransactions})`)
      await client.query(`CALL bench_single_updates(${s.singleTransactions})`)
    }
  },
  C: {
    name: "C",
    title: (s) => `one transaction inserting ${s.hugeRows.toLocaleString("en-US")} rows (memory)`,
    expectedChanges: (s) => s.hugeRows,
    run: (client, s) => bulkInsert(client, s.hugeRows)
  }
}

export const createSlots = async (client: pg.Client, slots: ReadonlyArray<string>): Promise<void> => {
  for (const slot of slots) {
    await client.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [slot])
  }
}

export const dropSlots = async (client: pg.Client, slots: ReadonlyArray<string>): Promise<void> => {
  for (const slot of slots) {
    await client.query(
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active",
      [slot]
    )
  }
}

/**
 * Writes the end marker after the workload and returns the WAL insert position read just before it: every record
 * of the workload ends at or before that position, and every record of the marker starts at or after it.
 */
export const writeEndMarker = async (client: pg.Client, workload: WorkloadName): Promise<string> => {
  const result = await client.query<{ lsn: string }>("SELECT pg_current_wal_insert_lsn()::text AS lsn")
  await client.query(`INSERT INTO ${endTable} (workload) VALUES ($1)`, [workload])
  return result.rows[0]!.lsn
}
