// Text column values: the ASCII fast path must give exactly what strict UTF-8 decoding gives, and invalid UTF-8
// must fail as InvalidUtf8 at the value, whatever the length.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { readTextValue } from "../src/pgoutput/TupleData.ts"
import { Reader } from "../src/Reader.ts"

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const bytesOf = fc.oneof(
  fc.uint8Array({ maxLength: 48 }),
  fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => new TextEncoder().encode(s)),
  fc.array(fc.integer({ min: 0x20, max: 0x7f }), { maxLength: 48 }).map((a) => Uint8Array.from(a)),
  fc
    .tuple(
      fc.array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 40 }),
      fc.nat(),
      fc.constantFrom(0x80, 0xc3, 0xff)
    )
    .map(([a, at, b]) => {
      const out = Uint8Array.from(a)
      if (out.length > 0) out[at % out.length] = b
      return out
    })
)

describe("readTextValue", () => {
  it("equals strict UTF-8 decoding of any bytes of any length, inside a larger buffer", () => {
    fc.assert(
      fc.property(bytesOf, fc.boolean(), (value, asBuffer) => {
        const whole = new Uint8Array(value.length + 6)
        whole.set([0x41, 0x42, 0x43], 0)
        whole.set(value, 3)
        whole.set([0xff, 0x44, 0x45], 3 + value.length)
        const input = asBuffer ? Buffer.from(whole) : whole
        const r = new Reader(input, "Insert", 0, input.length)
        r.pos = 3
        let expected: string | undefined
        try {
          expected = strict.decode(value)
        } catch {
          expected = undefined
        }
        if (expected === undefined) {
          expect(() => readTextValue(r, value.length)).toThrowError(/InvalidUtf8 in Insert.columnValue/)
          expect(r.pos).toBe(3)
        } else {
          expect(readTextValue(r, value.length)).toBe(expected)
          expect(r.pos).toBe(3 + value.length)
        }
      }),
      { numRuns: 4000 }
    )
  })
})
