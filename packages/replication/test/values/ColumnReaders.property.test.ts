// The column readers (straight from bytes) must give exactly what decodeText gives on the same text, or throw where
// it throws: arrays through their byte-level reader (every shape, including the ones it leaves to decodeText), bool,
// and every built-in type and array type, so a type added to decodeText without a column reader cannot go unnoticed.
process.env.TZ = "America/St_Johns"

import { Reader } from "@pgcdc/protocol"
import fc from "fast-check"
import { assert, describe, expect, it } from "vitest"
import { columnReaderFor } from "../../src/internal/values/ColumnReaders.ts"
import { arrayElementOid, builtinTypes, decodeText, TypeOid, type TypeResolver } from "../../src/values/index.ts"

const outcome = (f: () => unknown): { readonly ok: unknown } | { readonly error: true } => {
  try {
    return { ok: f() }
  } catch {
    return { error: true }
  }
}

/** The reader's result on `bytes` placed inside a larger buffer, or an error; and the text decodeText sees. */
const compare = (typeOid: number, bytes: Uint8Array, types: TypeResolver = builtinTypes): void => {
  const whole = new Uint8Array(bytes.length + 4)
  whole.set([0x7b, 0x22], 0)
  whole.set(bytes, 2)
  whole.set([0x2c, 0x7d], 2 + bytes.length)
  let text: string | undefined
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes)
  } catch {
    text = undefined
  }
  const r = new Reader(whole, "Test", 2, 2 + bytes.length)
  const fast = outcome(() => columnReaderFor(typeOid, types)(r, bytes.length))
  const slow = text === undefined ? { error: true as const } : outcome(() => decodeText(typeOid, text, types))
  if ("ok" in slow) {
    expect(fast).toStrictEqual(slow)
    assert.strictEqual(r.pos, 2 + bytes.length)
  } else assert.isTrue("error" in fast, `${typeOid} ${JSON.stringify(text)}: ${JSON.stringify(fast)}`)
}

const encode = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Element texts of every kind the array text may hold, valid for the element type or not. */
const elementText = fc.oneof(
  fc.constantFrom("1", "-7", "0.5", "t", "f", "NULL", "null", "NuLl", "NULLS", "", " ", "abc", "dark blue", "b,c"),
  fc.constantFrom("é", "日本", "2026-01-01 00:00:01.5+00", '{"a": 1}', "(1,2),(3,4)", "x;y", "a\\b", 'q"q'),
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "grapheme", maxLength: 6 })
)

/** How an element is written: bare, quoted, quoted with escapes, or with surrounding spaces. */
const written = fc.tuple(elementText, fc.constantFrom("bare", "quoted", "escaped", "spaced")).map(([e, how]) => {
  switch (how) {
    case "bare":
      return e
    case "quoted":
      return `"${e}"`
    case "escaped":
      return `"${e.replace(/[\\"]/g, (c) => `\\${c}`)}"`
    default:
      return ` ${e} `
  }
})

const arrayText = fc.oneof(
  { arbitrary: fc.array(written, { maxLength: 5 }).map((es) => `{${es.join(",")}}`), weight: 6 },
  { arbitrary: fc.array(written, { maxLength: 5 }).map((es) => `{${es.join(";")}}`), weight: 1 },
  {
    arbitrary: fc.constantFrom(
      "{}",
      "{",
      "}",
      "{{1,2},{3,4}}",
      "[0:1]={3,4}",
      "[1:1]={a}",
      '{"a"b}',
      '{"a}',
      "{a,}",
      "{,a}",
      "{a}}",
      "{{a}",
      ' {"a"}',
      "{NULL,NULL}",
      '{"NULL"}'
    ),
    weight: 1
  },
  { arbitrary: fc.string({ maxLength: 12 }).map((s) => `{${s}}`), weight: 1 }
)

/** Array types of several element kinds, `box[]` (delimiter `;`) among them, and a user array type. */
const arrayTypes = [1009, 1015, 1007, 1016, 1005, 1231, 1000, 1185, 3807, 199, 1020, 1041, 2951, 1001, 90001]
const withUserArray: TypeResolver = {
  elementOf: (oid) => (oid === 90001 ? 0 : builtinTypes.elementOf(oid))
}

describe("column readers", () => {
  it("an array's reader equals decodeText on generated array texts, valid and malformed", () => {
    fc.assert(
      fc.property(fc.constantFrom(...arrayTypes), arrayText, (typeOid, text) =>
        compare(typeOid, encode(text), withUserArray)
      ),
      { numRuns: 6000 }
    )
  })

  it("an array's reader rejects invalid UTF-8 in any element as decodeText's caller does", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...arrayTypes),
        fc.array(fc.constantFrom("ab", '"a b"', "NULL", "12"), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.constantFrom(0x80, 0xc3, 0xff),
        (typeOid, elements, at, byte) => {
          const bytes = encode(`{${elements.join(",")}}`)
          bytes[1 + (at % (bytes.length - 2))] = byte
          compare(typeOid, bytes, withUserArray)
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("bool reads t and f from the byte and leaves anything else to decodeText", () => {
    for (const text of ["t", "f", "", "x", "tt", "true", "T"]) compare(TypeOid.bool, encode(text))
  })

  it("every built-in type and array type equals decodeText on sample texts", () => {
    const samples = ["1", "-1", "t", "abc", "", "2026-01-01", "12:00:00", "{1,2}", '{"a","b c"}', "{}", "1 day", "é"]
    const oids = [...Object.values(TypeOid), ...arrayElementOid.keys(), 0, 90001]
    for (const typeOid of oids) for (const text of samples) compare(typeOid, encode(text), withUserArray)
  })
})
