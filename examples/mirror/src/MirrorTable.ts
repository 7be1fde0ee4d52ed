/**
 * The mirrored table: its DDL, how to read it whole, and the names the mirror derives from one base name (table,
 * publication and slot share it, so two mirrors with different names can share a server).
 *
 * The columns are chosen to exercise what a naive consumer gets wrong: int8 beyond 2^53, numeric, a text array
 * with commas and quotes, jsonb with a number too large for a double, microsecond timestamps, and a text column
 * stored out of line (STORAGE EXTERNAL) so that updates which leave it alone arrive as "unchanged TOAST".
 *
 * Rows read with SELECT are decoded by the same lossless decoder the replication stream uses (`decodeText` by type
 * OID), so the final comparison compares like with like. It deliberately does not know about the writer's random
 * values or about replication.
 */
import type { ConnectionShape, QueryResult } from "@pgcdc/connection"
import { decodeText, type Row } from "@pgcdc/replication"
import * as Effect from "effect/Effect"

export interface Names {
  readonly table: string
  readonly publication: string
  readonly slot: string
}

/** Table, publication and slot names from one base name (a lower-case SQL identifier). */
export const namesOf = (base: string): Names => ({ table: base, publication: base, slot: base })

export const isIdentifier = (s: string): boolean => /^[a-z_][a-z0-9_]{0,62}$/.test(s)

export const columns = ["id", "name", "qty", "price", "tags", "doc", "updated_at", "notes"] as const

export const createTable = (table: string): string => `
  CREATE TABLE IF NOT EXISTS ${table} (
    id integer PRIMARY KEY,
    name text NOT NULL,
    qty bigint NOT NULL,
    price numeric(14, 2) NOT NULL,
    tags text[] NOT NULL,
    doc jsonb,
    updated_at timestamptz NOT NULL,
    notes text
  );
  ALTER TABLE ${table} ALTER COLUMN notes SET STORAGE EXTERNAL`

/** The whole table, decoded: id → row. */
export type Rows = Map<number, Row>

export const selectAll = (table: string): string => `SELECT ${columns.join(", ")} FROM ${table} ORDER BY id`

/** Decodes a SELECT result into rows keyed by id, with the replication stream's value decoder. */
export const rowsOf = (result: QueryResult | undefined): Rows => {
  const rows: Rows = new Map()
  if (result === undefined) return rows
  for (const raw of result.rows) {
    const row: Record<string, Row[string]> = {}
    result.fields.forEach((field, i) => {
      const text = raw[i] ?? null
      row[field.name] = text === null ? null : decodeText(field.dataTypeOid, text)
    })
    const id = row.id
    if (typeof id === "number") rows.set(id, row)
  }
  return rows
}

/** The settings under which the text form of values matches what the walsender sends (see Replication.ts). */
export const sessionSettings =
  "SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3; SET bytea_output = 'hex'; SET TimeZone = 'UTC'"

/** Reads the whole table. */
export const readAll = (conn: ConnectionShape, table: string) =>
  Effect.map(conn.query(selectAll(table)), (results) => rowsOf(results.at(-1)))
