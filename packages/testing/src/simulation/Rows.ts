/**
 * Rows of a workload as plain text values: the key of a row, the rows of an `InsertSeries`, and the text form of a
 * value the `Replication` service decoded, so a model, a table read back with SQL and a replica compare as equal
 * strings.
 *
 * It deliberately covers only the workload's column types (int4, int8, text): a decoded value of another kind is
 * reported as such rather than guessed at.
 */
import type { ColumnValue, Row as DecodedRow } from "@pgcdc/replication"
import type { Op, Row, TableSpec, Value } from "./Backend.ts"

/** The primary-key values of a row, as one string (a Map key). */
export const keyOf = (table: TableSpec, row: Row): string =>
  JSON.stringify(table.columns.filter((c) => c.key === true).map((c) => row[c.name] ?? null))

/** Row `i` of an `InsertSeries`. */
export const seriesRow = (op: Extract<Op, { readonly _tag: "InsertSeries" }>, i: number): Row => ({
  id: String(op.from + i),
  v: op.text,
  n: String((op.from + i) * 1000)
})

/** The text form of a decoded int4, int8 or text value. */
export const textOf = (value: ColumnValue | undefined): Value => {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case "string":
      return value
    case "number":
    case "bigint":
      return String(value)
    default:
      return `<unexpected ${typeof value}: ${String(value)}>`
  }
}

/** A decoded row restricted to the table's columns, as text. */
export const rowFromDecoded = (table: TableSpec, row: DecodedRow): Row => {
  const out: Record<string, Value> = {}
  for (const c of table.columns) out[c.name] = textOf(row[c.name])
  return out
}

/** Rows sorted by key, for comparisons that must not depend on order. */
export const sortedRows = (table: TableSpec, rows: Iterable<Row>): ReadonlyArray<Row> =>
  [...rows].sort((a, b) => {
    const ka = keyOf(table, a)
    const kb = keyOf(table, b)
    return ka < kb ? -1 : ka > kb ? 1 : 0
  })
