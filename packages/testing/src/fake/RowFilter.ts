/**
 * Publication row filters (`CREATE PUBLICATION ... FOR TABLE t WHERE (...)`, PostgreSQL 15+) for the fake server: a
 * parser and an evaluator for the part of SQL's expression language that row filters use in practice. Columns and
 * constants (numbers, 'strings', TRUE, FALSE, NULL), the comparisons = <> != < <= > >=, IS [NOT] NULL, [NOT] IN
 * (...), AND, OR, NOT and parentheses, with SQL's three-valued logic: a row passes only when the filter is true.
 * It also reads what PostgreSQL prints for a stored filter (`pg_publication_tables.rowfilter`, see RowFilterText.ts),
 * which the fake's COPY evaluates for an initial snapshot: casts to the built-in number, text and boolean types
 * (`'skip'::text`, `(id)::numeric`) and `x = ANY (ARRAY[...])` / `x <> ALL (ARRAY[...])`.
 *
 * Values are compared by the column's type (or the type cast to): integers, numeric and floats as numbers, booleans
 * as booleans, anything else as text in code-point order (the C collation; a server with another collation may order
 * text differently). Anything else (functions, other casts, arithmetic, LIKE...) is refused when the publication is
 * created, with an error that says so, rather than evaluated wrongly. It deliberately knows nothing of publications
 * or changes.
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

type Token =
  | { readonly t: "num"; readonly v: string }
  | { readonly t: "str"; readonly v: string }
  | { readonly t: "id"; readonly v: string; readonly quoted: boolean }
  | { readonly t: "op"; readonly v: string }

const tokenize = (text: string): Array<Token> => {
  const out: Array<Token> = []
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (/\s/.test(c)) {
      i++
      continue
    }
    const rest = text.slice(i)
    // A minus sign belongs to a number only where a value starts (not after a value: that would be arithmetic).
    const last = out[out.length - 1]
    const valueStarts =
      last === undefined ||
      (last.t === "op" && last.v !== ")" && last.v !== "]") ||
      (last.t === "id" && !last.quoted && ["and", "or", "not"].includes(last.v))
    const num = (valueStarts ? /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/ : /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/).exec(
      rest
    )
    if (num !== null) {
      out.push({ t: "num", v: num[0] })
      i += num[0].length
      continue
    }
    if (c === "'" || c === '"') {
      let j = i + 1
      let v = ""
      for (;;) {
        if (j >= text.length) throw new RowFilterUnsupported(`unterminated ${c === "'" ? "string" : "identifier"}`)
        if (text[j] === c) {
          if (text[j + 1] === c) {
            v += c
            j += 2
            continue
          }
          break
        }
        v += text[j++]
      }
      out.push(c === "'" ? { t: "str", v } : { t: "id", v, quoted: true })
      i = j + 1
      continue
    }
    const word = /^[a-z_][a-z0-9_$]*/i.exec(rest)
    if (word !== null) {
      out.push({ t: "id", v: word[0].toLowerCase(), quoted: false })
      i += word[0].length
      continue
    }
    const op = /^(::|<>|!=|<=|>=|=|<|>|\(|\)|\[|\]|,)/.exec(rest)
    if (op === null) throw new RowFilterUnsupported(`"${c}" (only comparisons, IS NULL, IN, AND, OR and NOT)`)
    out.push({ t: "op", v: op[0] === "!=" ? "<>" : op[0] })
    i += op[0].length
  }
  return out
}

