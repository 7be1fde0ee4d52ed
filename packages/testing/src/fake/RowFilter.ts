/**
 * Publication row filters (`CREATE PUBLICATION ... FOR TABLE t WHERE (...)`, PostgreSQL 15+) for the fake server:
 * the expression a filter is, and its evaluation on a row. The part of SQL's expression language that row filters
 * use in practice: columns and constants (numbers, 'strings', TRUE, FALSE, NULL), the comparisons = <> < <= > >=,
 * IS [NOT] NULL, [NOT] IN (...), AND, OR, NOT, with SQL's three-valued logic: a row passes only when the filter is
 * true; and what PostgreSQL prints for a stored filter (see RowFilterText.ts): casts to the built-in number, text and
 * boolean types and `x = ANY (ARRAY[...])` / `x <> ALL (ARRAY[...])`.
 *
 * Values are compared by the column's type (or the type cast to): integers, numeric and floats as numbers, booleans
 * as booleans, anything else as text in code-point order (the C collation; a server with another collation may order
 * text differently). It does not read filter text (RowFilterParser.ts does, and refuses what cannot be evaluated
 * here) and deliberately knows nothing of publications or changes.
 */

export type CompareOp = "=" | "<>" | "<" | "<=" | ">" | ">="

export type RowFilterExpr =
  | { readonly kind: "column"; readonly name: string }
  | { readonly kind: "literal"; readonly value: string | boolean | null; readonly numeric: boolean }
  | { readonly kind: "compare"; readonly op: CompareOp; readonly left: RowFilterExpr; readonly right: RowFilterExpr }
  | { readonly kind: "isNull"; readonly negate: boolean; readonly operand: RowFilterExpr }
  | {
      readonly kind: "in"
      readonly negate: boolean
      readonly operand: RowFilterExpr
      readonly list: ReadonlyArray<RowFilterExpr>
    }
  | {
      /** `operand op ANY (ARRAY[...])` (`all: false`) or `operand op ALL (ARRAY[...])`. */
      readonly kind: "quantified"
      readonly op: CompareOp
      readonly all: boolean
      readonly operand: RowFilterExpr
      readonly list: ReadonlyArray<RowFilterExpr>
    }
  | { readonly kind: "cast"; readonly operand: RowFilterExpr; readonly typeOid: number }
  | { readonly kind: "and" | "or"; readonly left: RowFilterExpr; readonly right: RowFilterExpr }
  | { readonly kind: "not"; readonly operand: RowFilterExpr }

/** The types a cast may name (PostgreSQL's spellings, as `format_type` prints them and as users write them). */
export const castTypes: ReadonlyMap<string, number> = new Map([
  ["smallint", 21],
  ["int2", 21],
  ["integer", 23],
  ["int", 23],
  ["int4", 23],
  ["bigint", 20],
  ["int8", 20],
  ["numeric", 1700],
  ["decimal", 1700],
  ["real", 700],
  ["float4", 700],
  ["double precision", 701],
  ["float8", 701],
  ["float", 701],
  ["text", 25],
  ["character varying", 1043],
  ["varchar", 1043],
  ["bpchar", 1042],
  ["name", 19],
  ["boolean", 16],
  ["bool", 16]
])

/** A row filter the fake cannot evaluate, or text that is not one. */
export class RowFilterUnsupported extends Error {}

/** A column's value as the filter sees it: its text form (null for SQL NULL) and its type. */
export interface FilterColumn {
  readonly text: string | null
  readonly typeOid: number
}

const numericTypes = new Set([20, 21, 23, 26, 700, 701, 1700])
const BOOL = 16

type Typed = {
  readonly value: string | boolean | null
  readonly typeOid: number | undefined
  readonly numeric: boolean
}

const compareTyped = (a: Typed, b: Typed): number | null => {
  if (a.value === null || b.value === null) return null
  const typeOid = a.typeOid ?? b.typeOid
  if (typeOid === BOOL || typeof a.value === "boolean" || typeof b.value === "boolean") {
    const bool = (v: string | boolean) => (typeof v === "boolean" ? v : /^(t|true|y|yes|on|1)$/i.test(v.trim()))
    return Number(bool(a.value)) - Number(bool(b.value))
  }
  if ((typeOid !== undefined && numericTypes.has(typeOid)) || (a.numeric && b.numeric)) {
    const x = String(a.value)
    const y = String(b.value)
    if (/^-?\d+$/.test(x) && /^-?\d+$/.test(y)) {
      const d = BigInt(x) - BigInt(y)
      return d < 0n ? -1 : d > 0n ? 1 : 0
    }
    return Math.sign(Number(x) - Number(y))
  }
  return compareCodePoints(String(a.value), String(b.value))
}

