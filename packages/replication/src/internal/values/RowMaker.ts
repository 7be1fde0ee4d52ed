/**
 * Building row objects (column name → value) for the WalDecoder: by assignment, one column at a time, and through
 * a per-relation constructor that builds a whole row in one step.
 *
 * Both give the same object: a plain object whose own enumerable properties are the columns in order, where a
 * column called `__proto__` is an own property (never the prototype). It deliberately decodes nothing.
 */
import type { ColumnValue, Row } from "../../WalMessage.ts"

export const setColumn = (row: Record<string, ColumnValue>, name: string, value: ColumnValue): void => {
  // A column may be called "__proto__": define it instead of invoking the prototype setter.
  if (name === "__proto__")
    Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true })
  else row[name] = value
}

export type MakeRow = (values: ReadonlyArray<ColumnValue>) => Row

/** The reference constructor: assignment in column order. */
export const rowByAssignment =
  (names: ReadonlyArray<string>): MakeRow =>
  (values) => {
    const row: Record<string, ColumnValue> = {}
    for (let i = 0; i < names.length; i++) setColumn(row, names[i]!, values[i]!)
    return row
  }

/**
 * A row constructor for these column names made of one object literal, so every row of the relation is built in one
 * step with one hidden class (about 6 times cheaper than adding the properties one by one, measured on Node 24).
 * Names are embedded as JSON string literals, valid JavaScript for any string, so no name can inject code;
 * `__proto__` as a computed key, which defines an own property as `setColumn` does. Where code generation is
 * disabled (`--disallow-code-generation-from-strings`) it falls back to assignment, with the same result.
 */
export const rowMaker = (names: ReadonlyArray<string>): MakeRow => {
  const fields = names.map((name, i) =>
    name === "__proto__" ? `["__proto__"]: v[${i}]` : `${JSON.stringify(name)}: v[${i}]`
  )
  try {
    return new Function("v", `"use strict"; return { ${fields.join(", ")} }`) as MakeRow
  } catch {
    return rowByAssignment(names)
  }
}
