/**
 * In-memory tables keyed by primary key, holding text rows: the simulation's model of what the database should hold
 * (workload operations applied in commit order) and the replica a consumer builds from the stream. `diff` compares
 * two sets of rows and describes the first differences in words, for failure messages.
 *
 * It deliberately checks nothing a database would (a duplicate insert overwrites): the workload generator only
 * produces operations that are valid against the model it generates from.
 */
import type { Op, Row, TableSpec } from "./Backend.ts"
import { keyOf, seriesRow, sortedRows } from "./Rows.ts"

export class Tables {
  readonly specs: ReadonlyArray<TableSpec>
  private readonly data: Map<string, Map<string, Row>>

  constructor(specs: ReadonlyArray<TableSpec>, data?: ReadonlyMap<string, ReadonlyMap<string, Row>>) {
    this.specs = specs
    this.data = new Map(specs.map((s) => [s.name, new Map(data?.get(s.name) ?? [])]))
  }

  spec(table: string): TableSpec {
    const s = this.specs.find((t) => t.name === table)
    if (s === undefined) throw new Error(`unknown table ${table}`)
    return s
  }

  private table(name: string): Map<string, Row> {
    const t = this.data.get(name)
    if (t === undefined) throw new Error(`unknown table ${name}`)
    return t
  }

  has(table: string, key: Row): boolean {
    return this.table(table).has(keyOf(this.spec(table), key))
  }

  /** The key values (as rows of key columns) present in a table, in insertion order. */
  keys(table: string): ReadonlyArray<Row> {
    return [...this.table(table).values()]
  }

  upsert(table: string, row: Row): void {
    this.table(table).set(keyOf(this.spec(table), row), row)
  }

  remove(table: string, key: Row): void {
    this.table(table).delete(keyOf(this.spec(table), key))
  }

  clear(table: string): void {
    this.table(table).clear()
  }

  apply(op: Op): void {
    switch (op._tag) {
      case "Insert":
      case "Update":
        this.upsert(op.table, op.row)
        break
      case "Delete":
        this.remove(op.table, op.key)
        break
      case "Truncate":
        for (const t of op.tables) this.clear(t)
        break
      case "Message":
        break
      case "InsertSeries":
        for (let i = 0; i < op.count; i++) this.upsert(op.table, seriesRow(op, i))
        break
    }
  }

  clone(): Tables {
    return new Tables(this.specs, this.data)
  }

  rows(table: string): ReadonlyArray<Row> {
    return sortedRows(this.spec(table), this.table(table).values())
  }

  size(table: string): number {
    return this.table(table).size
  }
}

const show = (row: Row | undefined): string => (row === undefined ? "absent" : JSON.stringify(row))

/** The differences between two row sets of one table, in words (at most `limit` of them); empty when equal. */
export const diff = (
  spec: TableSpec,
  expectedName: string,
  expected: ReadonlyArray<Row>,
  actualName: string,
  actual: ReadonlyArray<Row>,
  limit = 5
): ReadonlyArray<string> => {
  const a = new Map(expected.map((r) => [keyOf(spec, r), r]))
  const b = new Map(actual.map((r) => [keyOf(spec, r), r]))
  const out: Array<string> = []
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const x = a.get(key)
    const y = b.get(key)
    if (x !== undefined && y !== undefined && JSON.stringify(x) === JSON.stringify(sortedLike(x, y))) continue
    out.push(`${spec.name} key ${key}: ${expectedName} ${show(x)}, ${actualName} ${show(y)}`)
  }
  return out.length > limit ? [...out.slice(0, limit), `... and ${out.length - limit} more`] : out
}

/** `y` with its properties in `x`'s order, so that JSON comparison ignores property order. */
const sortedLike = (x: Row, y: Row): Row => {
  const out: Record<string, string | null> = {}
  for (const k of Object.keys(x)) out[k] = y[k] ?? null
  for (const k of Object.keys(y)) if (!(k in out)) out[k] = y[k] ?? null
  return out
}
