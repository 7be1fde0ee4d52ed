// Rows built by the generated per-relation constructor must equal rows built by assignment, for any column names
// (quotes, backslashes, line separators, lone surrogates, `__proto__`, integer-like names, duplicates).
import fc from "fast-check"
import { assert, describe, expect, it } from "vitest"
import { rowByAssignment, rowMaker } from "../../src/internal/values/RowMaker.ts"

const name = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.constantFrom(
    "__proto__",
    "constructor",
    "toString",
    "0",
    "1",
    "01",
    "-1",
    '"',
    "\\",
    "\u2028",
    "\u2029",
    "\ud800",
    `\`$\u007bx}\``,
    '"}); throw 1; ({"'
  )
)

const picture = (row: object) => ({
  prototype: Object.getPrototypeOf(row) === Object.prototype,
  own: Reflect.ownKeys(row).map((k) => [k, Object.getOwnPropertyDescriptor(row, k)])
})

describe("rowMaker", () => {
  it("equals assignment for any names and values", () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 8 }), (names) => {
        const values = names.map((_, i) => (i % 3 === 0 ? null : i % 3 === 1 ? BigInt(i) : `v${i}`))
        const fast = rowMaker(names)(values)
        const reference = rowByAssignment(names)(values)
        expect(picture(fast)).toStrictEqual(picture(reference))
      }),
      { numRuns: 2000 }
    )
  })

  it("keeps a column called __proto__ as an own property, never the prototype", () => {
    const row = rowMaker(["id", "__proto__"])([1n, "x"])
    assert.isTrue(Object.hasOwn(row, "__proto__"))
    assert.strictEqual(Object.getPrototypeOf(row), Object.prototype)
    assert.deepStrictEqual(Object.keys(row), ["id", "__proto__"])
  })
})