/**
 * Text order of the C collation: by code point (UTF-8 bytes order the same way). JavaScript's `<` compares UTF-16
 * units, which puts characters above U+FFFF (surrogate pairs) before U+E000 to U+FFFF.
 */
const compareCodePoints = (x: string, y: string): number => {
  const n = Math.min(x.length, y.length)
  for (let i = 0; i < n; i++) {
    const a = x.codePointAt(i)!
    const b = y.codePointAt(i)!
    if (a !== b) return a < b ? -1 : 1
    if (a > 0xffff) i++
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1
}

/**
 * Orders two values of a column of type `typeOid` as the filters compare them (numbers as numbers, booleans, text by
 * code point): negative, zero or positive; null when one is NULL.
 */
export const compareColumnValues = (typeOid: number, a: string | null, b: string | null): number | null => {
  const numeric = numericTypes.has(typeOid)
  return compareTyped({ value: a, typeOid, numeric }, { value: b, typeOid, numeric })
}

const holds = (op: CompareOp, d: number): boolean => {
  switch (op) {
    case "=":
      return d === 0
    case "<>":
      return d !== 0
    case "<":
      return d < 0
    case "<=":
      return d <= 0
    case ">":
      return d > 0
    case ">=":
      return d >= 0
  }
}

/**
 * Evaluates a filter on a row (`column(name)` gives a column's value, undefined for a column the table does not
 * have): true, false or null (unknown), with SQL's three-valued logic.
 */
export const evaluateRowFilter = (
  expr: RowFilterExpr,
  column: (name: string) => FilterColumn | undefined
): boolean | null => {
  const value = (e: RowFilterExpr): Typed => {
    if (e.kind === "literal") return { value: e.value, typeOid: undefined, numeric: e.numeric }
    if (e.kind === "column") {
      const c = column(e.name)
      if (c === undefined) throw new RowFilterUnsupported(`column "${e.name}" does not exist`)
      return { value: c.text, typeOid: c.typeOid, numeric: numericTypes.has(c.typeOid) }
    }
    if (e.kind === "cast") {
      // A cast changes how the value compares (text, number, boolean), not its text.
      const inner = value(e.operand)
      const text = typeof inner.value === "boolean" ? (inner.value ? "true" : "false") : inner.value
      return {
        value: e.typeOid === BOOL ? inner.value : text,
        typeOid: e.typeOid,
        numeric: numericTypes.has(e.typeOid)
      }
    }
    const b = truth(e)
    return { value: b, typeOid: BOOL, numeric: false }
  }
  const truth = (e: RowFilterExpr): boolean | null => {
    switch (e.kind) {
      case "compare": {
        const d = compareTyped(value(e.left), value(e.right))
        return d === null ? null : holds(e.op, d)
      }
      case "isNull": {
        const isNull = value(e.operand).value === null
        return e.negate ? !isNull : isNull
      }
      case "in": {
        const left = value(e.operand)
        let unknown = false
        for (const item of e.list) {
          const d = compareTyped(left, value(item))
          if (d === 0) return !e.negate
          if (d === null) unknown = true
        }
        return unknown ? null : e.negate
      }
      case "quantified": {
        // ANY: true if one comparison is; ALL: false if one is; otherwise unknown if one is, as SQL says.
        const left = value(e.operand)
        let unknown = false
        for (const item of e.list) {
          const d = compareTyped(left, value(item))
          const r = d === null ? null : holds(e.op, d)
          if (r === !e.all) return r
          if (r === null) unknown = true
        }
        return unknown ? null : e.all
      }
      case "and": {
        const l = truth(e.left)
        const r = truth(e.right)
        if (l === false || r === false) return false
        return l === null || r === null ? null : true
      }
      case "or": {
        const l = truth(e.left)
        const r = truth(e.right)
        if (l === true || r === true) return true
        return l === null || r === null ? null : false
      }
      case "not": {
        const v = truth(e.operand)
        return v === null ? null : !v
      }
      case "literal":
      case "column":
      case "cast": {
        const v = value(e).value
        if (v === null) return null
        return typeof v === "boolean" ? v : /^(t|true)$/i.test(v)
      }
    }
  }
  return truth(expr)
}

/** The columns a filter reads (PostgreSQL checks them against the replica identity before an UPDATE or DELETE). */
export const filterColumns = (expr: RowFilterExpr): Set<string> => {
  const out = new Set<string>()
  const visit = (e: RowFilterExpr): void => {
    switch (e.kind) {
      case "column":
        out.add(e.name)
        return
      case "literal":
        return
      case "compare":
      case "and":
      case "or":
        visit(e.left)
        visit(e.right)
        return
      case "isNull":
      case "not":
      case "cast":
        visit(e.operand)
        return
      case "in":
      case "quantified":
        visit(e.operand)
        for (const item of e.list) visit(item)
        return
    }
  }
  visit(expr)
  return out
}
