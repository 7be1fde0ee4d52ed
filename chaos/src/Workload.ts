/**
 * What the writer commits: the schema of the chaos run and, for each sequence number, one random multi-statement
 * transaction — a pure function of the seed and the sequence number, so that a transaction retried after a lost
 * connection is the same transaction.
 *
 * Each transaction mixes upserts, updates of a value (which leave a TOASTed note unchanged, so pgoutput sends the
 * `UnchangedToast` marker), deletes, primary-key changes, multi-row updates and a rolled-back savepoint (whose
 * changes must never reach the consumer), and inserts its sequence number into `chaos_log`, so the consumer learns
 * which writer transaction it applied and the writer can tell whether an interrupted COMMIT happened.
 *
 * It does not talk to the server (see Writer.ts).
 */
import * as Random from "./Random.ts"

export const table = "chaos_items"
export const logTable = "chaos_log"
export const publication = "chaos_pub"
export const slot = "chaos_slot"
/** Keys are drawn from 1..keySpace, so rows are inserted, updated and deleted over and over. */
export const keySpace = 300

export const schemaSql = [
  `CREATE TABLE ${table} (id int PRIMARY KEY, val int NOT NULL, note text NOT NULL)`,
  `CREATE TABLE ${logTable} (seq bigint PRIMARY KEY)`,
  `CREATE PUBLICATION ${publication} FOR TABLE ${table}, ${logTable}`,
  `SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`
]

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 é'"

/** Random text; a long one does not compress, so PostgreSQL stores it out of line (TOAST). */
const text = (rng: Random.Random, length: number): string => {
  let out = ""
  for (let i = 0; i < length; i++) out += alphabet[rng.int(0, alphabet.length - 1)]
  return out
}

const quote = (s: string): string => `'${s.replaceAll("'", "''")}'`

const upsert = (rng: Random.Random): string => {
  const id = rng.int(1, keySpace)
  const note = rng.chance(0.05) ? text(rng, 3000) : text(rng, rng.int(0, 40))
  return `INSERT INTO ${table} (id, val, note) VALUES (${id}, ${rng.int(-1000, 1000)}, ${quote(note)}) ON CONFLICT (id) DO UPDATE SET val = EXCLUDED.val, note = EXCLUDED.note`
}

const statement = (rng: Random.Random): string => {
  const r = rng.next()
  if (r < 0.35) return upsert(rng)
  if (r < 0.55) return `UPDATE ${table} SET val = val + ${rng.int(1, 9)} WHERE id = ${rng.int(1, keySpace)}`
  if (r < 0.7) return `DELETE FROM ${table} WHERE id = ${rng.int(1, keySpace)}`
  if (r < 0.8) {
    const from = rng.int(1, keySpace)
    const to = rng.int(1, keySpace)
    return `UPDATE ${table} SET id = ${to} WHERE id = ${from} AND NOT EXISTS (SELECT 1 FROM ${table} WHERE id = ${to})`
  }
  if (r < 0.9) {
    const low = rng.int(1, keySpace)
    return `UPDATE ${table} SET val = -val, note = ${quote(text(rng, 8))} WHERE id BETWEEN ${low} AND ${low + rng.int(0, 8)}`
  }
  return `SAVEPOINT s; ${upsert(rng)}; DELETE FROM ${table} WHERE id = ${rng.int(1, keySpace)}; ROLLBACK TO SAVEPOINT s`
}

/** The statements of transaction `seq` (without BEGIN and COMMIT), its log insert among them. */
export const statements = (seed: number, seq: number): ReadonlyArray<string> => {
  const rng = Random.make(seed, `transaction ${seq}`)
  const out = Array.from({ length: rng.int(1, 6) }, () => statement(rng))
  out.splice(rng.int(0, out.length), 0, `INSERT INTO ${logTable} (seq) VALUES (${seq})`)
  return out
}

/** Transaction `seq` as one simple query: BEGIN, its statements, COMMIT. */
export const transactionSql = (seed: number, seq: number): string =>
  ["BEGIN", ...statements(seed, seq), "COMMIT"].join("; ")
