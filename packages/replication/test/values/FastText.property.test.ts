// The character-code fast paths must equal the general parsers on every input, valid or not.
process.env.TZ = "America/St_Johns"

import fc from "fast-check"
import { assert, describe, expect, it } from "vitest"
import {
  dateDays,
  smallInteger,
  timeMicros,
  timestampMicros,
  timestampMicrosAt
} from "../../src/internal/values/FastText.ts"
import {
  general,
  parseDate,
  parseTime,
  parseTimestamp,
  parseTimestampTz
} from "../../src/internal/values/TextParsers.ts"
import { decodeText, TypeOid, ValueError } from "../../src/values/index.ts"

const generalParse = general.parseTimestamp
const generalParseTz = general.parseTimestampTz

const pad = (n: number, width: number): string => String(n).padStart(width, "0")
const num = (min: number, max: number, width: number) => fc.integer({ min, max }).map((n) => pad(n, width))

/** A digit string of 0 to 7 digits after a point, or nothing. */
const fraction = fc.oneof(
  fc.constant(""),
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 0, maxLength: 7 }).map((d) => `.${d.join("")}`)
)
const offset = fc.oneof(
  fc.constant(""),
  fc
    .tuple(
      fc.constantFrom("+", "-", " ", "Z"),
      num(0, 16, 2),
      fc.constantFrom("", ":00", ":30", ":45", ":5", ":99"),
      fc.constantFrom("", "", ":00", ":17", ":60")
    )
    .map((p) => p.join(""))
)
const yearText = fc.oneof(num(0, 9999, 4), num(1900, 2100, 4), num(10000, 300000, 5), num(0, 99, 2))
const dateText = fc
  .tuple(yearText, num(0, 13, 2), num(0, 32, 2), fc.constantFrom("", "", " BC"))
  .map(([y, m, d, bc]) => `${y}-${m}-${d}${bc}`)
const clockText = fc
  .tuple(num(0, 25, 2), num(0, 60, 2), num(0, 60, 2), fraction)
  .map(([h, m, s, f]) => `${h}:${m}:${s}${f}`)
const timestampText = fc
  .tuple(dateText, fc.constantFrom(" ", "T"), clockText, offset, fc.constantFrom("", "", " BC"))
  .map(([d, sep, c, o, bc]) => `${d}${sep}${c}${o}${bc}`)

/** Also single-character corruptions, and a few fixed texts. */
const mutated = (base: fc.Arbitrary<string>) =>
  fc.oneof(
    base,
    fc
      .tuple(base, fc.nat(), fc.constantFrom("0", "9", "-", ":", ".", " ", "x", "+", "٣"))
      .map(([s, i, c]) => (s.length === 0 ? s : s.slice(0, i % s.length) + c + s.slice((i % s.length) + 1))),
    fc.constantFrom("infinity", "-infinity", "", "2024-02-29 24:00:00", "2023-02-29 00:00:00+00")
  )

describe("FastText fast paths equal the general parsers", () => {
  it("timestamptz", () => {
    fc.assert(
      fc.property(mutated(timestampText), (t) => {
        expect(parseTimestampTz(t)).toStrictEqual(general.parseTimestampTz(t))
      }),
      { numRuns: 5000 }
    )
  })

  it("timestamp", () => {
    fc.assert(
      fc.property(mutated(timestampText), (t) => {
        expect(parseTimestamp(t)).toStrictEqual(general.parseTimestamp(t))
      }),
      { numRuns: 5000 }
    )
  })

  it("timestamp and timestamptz from bytes (with digits and colons around the value, never read)", () => {
    fc.assert(
      fc.property(mutated(timestampText), fc.boolean(), fc.constantFrom("", "0", ":00", "9:"), (t, zoned, around) => {
        const bytes = new TextEncoder().encode(`${around}${t}${around}`)
        const from = new TextEncoder().encode(around).length
        const micros = timestampMicrosAt(bytes, from, bytes.length - from, zoned)
        if (micros !== undefined) {
          const general = zoned ? generalParseTz(t) : generalParse(t)
          assert.strictEqual(micros, general?.micros)
        }
      }),
      { numRuns: 5000 }
    )
    assert.strictEqual(
      timestampMicrosAt(new TextEncoder().encode("2026-01-01 00:00:01+00"), 0, 22, true),
      820_540_801_000_000n
    )
  })

  it("date and time", () => {
    fc.assert(
      fc.property(mutated(dateText), mutated(clockText), (d, c) => {
        expect(parseDate(d)).toStrictEqual(general.parseDate(d))
        expect(parseTime(c)).toStrictEqual(general.parseTime(c))
      }),
      { numRuns: 5000 }
    )
  })

  it("the fast paths handle the common shapes themselves", () => {
    assert.strictEqual(timestampMicros("2026-01-01 00:00:01+00", true), 820_540_801_000_000n)
    assert.strictEqual(timestampMicros("1999-12-31 23:59:59.999999-05:30", true), 19_799_999_999n)
    assert.strictEqual(timestampMicros("2000-01-01 00:00:00.5", false), 500_000n)
    assert.strictEqual(dateDays("2000-03-01"), 60)
    assert.strictEqual(timeMicros("00:00:01.25"), 1_250_000)
    // Left to the general parser: BC, 24:00:00, far years.
    assert.isUndefined(timestampMicros("0044-03-15 12:00:00 BC", false))
    assert.isUndefined(timeMicros("24:00:00"))
    assert.isUndefined(timestampMicros("2400-01-01 00:00:00+00", true))
  })

  it("smallInteger equals Number() of an integer text and refuses anything else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer().map(String),
          fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map(String),
          fc.constantFrom("-0", "007", "-", "", "+1", "1e3", " 1", "1.0", "٣"),
          fc.string({ maxLength: 6 })
        ),
        (s) => {
          const fast = smallInteger(s)
          if (fast !== undefined) {
            assert.isTrue(/^-?\d+$/.test(s))
            assert.isTrue(Object.is(fast, Number(s)))
          } else assert.isTrue(!/^-?\d+$/.test(s) || s.replace("-", "").length > 15)
        }
      ),
      { numRuns: 3000 }
    )
  })

  it("decodeText integers: fast and general paths agree on values and errors", () => {
    const reference = (oid: number, s: string): unknown => {
      if (!/^-?\d+$/.test(s)) return "error"
      if (oid === TypeOid.int8) {
        const n = BigInt(s)
        return n >= -(2n ** 63n) && n < 2n ** 63n ? n : "error"
      }
      const n = Number(s)
      const [min, max] = oid === TypeOid.int2 ? [-32768, 32767] : [-2147483648, 2147483647]
      return n >= min && n <= max ? n : "error"
    }
    const actual = (oid: number, s: string): unknown => {
      try {
        return decodeText(oid, s)
      } catch (e) {
        assert.instanceOf(e, ValueError)
        return "error"
      }
    }
    fc.assert(
      fc.property(
        fc.constantFrom(TypeOid.int2, TypeOid.int4, TypeOid.int8),
        fc.oneof(
          fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
          fc.integer({ min: -40000, max: 40000 }).map(String),
          fc.constantFrom("-0", "007", "", "-", "9223372036854775807", "-9223372036854775808", "1.5")
        ),
        (oid, s) => {
          const a = actual(oid, s)
          const r = reference(oid, s)
          assert.isTrue(Object.is(a, r) || a === r, `${oid} ${s}: ${String(a)} vs ${String(r)}`)
        }
      ),
      { numRuns: 3000 }
    )
  })
})
