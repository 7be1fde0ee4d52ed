// Property tests: every value survives text and binary round trips, and both formats decode to the same value.
process.env.TZ = "America/St_Johns"

import * as fc from "fast-check"
import { assert, describe, it } from "vitest"
import * as Calendar from "../../src/internal/values/Calendar.ts"
import {
  decodeBinary,
  decodeText,
  encodeBinary,
  encodeText,
  Json,
  Numeric,
  PgDate,
  PgInterval,
  PgTime,
  PgTimestamp,
  type PgValue,
  toNested,
  TypeOid
} from "../../src/values/index.ts"

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => Number.parseInt(x, 16))

const roundTrips = (typeOid: number, arb: fc.Arbitrary<PgValue>) =>
  fc.assert(
    fc.property(arb, (v) => {
      const text = encodeText(typeOid, v)
      const fromText = decodeText(typeOid, text)
      const fromBinary = decodeBinary(typeOid, encodeBinary(typeOid, v))
      assert.deepStrictEqual(fromText, v, `text ${JSON.stringify(text)}`)
      assert.deepStrictEqual(fromBinary, fromText)
      assert.strictEqual(encodeText(typeOid, fromText), text)
    }),
    { numRuns: 300 }
  )

const numericText = fc.oneof(
  fc.constantFrom("NaN", "Infinity", "-Infinity", "0", "0.000"),
  fc
    .tuple(fc.boolean(), fc.stringMatching(/^[1-9]\d{0,40}$|^0$/), fc.stringMatching(/^(\.\d{1,30})?$/))
    .map(([neg, int, frac]) => {
      const text = `${int}${frac}`
      return neg && /[1-9]/.test(text) ? `-${text}` : text
    })
)

const minDay = Calendar.daysFromCivil(-4712, 1, 1)
const maxDay = Calendar.daysFromCivil(5874897, 12, 31)
const day = fc.oneof(
  fc.integer({ min: minDay, max: maxDay }),
  fc.constantFrom(PgDate.DAYS_INFINITY, PgDate.DAYS_MINUS_INFINITY)
)
const micros = fc.oneof(
  fc.bigInt({
    min: BigInt(minDay) * 86_400_000_000n,
    max: BigInt(Calendar.daysFromCivil(294276, 12, 31)) * 86_400_000_000n
  }),
  fc.constantFrom(PgTimestamp.MICROS_INFINITY, PgTimestamp.MICROS_MINUS_INFINITY)
)
const clock = fc.integer({ min: 0, max: 86_400_000_000 })

describe("round trips (text, binary, text = binary)", () => {
  it("integers and bool", () => {
    roundTrips(TypeOid.int2, fc.integer({ min: -32768, max: 32767 }))
    roundTrips(TypeOid.int4, fc.integer({ min: -2147483648, max: 2147483647 }))
    roundTrips(TypeOid.int8, fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }))
    roundTrips(TypeOid.oid, fc.integer({ min: 0, max: 4294967295 }))
    roundTrips(TypeOid.bool, fc.boolean())
  })

  it("floats, including NaN, ±Infinity and -0", () => {
    roundTrips(TypeOid.float8, fc.double())
    roundTrips(TypeOid.float4, fc.float())
  })

  it("numeric", () => {
    roundTrips(TypeOid.numeric, numericText.map(Numeric.unsafeMake))
  })

  it("strings, uuid, bytea", () => {
    roundTrips(
      TypeOid.text,
      fc.string({ unit: "grapheme" }).filter((s) => !s.includes("\0"))
    )
    roundTrips(TypeOid.uuid, fc.uuid())
    roundTrips(TypeOid.bytea, fc.uint8Array({ maxLength: 64 }))
  })

  it("json and jsonb, with integers beyond 2^53", () => {
    const big = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((n) => `{"n": ${n}, "a": [${n}, null]}`)
    const any = fc.json()
    roundTrips(TypeOid.json, fc.oneof(big, any).map(Json.parse))
    roundTrips(TypeOid.jsonb, fc.oneof(big, any).map(Json.parse))
  })

  it("date, time, timetz, timestamp, timestamptz, interval", () => {
    roundTrips(TypeOid.date, day.map(PgDate.make))
    roundTrips(TypeOid.time, clock.map(PgTime.make))
    roundTrips(
      TypeOid.timetz,
      fc.tuple(clock, fc.integer({ min: -57599, max: 57599 })).map(([m, o]) => PgTime.makeTz(m, o))
    )
    roundTrips(TypeOid.timestamp, micros.map(PgTimestamp.make))
    roundTrips(TypeOid.timestamptz, micros.map(PgTimestamp.makeTz))
    roundTrips(
      TypeOid.interval,
      fc.oneof(
        fc
          .tuple(
            fc.integer({ min: -2147483648, max: 2147483647 }),
            fc.integer({ min: -2147483648, max: 2147483647 }),
            fc.bigInt({ min: -(2n ** 63n) + 1n, max: 2n ** 63n - 2n })
          )
          .map(([mo, d, us]) => PgInterval.make(mo, d, us)),
        fc.constantFrom(PgInterval.infinity, PgInterval.minusInfinity)
      )
    )
  })

  it("arrays of any dimension with NULLs and lower bounds", () => {
    const shape = fc.array(
      fc.record({ length: fc.integer({ min: 1, max: 3 }), lowerBound: fc.integer({ min: -5, max: 5 }) }),
      { minLength: 1, maxLength: 3 }
    )
    const arrayOf = (element: fc.Arbitrary<PgValue>) =>
      shape.chain((dimensions) => {
        const n = dimensions.reduce((a, d) => a * d.length, 1)
        return fc
          .array(fc.option(element, { nil: null }), { minLength: n, maxLength: n })
          .map((elements): PgValue => ({ _tag: "PgArray", dimensions, elements }))
      })
    roundTrips(1007, arrayOf(fc.integer({ min: -2147483648, max: 2147483647 })))
    roundTrips(1009, arrayOf(fc.string({ unit: "grapheme" }).filter((s) => !s.includes("\0"))))
    roundTrips(1185, arrayOf(micros.map(PgTimestamp.makeTz)))
    roundTrips(1231, arrayOf(numericText.map(Numeric.unsafeMake)))
    roundTrips(1009, fc.constant({ _tag: "PgArray", dimensions: [], elements: [] }))
  })
})

