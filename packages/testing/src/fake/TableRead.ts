/**
 * A SELECT of one fake table's columns, as the statements the fake runs write it (a COPY's query, the backfill's
 * progress query):
 *
 *   SELECT <columns> FROM <table> [WHERE [<filter> AND] (<k1>, ...) > ('<v1>', ...)] [ORDER BY <columns>] [LIMIT n]
 *
 * The filter is the row filter language of RowFilter.ts; the row comparison (a backfill's "after the last key") is
 * compared column by column, each value as its column's type (numbers as numbers, text by code point: the C
 * collation, which the embedded test servers use), as PostgreSQL compares rows; ORDER BY sorts ascending with NULLs
 * last, by the same comparison. Rows come from the statement's view, in storage order unless sorted.
 *
 * Errors are PostgreSQL's: 42P01 for an unknown table, 42703 for an unknown column, 22P02 for a key value that is not
 * an integer of an integer column; anything else the fake cannot read is 0A000 naming it. It deliberately knows no
 * joins, expressions (beyond those a caller allows by name), DESC, OFFSET or other clauses.
 */
import type { DatabaseView } from "./FakeServer.ts"
import type { HeapRow } from "./Heap.ts"
import { error, type Outcome } from "./Outcome.ts"
import { compareColumnValues, evaluateRowFilter, type RowFilterExpr, RowFilterUnsupported } from "./RowFilter.ts"
import { parseRowFilter } from "./RowFilterParser.ts"
import { nameList, namePattern, qualifiedPattern, relationName, splitSelectList, stringLiteral } from "./SqlText.ts"
import type { FakeTable, FakeValue } from "./Wal.ts"

/** One output column: its name and type in the row description, and its value for a stored row. */
export interface SelectOutput {
  readonly name: string
  readonly typeOid: number
  readonly value: (row: HeapRow) => FakeValue
}

/** What a caller allows besides plain columns: an expression (lower case, as written) → its output for a table. */
export type SelectExpressions = Readonly<Record<string, (table: FakeTable, column: string) => SelectOutput | undefined>>

export interface Selection {
  readonly table: FakeTable
  readonly outputs: ReadonlyArray<SelectOutput>
  /** The selected rows, in the order the statement asks for. */
  readonly rows: ReadonlyArray<HeapRow>
}

const literalPattern = `E?'(?:[^']|'')*'`
const afterKey = new RegExp(
  String.raw`(?:^|\s+and\s+)\(\s*(${namePattern}(?:\s*,\s*${namePattern})*)\s*\)\s*>\s*\(\s*(${literalPattern}(?:\s*,\s*${literalPattern})*)\s*\)$`,
  "is"
)
const selectStatement = new RegExp(
  String.raw`^select\s+(.*?)\s*\bfrom\s+(${qualifiedPattern})(?:\s+where\s+(.+?))?(?:\s+order\s+by\s+(${namePattern}(?:\s*,\s*${namePattern})*))?(?:\s+limit\s+(\d+))?$`,
  "is"
)

const integerTypes: ReadonlyMap<number, string> = new Map([
  [21, "smallint"],
  [23, "integer"],
  [20, "bigint"]
])

const textOf = (v: FakeValue | undefined): string | null => (typeof v === "string" ? v : null)

/** Whether `text` is a SELECT of the shape above (so that a caller can tell "not mine" from "wrong"). */
export const isTableSelect = (text: string): boolean => selectStatement.test(text.trim())

