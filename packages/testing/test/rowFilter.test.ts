/**
 * The fake server's row filter language (src/fake/RowFilterParser.ts, RowFilter.ts): what it parses, how it
 * evaluates with SQL's three-valued logic and the columns' types, and what it refuses. How filters combine across
 * publications and turn updates into inserts and deletes is compared with PostgreSQL 18 by the conformance suite.
 */
import { describe, expect, it } from "vitest"
import { evaluateRowFilter, RowFilterUnsupported } from "../src/fake/RowFilter.ts"
import { parseRowFilter } from "../src/fake/RowFilterParser.ts"
import { rowFilterText } from "../src/fake/RowFilterText.ts"

const INT4 = 23
const INT8 = 20
const TEXT = 25
const BOOL = 16
const NUMERIC = 1700

const row: Record<string, { text: string | null; typeOid: number }> = {
  id: { text: "7", typeOid: INT4 },
  big: { text: "9007199254740993", typeOid: INT8 },
  price: { text: "10.50", typeOid: NUMERIC },
  name: { text: "Zoë", typeOid: TEXT },
  code: { text: "9", typeOid: TEXT },
  done: { text: "t", typeOid: BOOL },
  gone: { text: null, typeOid: TEXT }
}
const evaluate = (text: string) => evaluateRowFilter(parseRowFilter(text), (name) => row[name])

describe("row filters of the fake server", () => {
  it("compares by the column's type: numbers as numbers, text in code-point order, booleans", () => {
    expect(evaluate("id > 10")).toBe(false)
    expect(evaluate("id >= 7 AND id <= 7")).toBe(true)
    // As numbers 7 < 10; as text "9" > "10": the column's type decides.
    expect(evaluate("code > '10'")).toBe(true)
    expect(evaluate("big = 9007199254740993")).toBe(true)
    expect(evaluate("big > 9007199254740992")).toBe(true)
    expect(evaluate("price = 10.5")).toBe(true)
    expect(evaluate("price < -1")).toBe(false)
    expect(evaluate("name = 'Zoë' AND name <> 'zoë'")).toBe(true)
    expect(evaluate("done")).toBe(true)
    expect(evaluate("done = false")).toBe(false)
    expect(evaluate(`"id" != 8`)).toBe(true)
  })

  it("follows SQL's three-valued logic: NULL compares to unknown, which AND, OR, NOT and IN carry", () => {
    expect(evaluate("gone = 'x'")).toBeNull()
    expect(evaluate("NOT (gone = 'x')")).toBeNull()
    expect(evaluate("gone = 'x' AND id = 8")).toBe(false)
    expect(evaluate("gone = 'x' OR id = 7")).toBe(true)
    expect(evaluate("gone = 'x' OR id = 8")).toBeNull()
    expect(evaluate("gone IS NULL AND id IS NOT NULL")).toBe(true)
    expect(evaluate("id IN (1, 7)")).toBe(true)
    expect(evaluate("id NOT IN (1, 2)")).toBe(true)
    expect(evaluate("id IN (1, NULL)")).toBeNull()
    expect(evaluate("id NOT IN (7, NULL)")).toBe(false)
    expect(evaluate("NOT id > 10 AND (name = 'a' OR done)")).toBe(true)
  })

  it("reads what PostgreSQL prints for a stored filter: casts, = ANY (ARRAY[...]), <> ALL (ARRAY[...])", () => {
    // As text "7" > "10"; as numbers 9 < 10: the cast decides how values compare.
    expect(evaluate("((id)::text > '10'::text)")).toBe(true)
    expect(evaluate("((code)::integer > 10)")).toBe(false)
    expect(evaluate("(price > (10)::numeric)")).toBe(true)
    expect(evaluate("(big = '9007199254740993'::bigint)")).toBe(true)
    expect(evaluate("(id = ANY (ARRAY[1, 7]))")).toBe(true)
    expect(evaluate("(id <> ALL (ARRAY[1, '-7'::integer]))")).toBe(true)
    expect(evaluate("(id = ANY (ARRAY[1, NULL::integer]))")).toBeNull()
    expect(evaluate("(id <> ALL (ARRAY[7, NULL::integer]))")).toBe(false)
    expect(evaluate("(done = NULL::boolean)")).toBeNull()
  })

  it("prints a filter as PostgreSQL's pg_get_expr does (the text seen on 15 to 18)", () => {
    const types: Record<string, number> = { id: 23, v: 25, n: 20, b: 16, nu: 1700, vc: 1043, f: 701 }
    const text = (filter: string) => rowFilterText(parseRowFilter(filter), (name) => types[name])
    expect(text("w <> 'x'")).toBe("(w <> 'x'::text)")
    expect(text("b")).toBe("b")
    expect(
      text(
        "n > 100 AND v <> 'skip' AND vc = 'a' AND nu > 5 AND f < 1.5 AND b AND id IN (1, 2, -3) AND v NOT IN ('a', 'b') AND n IS NOT NULL AND NOT (id = -5) AND n > 9007199254740993 AND id > 7.5 AND n < -1.5 AND b = NULL OR v = NULL OR (b IS NULL)"
      )
    ).toBe(
      "(((n > 100) AND (v <> 'skip'::text) AND ((vc)::text = 'a'::text) AND (nu > (5)::numeric) AND (f < (1.5)::double precision) AND b AND (id = ANY (ARRAY[1, 2, '-3'::integer])) AND (v <> ALL (ARRAY['a'::text, 'b'::text])) AND (n IS NOT NULL) AND (NOT (id = '-5'::integer)) AND (n > '9007199254740993'::bigint) AND ((id)::numeric > 7.5) AND ((n)::numeric < '-1.5'::numeric) AND (b = NULL::boolean)) OR (v = NULL::text) OR (b IS NULL))"
    )
    // What it prints, it reads back to the same filter.
    const filter = "id IN (1, 7) AND v NOT IN ('a', NULL) AND nu > 5"
    expect(text(rowFilterText(parseRowFilter(filter), (name) => types[name]))).toBe(text(filter))
  })

  it("refuses what it cannot evaluate instead of guessing, naming it", () => {
    for (const [text, named] of [
      ["lower(name) = 'zoë'", "lower()"],
      ["id + 1 > 2", '"+"'],
      ["name LIKE 'Z%'", '"like"'],
      ["id::date = '2026-01-01'", "the cast to date"],
      ["id >", "ends too early"],
      ["(id > 1", 'expected ")"'],
      ["name = 'open", "unterminated string"]
    ] as const) {
      expect(() => parseRowFilter(text), text).toThrow(RowFilterUnsupported)
      expect(() => parseRowFilter(text), text).toThrow(named)
    }
    expect(() => evaluate("nosuch = 1")).toThrow('column "nosuch" does not exist')
  })
})