describe("binary layouts (as PostgreSQL's send functions write them)", () => {
  it("numeric: base-10000 groups, weight, sign, display scale", () => {
    // 12.340: ndigits 2, weight 0, sign +, dscale 3, digits 12, 3400
    assert.deepStrictEqual(decodeBinary(TypeOid.numeric, hex("0002000000000003000c0d48")), Numeric.unsafeMake("12.340"))
    // -0.00012: ndigits 2, weight -1, sign -, dscale 5, digits 1, 2000
    assert.deepStrictEqual(
      decodeBinary(TypeOid.numeric, hex("0002ffff40000005000107d0")),
      Numeric.unsafeMake("-0.00012")
    )
    // 100000000: ndigits 1, weight 2, digits 1
    assert.deepStrictEqual(
      decodeBinary(TypeOid.numeric, hex("0001000200000000" + "0001")),
      Numeric.unsafeMake("100000000")
    )
    assert.deepStrictEqual(decodeBinary(TypeOid.numeric, hex("00000000c0000000")), Numeric.unsafeMake("NaN"))
    assert.deepStrictEqual(decodeBinary(TypeOid.numeric, hex("00000000d0000000")), Numeric.unsafeMake("Infinity"))
    assert.deepStrictEqual(decodeBinary(TypeOid.numeric, hex("00000000f0000000")), Numeric.unsafeMake("-Infinity"))
  })

  it("timetz stores seconds west; arrays carry dims and lower bounds", () => {
    assert.deepStrictEqual(
      decodeBinary(TypeOid.timetz, hex("0000000000000000" + "ffffb9b0")),
      PgTime.makeTz(0, 18000) // zone -18000 (west) is +05:00
    )
    // int4[] [0:1]={7,NULL}
    const array = decodeBinary(
      1007,
      hex("00000001" + "00000001" + "00000017" + "00000002" + "00000000" + "00000004" + "00000007" + "ffffffff")
    )
    assert.deepStrictEqual(array, { _tag: "PgArray", dimensions: [{ length: 2, lowerBound: 0 }], elements: [7, null] })
    assert.deepStrictEqual(
      toNested({
        _tag: "PgArray",
        dimensions: [
          { length: 2, lowerBound: 1 },
          { length: 2, lowerBound: 1 }
        ],
        elements: [1, 2, 3, null]
      }),
      [
        [1, 2],
        [3, null]
      ]
    )
  })

  it("copies bytea and unknown types instead of keeping a view", () => {
    const input = Uint8Array.of(1, 2, 3)
    const bytea = decodeBinary(TypeOid.bytea, input) as Uint8Array
    const unknown = decodeBinary(99999, input) as Uint8Array
    input[0] = 9
    assert.deepStrictEqual(bytea, Uint8Array.of(1, 2, 3))
    assert.deepStrictEqual(unknown, Uint8Array.of(1, 2, 3))
  })

  it("rejects wrong lengths, bad jsonb versions, truncated arrays and trailing bytes", () => {
    assert.throws(() => decodeBinary(TypeOid.int4, hex("000001")), /expected 4 byte/)
    assert.throws(() => decodeBinary(TypeOid.jsonb, hex("027b7d")), /jsonb version 2/)
    assert.throws(() => decodeBinary(TypeOid.numeric, hex("0002000000000003000c")), /digit/)
    assert.throws(() => decodeBinary(TypeOid.bool, hex("02")), /boolean byte/)
    assert.throws(
      () => decodeBinary(1007, hex("00000001000000000000001700000002000000010000000400000007")),
      /truncated/
    )
    assert.throws(() => decodeBinary(1007, hex("0000000000000000000000170000")), /trailing/)
    assert.throws(() => decodeBinary(1007, hex("00000007000000000000001700000002")), /7 dimensions/)
    assert.throws(() => decodeBinary(TypeOid.text, hex("ff")), /UTF-8/)
  })

  it("never throws anything but ValueError on arbitrary bytes", () => {
    const oids = [16, 20, 21, 23, 700, 701, 1700, 2950, 114, 3802, 1082, 1083, 1266, 1114, 1184, 1186, 1007, 1009, 1231]
    fc.assert(
      fc.property(fc.constantFrom(...oids), fc.uint8Array({ maxLength: 40 }), (oid, bytes) => {
        try {
          decodeBinary(oid, bytes)
        } catch (e) {
          assert.strictEqual((e as { _tag?: string })._tag, "ValueError")
        }
      }),
      { numRuns: 2000 }
    )
  })
})
