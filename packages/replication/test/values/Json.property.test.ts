// Json.parse takes plain JSON.parse when a scan proves it exact: it must equal the reviver path on every input.
import fc from "fast-check"
import { assert, describe, expect, it } from "vitest"
import { Json } from "../../src/values/index.ts"

const digits = (chars: ReadonlyArray<string>, min: number, max: number) =>
  fc.array(fc.constantFrom(...chars), { minLength: min, maxLength: max }).map((a) => a.join(""))

/** Number literals that stress the rule: long mantissas, runs of zeros, big integers, exponents, extremes. */
const numberLiteral: fc.Arbitrary<string> = fc.oneof(
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.integer({ min: -(2 ** 53) - 5, max: 2 ** 53 + 5 }).map(String),
  fc
    .tuple(
      fc.constantFrom("", "-"),
      fc.oneof(fc.constant("0"), fc.tuple(fc.integer({ min: 1, max: 9 }), digits(["0", "1", "9"], 0, 20))),
      digits(["0", "0", "0", "1", "5", "9"], 1, 40)
    )
    .map(([s, i, f]) => `${s}${Array.isArray(i) ? i.join("") : i}.${f}`),
  fc
    .tuple(fc.constantFrom("", "-"), fc.integer({ min: 280, max: 330 }), fc.constantFrom("1", "15", "0"))
    .map(([s, zeros, tail]) => `${s}0.${"0".repeat(zeros)}${tail}`),
  fc
    .tuple(
      fc.constantFrom("", "-"),
      fc.integer({ min: 0, max: 99 }),
      digits(["0", "3"], 0, 5),
      fc.constantFrom("e", "E"),
      fc.constantFrom("", "+", "-"),
      fc.integer({ min: 0, max: 400 })
    )
    .map(([s, i, f, e, es, x]) => `${s}${i}${f === "" ? "" : `.${f}`}${e}${es}${x}`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d))
)

/** Strings that look like numbers (digit runs, dots, exponents, escapes) so the scan sees them inside strings. */
const stringLiteral: fc.Arbitrary<string> = fc
  .oneof(
    fc.string(),
    digits(["0", "1", "9", ".", "e", "-", '"', "\\", "a"], 0, 40),
    fc.constantFrom("__proto__", "constructor", "12345678901234567890", "1.2.3.4.5.6.7.8.9", "0.1e5")
  )
  .map((s) => JSON.stringify(s))

const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    numberLiteral,
    stringLiteral,
    fc.constantFrom("null", "true", "false"),
    fc.array(tie("value"), { maxLength: 5 }).map((a) => `[${a.join(", ")}]`),
    fc
      .array(fc.tuple(stringLiteral, tie("value")), { maxLength: 5 })
      .map((kv) => `{${kv.map(([k, v]) => `${k}: ${v}`).join(",")}}`)
  )
})).value

/**
 * A comparable picture of a parsed value: exact number kinds (-0, bigint, JsonDecimal), own keys in order, and the
 * prototype of every object (a key named "constructor" would fool a structural equality check).
 */
type Canon = string | ReadonlyArray<Canon>
const canon = (v: unknown): Canon => {
  if (v === null) return "null"
  if (typeof v === "number") return `number:${Object.is(v, -0) ? "-0" : String(v)}`
  if (typeof v === "bigint") return `bigint:${v}`
  if (typeof v === "string" || typeof v === "boolean") return `${typeof v}:${String(v)}`
  if (Array.isArray(v)) return ["array", ...v.map(canon)]
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v) === Object.prototype ? "object" : "other-prototype"
    return [proto, ...Object.entries(v).map(([k, x]): Canon => [k, canon(x)])]
  }
  return `unexpected:${typeof v}`
}

const outcome = (f: () => Json.Json): { readonly ok: Canon } | { readonly error: string } => {
  try {
    const j = f()
    return { ok: [j._tag, j.text, canon(j.value)] }
  } catch (e) {
    return { error: e instanceof SyntaxError ? "SyntaxError" : String(e) }
  }
}

describe("Json.parse fast path", () => {
  it("equals the reviver path on generated JSON (numbers of every shape, digit runs in strings)", () => {
    fc.assert(
      fc.property(jsonText, (text) => {
        expect(outcome(() => Json.parse(text))).toStrictEqual(outcome(() => Json.parseWithReviver(text)))
      }),
      { numRuns: 3000 }
    )
  })

  it("equals the reviver path on single literals, including -0 and invalid JSON", () => {
    fc.assert(
      fc.property(fc.oneof(numberLiteral, fc.string(), digits(["0", "1", ".", "e", "-", "+"], 0, 30)), (text) => {
        const fast = outcome(() => Json.parse(text))
        const slow = outcome(() => Json.parseWithReviver(text))
        expect(fast).toStrictEqual(slow)
      }),
      { numRuns: 3000 }
    )
  })

  it("takes the plain path for typical documents, not for risky numbers", () => {
    assert.isTrue(
      Json.isPlainParseExact(
        '{"id": 1, "tags": ["red", "green"], "score": 0.10000000000000000000, "nested": {"ok": false, "label": "item 1"}}'
      )
    )
    assert.isTrue(Json.isPlainParseExact('{"a": 123456789012345, "b": -0.000123456789012345}'))
    assert.isFalse(Json.isPlainParseExact('{"a": 1234567890123456}'))
    assert.isFalse(Json.isPlainParseExact('{"a": 0.1234567890123456}'))
    assert.isFalse(Json.isPlainParseExact("[1e5]"))
    assert.isFalse(Json.isPlainParseExact(`[0.${"0".repeat(320)}1]`))
    assert.isTrue(Object.is(Json.parse("-0").value, -0))
    assert.deepStrictEqual(Json.parse('{"__proto__": 1}').value, JSON.parse('{"__proto__": 1}'))
    assert.isTrue(Object.hasOwn(Json.parse('{"__proto__": 1}').value as object, "__proto__"))
  })
})
