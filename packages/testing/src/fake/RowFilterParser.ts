/**
 * Reads a publication row filter's text (what is inside `WHERE (...)`, or what PostgreSQL prints for a stored one)
 * into the expression RowFilter.ts evaluates: columns and constants (numbers, 'strings', TRUE, FALSE, NULL), the
 * comparisons = <> != < <= > >=, IS [NOT] NULL, [NOT] IN (...), AND, OR, NOT and parentheses, casts to the types of
 * `castTypes` (`'skip'::text`, `(id)::numeric`) and `x = ANY (ARRAY[...])` / `x <> ALL (ARRAY[...])`.
 *
 * Anything else (functions, other casts, arithmetic, LIKE...) is refused with `RowFilterUnsupported`, an error that
 * says so, when the publication is created, rather than evaluated wrongly. It does not evaluate filters.
 */
import { type CompareOp, castTypes, type RowFilterExpr, RowFilterUnsupported } from "./RowFilter.ts"

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
