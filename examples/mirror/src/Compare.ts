/**
 * Compares the mirror with the table, value by value, and describes every difference in a line a person can read.
 *
 * Values are compared through one canonical text per value (bigint with an `n`, bytes in hex, numeric and json by
 * their exact text, everything else as JSON), so a number that lost precision or a timestamp that lost its
 * microseconds shows up as a difference. It deliberately does not tolerate anything: "equal" means equal.
 */
import { UnchangedToast } from "@pgcdc/replication"
import type { ColumnValue, Row } from "@pgcdc/replication"
import type { Rows } from "./MirrorTable.ts"

const hex = (b: Uint8Array): string => {
  let s = ""
  for (const x of b) s += x.toString(16).padStart(2, "0")
  return s
}

const replacer = (_key: string, value: unknown): unknown =>
  typeof value === "bigint" ? `${value}n` : value instanceof Uint8Array ? `\\x${hex(value)}` : value

/** One canonical text per value. */
export const show = (value: ColumnValue | undefined): string => {
  if (value === undefined) return "(no such column)"
  if (value === null) return "NULL"
  if (value === UnchangedToast) return "(unchanged TOAST, never resolved)"
  switch (typeof value) {
    case "string":
      return JSON.stringify(value)
    case "bigint":
      return `${value}n`
    case "number":
    case "boolean":
      return String(value)
  }
  if (value instanceof Uint8Array) return `\\x${hex(value)}`
  if (value._tag === "Json") return `json ${value.text}`
  if (value._tag === "Numeric") return `numeric ${value.value}`
  return JSON.stringify(value, replacer)
}

const short = (text: string): string => (text.length > 60 ? `${text.slice(0, 57)}...` : text)

const rowDifferences = (id: number, table: Row, mirror: Row, mirrorName: string): Array<string> => {
  const out: Array<string> = []
  const names = new Set([...Object.keys(table), ...Object.keys(mirror)])
  for (const name of names) {
    const want = show(table[name])
    const have = show(mirror[name])
    if (want !== have) out.push(`row ${id}: ${name} is ${short(want)} in the table, ${short(have)} in ${mirrorName}`)
  }
  return out
}

/**
 * Every difference between the table and the mirror; empty when they are equal. `mirrorName` is how the lines name
 * the mirror (the Map, or the target database's table).
 */
export const differences = (table: Rows, mirror: Rows, mirrorName = "the mirror"): Array<string> => {
  const out: Array<string> = []
  for (const [id, row] of table) {
    const mirrored = mirror.get(id)
    if (mirrored === undefined) out.push(`row ${id}: in the table, missing from ${mirrorName}`)
    else out.push(...rowDifferences(id, row, mirrored, mirrorName))
  }
  for (const id of mirror.keys()) {
    if (!table.has(id)) out.push(`row ${id}: in ${mirrorName}, not in the table`)
  }
  return out
}