/** Parses a row filter (the text inside `WHERE (...)`); throws `RowFilterUnsupported`. */
export const parseRowFilter = (text: string): RowFilterExpr => {
  const tokens = tokenize(text)
  let pos = 0
  const peek = (): Token | undefined => tokens[pos]
  const isWord = (w: string, t = peek()) => t !== undefined && t.t === "id" && !t.quoted && t.v === w
  const isOp = (o: string, t = peek()) => t !== undefined && t.t === "op" && t.v === o
  const expectOp = (o: string) => {
    if (!isOp(o)) throw new RowFilterUnsupported(`expected "${o}" in the row filter`)
    pos++
  }
  const atom = (): RowFilterExpr => {
    const t = peek()
    if (t === undefined) throw new RowFilterUnsupported("the row filter ends too early")
    pos++
    if (t.t === "op" && t.v === "(") {
      const e = or()
      expectOp(")")
      return e
    }
    if (t.t === "num") return { kind: "literal", value: t.v, numeric: true }
    if (t.t === "str") return { kind: "literal", value: t.v, numeric: false }
    if (t.t === "id" && !t.quoted && (t.v === "true" || t.v === "false")) {
      return { kind: "literal", value: t.v === "true", numeric: false }
    }
    if (t.t === "id" && !t.quoted && t.v === "null") return { kind: "literal", value: null, numeric: false }
    if (t.t === "id") {
      if (isOp("(")) throw new RowFilterUnsupported(`the function ${t.v}()`)
      return { kind: "column", name: t.v }
    }
    throw new RowFilterUnsupported(`"${t.v}" where a column or a constant belongs`)
  }
  /** A type name after `::`: one word, or PostgreSQL's two-word spellings. */
  const typeName = (): number => {
    const first = peek()
    if (first === undefined || first.t !== "id") throw new RowFilterUnsupported("a type name expected after ::")
    pos++
    const second = peek()
    const two = second !== undefined && second.t === "id" ? `${first.v} ${second.v}` : undefined
    if (two !== undefined && castTypes.has(two)) {
      pos++
      return castTypes.get(two)!
    }
    const oid = castTypes.get(first.v)
    if (oid === undefined || isOp("[") || isOp("(")) throw new RowFilterUnsupported(`the cast to ${first.v}`)
    return oid
  }
  const primary = (): RowFilterExpr => {
    let e = atom()
    while (isOp("::")) {
      pos++
      e = { kind: "cast", operand: e, typeOid: typeName() }
    }
    return e
  }
  /** `(ARRAY[a, b, ...])` after ANY or ALL. */
  const arrayList = (): Array<RowFilterExpr> => {
    expectOp("(")
    if (!isWord("array")) throw new RowFilterUnsupported("ANY or ALL of anything but ARRAY[...]")
    pos++
    expectOp("[")
    const list = [primary()]
    while (isOp(",")) {
      pos++
      list.push(primary())
    }
    expectOp("]")
    expectOp(")")
    return list
  }
  const comparison = (): RowFilterExpr => {
    const left = primary()
    const t = peek()
    if (t !== undefined && t.t === "op" && ["=", "<>", "<", "<=", ">", ">="].includes(t.v)) {
      pos++
      if ((isWord("any") || isWord("all")) && isOp("(", tokens[pos + 1])) {
        const all = isWord("all")
        pos++
        return { kind: "quantified", op: t.v as CompareOp, all, operand: left, list: arrayList() }
      }
      return { kind: "compare", op: t.v as CompareOp, left, right: primary() }
    }
    if (isWord("is")) {
      pos++
      const negate = isWord("not")
      if (negate) pos++
      if (!isWord("null")) throw new RowFilterUnsupported("IS other than IS [NOT] NULL")
      pos++
      return { kind: "isNull", negate, operand: left }
    }
    const negate = isWord("not") && isWord("in", tokens[pos + 1])
    if (negate) pos++
    if (isWord("in")) {
      pos++
      expectOp("(")
      const list = [primary()]
      while (isOp(",")) {
        pos++
        list.push(primary())
      }
      expectOp(")")
      return { kind: "in", negate, operand: left, list }
    }
    return left
  }
  const not = (): RowFilterExpr => {
    if (isWord("not")) {
      pos++
      return { kind: "not", operand: not() }
    }
    return comparison()
  }
  const and = (): RowFilterExpr => {
    let e = not()
    while (isWord("and")) {
      pos++
      e = { kind: "and", left: e, right: not() }
    }
    return e
  }
  const or = (): RowFilterExpr => {
    let e = and()
    while (isWord("or")) {
      pos++
      e = { kind: "or", left: e, right: and() }
    }
    return e
  }
  const expr = or()
  if (pos < tokens.length) throw new RowFilterUnsupported(`"${tokens[pos]!.v}" after the end of the row filter`)
  return expr
}

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