/** Runs the SELECT against `view`; an error Outcome when the fake cannot, or PostgreSQL would not. */
export const selectRows = (
  view: DatabaseView,
  text: string,
  expressions: SelectExpressions = {}
): Selection | Outcome => {
  const m = selectStatement.exec(text.trim())
  if (m === null) return error("0A000", `the pgcdc fake server does not run this SELECT: ${text.slice(0, 120)}`)
  const relation = relationName(m[2]!)
  const table = view.tables.get(`${relation.schema}.${relation.name}`)
  if (table === undefined) return error("42P01", `relation "${relation.shown}" does not exist`)
  const column = (name: string) => table.columns.find((c) => c.name === name)

  const outputs: Array<SelectOutput> = []
  const list = m[1]!.trim()
  const items = list === "*" ? table.columns.map((c) => `"${c.name.replaceAll('"', '""')}"`) : splitSelectList(list)
  // An empty list is allowed (a table whose published columns are none reads rows of no column).
  for (const item of items) {
    const plain = new RegExp(`^${namePattern}$`).exec(item.trim())
    if (plain !== null) {
      const name = nameList(plain[0])[0]!
      const def = column(name)
      if (def === undefined) return error("42703", `column "${name}" does not exist`)
      outputs.push({ name, typeOid: def.typeOid, value: (row) => row[name] ?? null })
      continue
    }
    const call = new RegExp(`^([a-z_]+)\\((${namePattern})\\)(::[a-z]+)?$`, "i").exec(item.trim())
    const make = call === null ? undefined : expressions[`${call[1]!.toLowerCase()}(_)${call[3]?.toLowerCase() ?? ""}`]
    if (call === null || make === undefined) {
      return error("0A000", `the pgcdc fake server does not know the expression ${item} in a SELECT`)
    }
    const name = nameList(call[2]!)[0]!
    if (column(name) === undefined) return error("42703", `column "${name}" does not exist`)
    const output = make(table, name)
    if (output === undefined) return error("0A000", `the pgcdc fake server cannot apply ${item} to ${name}`)
    outputs.push(output)
  }

  let filter: RowFilterExpr | undefined
  let after: { readonly columns: ReadonlyArray<number>; readonly values: ReadonlyArray<string> } | undefined
  if (m[3] !== undefined) {
    let where = m[3].trim()
    const row = afterKey.exec(where)
    if (row !== null) {
      const keys = nameList(row[1]!)
      const values = [...row[2]!.matchAll(new RegExp(literalPattern, "g"))].map((l) => stringLiteral(l[0])!)
      if (keys.length !== values.length) return error("42601", "unequal number of entries in row expressions")
      const columns: Array<number> = []
      for (const [i, key] of keys.entries()) {
        const at = table.columns.findIndex((c) => c.name === key)
        if (at < 0) return error("42703", `column "${key}" does not exist`)
        const integer = integerTypes.get(table.columns[at]!.typeOid)
        if (integer !== undefined && !/^\s*[+-]?\d+\s*$/.test(values[i]!)) {
          return error("22P02", `invalid input syntax for type ${integer}: "${values[i]}"`)
        }
        columns.push(at)
      }
      after = { columns, values }
      where = where.slice(0, row.index).trim()
    }
    if (where !== "") {
      try {
        filter = parseRowFilter(where)
      } catch (e) {
        if (!(e instanceof RowFilterUnsupported)) throw e
        return error("0A000", `the pgcdc fake server cannot evaluate this WHERE clause: ${e.message}`, {
          hint: "It evaluates what publication row filters use: see the @pgcdc/testing README."
        })
      }
    }
  }
  const order: Array<number> = []
  for (const name of m[4] === undefined ? [] : nameList(m[4])) {
    const at = table.columns.findIndex((c) => c.name === name)
    if (at < 0) return error("42703", `column "${name}" does not exist`)
    order.push(at)
  }

  const selected: Array<HeapRow> = []
  for (const row of view.rows(`${table.schema}.${table.name}`)) {
    if (filter !== undefined) {
      let passes: boolean | null
      try {
        passes = evaluateRowFilter(filter, (c) => {
          const def = column(c)
          return def === undefined ? undefined : { text: textOf(row[c]), typeOid: def.typeOid }
        })
      } catch (e) {
        if (!(e instanceof RowFilterUnsupported)) throw e
        return error("42703", e.message)
      }
      if (passes !== true) continue
    }
    if (after !== undefined && rowCompare(table, row, after.columns, after.values) !== true) continue
    selected.push(row)
  }
  if (order.length > 0) selected.sort((a, b) => compareRows(table, order, a, b))
  const limit = m[5] === undefined ? undefined : Number(m[5])
  return { table, outputs, rows: limit === undefined ? selected : selected.slice(0, limit) }
}

/** `(columns of row) > (values)`, as SQL compares rows: true, false, or null (a NULL decided it). */
const rowCompare = (
  table: FakeTable,
  row: HeapRow,
  columns: ReadonlyArray<number>,
  values: ReadonlyArray<string>
): boolean | null => {
  for (const [i, at] of columns.entries()) {
    const def = table.columns[at]!
    const d = compareColumnValues(def.typeOid, textOf(row[def.name]), values[i]!)
    if (d === null) return null
    if (d !== 0) return d > 0
  }
  return false
}

/** ORDER BY the columns, ascending, NULLs last. */
const compareRows = (table: FakeTable, order: ReadonlyArray<number>, a: HeapRow, b: HeapRow): number => {
  for (const at of order) {
    const def = table.columns[at]!
    const x = textOf(a[def.name])
    const y = textOf(b[def.name])
    if (x === null || y === null) {
      if (x !== y) return x === null ? 1 : -1
      continue
    }
    const d = compareColumnValues(def.typeOid, x, y) ?? 0
    if (d !== 0) return d
  }
  return 0
}
