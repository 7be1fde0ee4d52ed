/**
 * Small helpers for the catalogue queries the command runs itself (what the library has no function for: listing
 * slots and publications, the facts `check` needs): quoting, and reading a result by column name.
 *
 * It deliberately has no query of its own.
 */
import type { ConnectionError, ConnectionShape, QueryResult } from "@pgcdc/connection"
import * as Effect from "effect/Effect"

/** A SQL string literal, whatever standard_conforming_strings says. */
export const literal = (text: string): string => `E'${text.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`

/** A quoted SQL identifier. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`

/** `schema.name`, each part quoted. */
export const qualified = (schema: string, name: string): string => `${ident(schema)}.${ident(name)}`

/** A row by column name (text values as PostgreSQL printed them; null is SQL NULL). */
export type Row = Readonly<Record<string, string | null>>

export const rowsOf = (result: QueryResult | undefined): ReadonlyArray<Row> => {
  if (result === undefined) return []
  return result.rows.map((values) => {
    const row: Record<string, string | null> = {}
    result.fields.forEach((f, i) => {
      row[f.name] = values[i] ?? null
    })
    return row
  })
}

/** The rows of the last result of `query`. */
export const select = (conn: ConnectionShape, query: string): Effect.Effect<ReadonlyArray<Row>, ConnectionError> =>
  Effect.map(conn.query(query), (results) => rowsOf(results.at(-1)))

/** The first value of the first row of `query`'s last result, or null. */
export const scalar = (conn: ConnectionShape, query: string): Effect.Effect<string | null, ConnectionError> =>
  Effect.map(conn.query(query), (results) => results.at(-1)?.rows[0]?.[0] ?? null)
