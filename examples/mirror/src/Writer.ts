/**
 * The writer: random inserts, updates and deletes on the mirrored table through a regular `Connection` session,
 * a few statements per transaction, paced to a target number of statements per second.
 *
 * Values are picked to be awkward: int8 beyond 2^53, quotes and commas inside array elements, a jsonb number that
 * no double holds, and a 3.2 kB `notes` value stored out of line that most updates leave untouched. Ids come from
 * 1..tableSize, so inserts, updates and deletes collide and the table stays around two thirds full.
 *
 * It counts what it asked for (statements) and what happened (rows changed, by each statement's command tag), so
 * that the demo can say why the consumer sees fewer changes than statements. It stops between transactions when
 * `stop` is set, so the last transaction is always complete. It deliberately does not verify anything: the
 * comparison at the end does.
 */
import type { ConnectionError, ConnectionShape } from "@pgcdc/connection"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"

export interface WriterOptions {
  readonly table: string
  /** Statements per second; 0 writes as fast as the server allows. */
  readonly rate: number
  readonly tableSize: number
}

export interface WriterStats {
  transactions: number
  statements: number
  /** Rows the statements changed (an insert of an id that exists, an update or delete of one that does not: none). */
  rowsChanged: number
  /** Transactions that changed at least one row: the only ones logical decoding sends (PostgreSQL 15+). */
  transactionsWithChanges: number
}

/** Rows a statement changed, from its command tag ("INSERT 0 1", "UPDATE 0", "DELETE 1"); 0 for anything else. */
export const rowsOf = (tag: string): number => {
  const match = /^(?:INSERT \d+|UPDATE|DELETE) (\d+)$/.exec(tag)
  return match === null ? 0 : Number(match[1])
}

const words = ["alpha", "beta", "O'Brien", "a,b", 'say "hi"', "NULL", "", "ünïcødé", "back\\slash", "{braces}"]

const literal = (s: string): string => `'${s.replaceAll("'", "''")}'`

const pick = <A>(items: ReadonlyArray<A>): Effect.Effect<A> =>
  Effect.map(Random.nextIntBetween(0, items.length - 1), (i) => items[i] as A)

/** A random SQL expression for each column but id. */
const values = Effect.gen(function* () {
  const name = `${yield* pick(words)}-${yield* Random.nextIntBetween(1, 1_000_000)}`
  const qty = 9_007_199_254_740_000n + BigInt(yield* Random.nextIntBetween(-1_000_000, 1_000_000))
  const price = `${yield* Random.nextIntBetween(0, 99_999_999)}.${String(yield* Random.nextIntBetween(0, 99)).padStart(2, "0")}`
  const tagCount = yield* Random.nextIntBetween(0, 3)
  const tags: Array<string> = []
  for (let i = 0; i < tagCount; i++) tags.push(literal(yield* pick(words)))
  const doc = (yield* Random.nextBoolean)
    ? literal(
        `{"n": 12345678901234567890${yield* Random.nextIntBetween(0, 9)}, "f": 0.1, "s": ${JSON.stringify(yield* pick(words))}}`
      )
    : "NULL"
  return {
    name: literal(name),
    qty: String(qty),
    price,
    tags: `ARRAY[${tags.join(", ")}]::text[]`,
    doc,
    updated_at: "clock_timestamp()"
  }
})

const notesValue = Effect.gen(function* () {
  const r = yield* Random.nextIntBetween(0, 3)
  // 100 md5 hashes: 3.2 kB that stays out of line with STORAGE EXTERNAL (no compression).
  return r === 0
    ? "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 100))"
    : r === 1
      ? literal(`short note ${yield* Random.nextIntBetween(1, 1000)}`)
      : "NULL"
})

const statement = (options: WriterOptions) =>
  Effect.gen(function* () {
    const id = yield* Random.nextIntBetween(1, options.tableSize)
    const kind = yield* Random.nextIntBetween(0, 9)
    const v = yield* values
    if (kind < 4) {
      const notes = yield* notesValue
      return `INSERT INTO ${options.table} (id, name, qty, price, tags, doc, updated_at, notes)
        VALUES (${id}, ${v.name}, ${v.qty}, ${v.price}, ${v.tags}, ${v.doc}, ${v.updated_at}, ${notes})
        ON CONFLICT (id) DO NOTHING`
    }
    if (kind < 8) {
      // Most updates leave notes alone, so its out-of-line value arrives as "unchanged TOAST".
      const touchNotes = (yield* Random.nextIntBetween(0, 3)) === 0
      const notes = touchNotes ? `, notes = ${yield* notesValue}` : ""
      return `UPDATE ${options.table} SET name = ${v.name}, qty = qty + 1, price = ${v.price}, tags = ${v.tags},
        doc = ${v.doc}, updated_at = ${v.updated_at}${notes} WHERE id = ${id}`
    }
    return `DELETE FROM ${options.table} WHERE id = ${id}`
  })

/** Rows to start with, so that the initial snapshot has something to copy. */
export const seed = (table: string, count: number): string =>
  `INSERT INTO ${table} (id, name, qty, price, tags, doc, updated_at, notes)
   SELECT i, 'seed-' || i, 9007199254740993 + i, i * 1.25, ARRAY['seed', 'a,b'], '{"seed": 1}', clock_timestamp(),
          CASE WHEN i % 3 = 0 THEN (SELECT string_agg(md5(i::text || g::text), '') FROM generate_series(1, 100) g) END
     FROM generate_series(1, ${count}) i
   ON CONFLICT (id) DO NOTHING`

/**
 * Writes until `stop` is set, then returns. Each transaction is one simple query ("BEGIN; ...; COMMIT"), one round
 * trip; pacing sleeps until the statements written so far match the rate.
 */
export const run = (
  conn: ConnectionShape,
  options: WriterOptions,
  stop: Ref.Ref<boolean>,
  stats: WriterStats
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const started = yield* Clock.currentTimeMillis
    while (!(yield* Ref.get(stop))) {
      const count = yield* Random.nextIntBetween(1, 4)
      const statements: Array<string> = []
      for (let i = 0; i < count; i++) statements.push(yield* statement(options))
      const results = yield* conn.query(`BEGIN; ${statements.join("; ")}; COMMIT`)
      const rows = results.reduce((sum, r) => sum + rowsOf(r.command), 0)
      stats.transactions++
      stats.statements += count
      stats.rowsChanged += rows
      if (rows > 0) stats.transactionsWithChanges++
      if (options.rate > 0) {
        const due = started + (stats.statements * 1000) / options.rate
        const now = yield* Clock.currentTimeMillis
        if (due > now) yield* Effect.sleep(due - now)
      }
    }
  })
