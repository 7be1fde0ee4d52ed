// The decoders must never read the process's time zone: run everything in a zone with a half-hour offset and DST.
process.env.TZ = "America/St_Johns"

import { Option } from "effect"
import { assert, describe, it } from "vitest"
import {
  decodeBinary,
  decodeText,
  Json,
  Numeric,
  PgDate,
  PgTimestamp,
  TypeOid,
  ValueError
} from "../../src/values/index.ts"

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => Number.parseInt(x, 16))

const throwsValueError = (f: () => unknown): ValueError => {
  try {
    f()
  } catch (e) {
    assert.instanceOf(e, ValueError)
    return e as ValueError
  }
  return assert.fail("expected a ValueError")
}

describe("decodeText", () => {
  it("runs in a non-UTC zone", () => {
    assert.strictEqual(new Date(0).getTimezoneOffset(), 210)
  })

  it("integers: int2/int4 as number, int8 as exact bigint, ranges checked", () => {
    assert.strictEqual(decodeText(TypeOid.int2, "-32768"), -32768)
    assert.strictEqual(decodeText(TypeOid.int4, "2147483647"), 2147483647)
    assert.strictEqual(decodeText(TypeOid.int8, "9223372036854775807"), 9223372036854775807n)
    assert.strictEqual(decodeText(TypeOid.int8, "-9223372036854775808"), -9223372036854775808n)
    throwsValueError(() => decodeText(TypeOid.int2, "32768"))
    throwsValueError(() => decodeText(TypeOid.int8, "9223372036854775808"))
    const e = throwsValueError(() => decodeText(TypeOid.int4, "12a"))
    assert.strictEqual(e.typeOid, TypeOid.int4)
    assert.include(e.message, "is not an int4")
  })

  it("floats keep NaN, ±Infinity and -0; float4 equals its binary value", () => {
    assert.isNaN(decodeText(TypeOid.float8, "NaN") as number)
    assert.strictEqual(decodeText(TypeOid.float8, "Infinity"), Number.POSITIVE_INFINITY)
    assert.strictEqual(decodeText(TypeOid.float8, "-Infinity"), Number.NEGATIVE_INFINITY)
    assert.isTrue(Object.is(decodeText(TypeOid.float8, "-0"), -0))
    assert.strictEqual(decodeText(TypeOid.float8, "1.7976931348623157e+308"), Number.MAX_VALUE)
    assert.strictEqual(decodeText(TypeOid.float4, "1.1"), decodeBinary(TypeOid.float4, hex("3f8ccccd")))
    throwsValueError(() => decodeText(TypeOid.float8, "1.2.3"))
  })

  it("numeric is exact text, NaN and infinities kept", () => {
    assert.deepStrictEqual(decodeText(TypeOid.numeric, "123456789012345678901234567890.000000000000000000001"), {
      _tag: "Numeric",
      value: "123456789012345678901234567890.000000000000000000001"
    })
    assert.deepStrictEqual(decodeText(TypeOid.numeric, "NaN"), Numeric.unsafeMake("NaN"))
    assert.deepStrictEqual(decodeText(TypeOid.numeric, "-Infinity"), Numeric.unsafeMake("-Infinity"))
    assert.deepStrictEqual(Numeric.toBigInt(Numeric.unsafeMake("-12.000")), Option.some(-12n))
    throwsValueError(() => decodeText(TypeOid.numeric, "1e5"))
  })

  it("bool, strings, uuid", () => {
    assert.strictEqual(decodeText(TypeOid.bool, "t"), true)
    assert.strictEqual(decodeText(TypeOid.bool, "f"), false)
    throwsValueError(() => decodeText(TypeOid.bool, "true"))
    assert.strictEqual(decodeText(TypeOid.text, " héllo "), " héllo ")
    assert.strictEqual(decodeText(TypeOid.bpchar, "ab  "), "ab  ")
    assert.strictEqual(
      decodeText(TypeOid.uuid, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    )
    throwsValueError(() => decodeText(TypeOid.uuid, "a0eebc99"))
  })

  it("bytea in hex and escape formats", () => {
    assert.deepStrictEqual(decodeText(TypeOid.bytea, "\\x00ff10"), Uint8Array.of(0, 255, 16))
    assert.deepStrictEqual(decodeText(TypeOid.bytea, "a\\\\b\\000\\377"), Uint8Array.of(97, 92, 98, 0, 255))
    throwsValueError(() => decodeText(TypeOid.bytea, "\\x0"))
    throwsValueError(() => decodeText(TypeOid.bytea, "\\9"))
  })

  it("json keeps big numbers exact and JSON null distinct from SQL NULL", () => {
    const j = decodeText(
      TypeOid.jsonb,
      '{"big": 12345678901234567890, "f": 1.5, "long": 0.12345678901234567890123, "n": null, "e": 1e400}'
    )
    assert.deepStrictEqual(j, {
      _tag: "Json",
      text: '{"big": 12345678901234567890, "f": 1.5, "long": 0.12345678901234567890123, "n": null, "e": 1e400}',
      value: {
        big: 12345678901234567890n,
        f: 1.5,
        long: { _tag: "JsonDecimal", text: "0.12345678901234567890123" },
        n: null,
        e: { _tag: "JsonDecimal", text: "1e400" }
      }
    })
    assert.deepStrictEqual(decodeText(TypeOid.json, "null"), { _tag: "Json", text: "null", value: null })
    assert.deepStrictEqual(Json.parse('{"__proto__": 1}').value, JSON.parse('{"__proto__": 1}'))
    throwsValueError(() => decodeText(TypeOid.json, "{"))
  })

  it("dates: BC, far future, infinity, invalid days", () => {
    assert.deepStrictEqual(decodeText(TypeOid.date, "2000-01-01"), PgDate.make(0))
    assert.deepStrictEqual(decodeText(TypeOid.date, "1999-12-31"), PgDate.make(-1))
    assert.deepStrictEqual(decodeText(TypeOid.date, "infinity"), PgDate.infinity)
    assert.deepStrictEqual(decodeText(TypeOid.date, "-infinity"), PgDate.minusInfinity)
    const bc = decodeText(TypeOid.date, "0044-03-15 BC") as PgDate.PgDate
    assert.deepStrictEqual(PgDate.toCivil(bc), Option.some({ year: -43, month: 3, day: 15 }))
    assert.strictEqual(PgDate.format(bc), "0044-03-15 BC")
    const far = decodeText(TypeOid.date, "5874897-12-31") as PgDate.PgDate
    assert.strictEqual(PgDate.format(far), "5874897-12-31")
    assert.isTrue(Option.isNone(PgDate.toDate(far)))
    assert.strictEqual(Option.getOrThrow(PgDate.toDate(PgDate.make(0))).toISOString(), "2000-01-01T00:00:00.000Z")
    throwsValueError(() => decodeText(TypeOid.date, "2023-02-29"))
    throwsValueError(() => decodeText(TypeOid.date, "0000-01-01"))
    throwsValueError(() => decodeText(TypeOid.date, "01/02/2023"))
  })

  it("time and timetz to microseconds, offsets with seconds", () => {
    assert.deepStrictEqual(decodeText(TypeOid.time, "13:05:06.000007"), { _tag: "PgTime", micros: 47106000007 })
    assert.deepStrictEqual(decodeText(TypeOid.time, "24:00:00"), { _tag: "PgTime", micros: 86_400_000_000 })
    assert.deepStrictEqual(decodeText(TypeOid.timetz, "13:05:06.5-03:30"), {
      _tag: "PgTimeTz",
      micros: 47106500000,
      offsetSeconds: -12600
    })
    assert.deepStrictEqual(decodeText(TypeOid.timetz, "00:00:00+05:53:28"), {
      _tag: "PgTimeTz",
      micros: 0,
      offsetSeconds: 21208
    })
    throwsValueError(() => decodeText(TypeOid.time, "24:00:01"))
  })

  it("timestamps keep microseconds, infinity, years past 275760 and BC, offsets applied", () => {
    assert.deepStrictEqual(decodeText(TypeOid.timestamp, "2000-01-01 00:00:00.000001"), PgTimestamp.make(1n))
    assert.deepStrictEqual(decodeText(TypeOid.timestamptz, "2000-01-01 00:00:00+00"), PgTimestamp.makeTz(0n))
    assert.deepStrictEqual(decodeText(TypeOid.timestamptz, "1999-12-31 20:30:00-03:30"), PgTimestamp.makeTz(0n))
    assert.deepStrictEqual(decodeText(TypeOid.timestamptz, "infinity"), PgTimestamp.makeTz(PgTimestamp.MICROS_INFINITY))
    assert.deepStrictEqual(
      decodeText(TypeOid.timestamp, "-infinity"),
      PgTimestamp.make(PgTimestamp.MICROS_MINUS_INFINITY)
    )
    const far = decodeText(TypeOid.timestamp, "294276-12-31 23:59:59.999999") as PgTimestamp.PgTimestamp
    assert.strictEqual(PgTimestamp.format(far), "294276-12-31 23:59:59.999999")
    assert.isTrue(Option.isNone(PgTimestamp.toDate(far)))
    const bc = decodeText(TypeOid.timestamptz, "4713-01-01 00:00:00+00 BC") as PgTimestamp.PgTimestampTz
    assert.strictEqual(PgTimestamp.formatTz(bc), "4713-01-01 00:00:00+00 BC")
    const t = decodeText(TypeOid.timestamptz, "2024-03-10 12:34:56.789123+01") as PgTimestamp.PgTimestampTz
    assert.strictEqual(Option.getOrThrow(PgTimestamp.toDate(t)).toISOString(), "2024-03-10T11:34:56.789Z")
    throwsValueError(() => decodeText(TypeOid.timestamp, "2024-03-10 12:34:56+01"))
    throwsValueError(() => decodeText(TypeOid.timestamptz, "2024-03-10 12:34:56"))
    throwsValueError(() => decodeText(TypeOid.timestamptz, "Sun Mar 10 12:34:56 2024 PST"))
  })

  it("intervals in IntervalStyle postgres, mixed signs and infinity", () => {
    assert.deepStrictEqual(decodeText(TypeOid.interval, "00:00:00"), {
      _tag: "PgInterval",
      months: 0,
      days: 0,
      micros: 0n
    })
    assert.deepStrictEqual(decodeText(TypeOid.interval, "1 year 2 mons -3 days +04:05:06.5"), {
      _tag: "PgInterval",
      months: 14,
      days: -3,
      micros: 14706500000n
    })
    assert.deepStrictEqual(decodeText(TypeOid.interval, "-1 years -2 mons -1000000:00:00"), {
      _tag: "PgInterval",
      months: -14,
      days: 0,
      micros: -3600000000000000n
    })
    assert.deepStrictEqual(decodeText(TypeOid.interval, "infinity"), {
      _tag: "PgInterval",
      months: 2147483647,
      days: 2147483647,
      micros: 9223372036854775807n
    })
    throwsValueError(() => decodeText(TypeOid.interval, "P1Y2M"))
  })

  it("arrays: NULL elements, quoting, multiple dimensions, lower bounds, box delimiter", () => {
    assert.deepStrictEqual(decodeText(1007, "{1,NULL,3}"), {
      _tag: "PgArray",
      dimensions: [{ length: 3, lowerBound: 1 }],
      elements: [1, null, 3]
    })
    assert.deepStrictEqual(decodeText(1009, '{"a,b","NULL",NULL,"q\\"x\\\\"," sp "}'), {
      _tag: "PgArray",
      dimensions: [{ length: 5, lowerBound: 1 }],
      elements: ["a,b", "NULL", null, 'q"x\\', " sp "]
    })
    assert.deepStrictEqual(decodeText(1016, "[0:1][-2:-1]={{1,2},{3,4}}"), {
      _tag: "PgArray",
      dimensions: [
        { length: 2, lowerBound: 0 },
        { length: 2, lowerBound: -2 }
      ],
      elements: [1n, 2n, 3n, 4n]
    })
    assert.deepStrictEqual(decodeText(1009, "{}"), { _tag: "PgArray", dimensions: [], elements: [] })
    assert.deepStrictEqual(decodeText(1020, "{(1,1),(0,0);(2,2),(1,1)}"), {
      _tag: "PgArray",
      dimensions: [{ length: 2, lowerBound: 1 }],
      elements: ["(1,1),(0,0)", "(2,2),(1,1)"]
    })
    throwsValueError(() => decodeText(1007, "{{1,2},{3}}"))
    throwsValueError(() => decodeText(1007, "{1,{2}}"))
    throwsValueError(() => decodeText(1007, "{1,2"))
    throwsValueError(() => decodeText(1007, "[1:3]={1,2}"))
  })

  it("enums and unknown types are their text; user arrays split by the resolver", () => {
    assert.strictEqual(decodeText(99999, "happy"), "happy")
    const types = { elementOf: (oid: number) => (oid === 99998 ? 0 : undefined) }
    assert.deepStrictEqual(decodeText(99998, "{happy,sad}", types), {
      _tag: "PgArray",
      dimensions: [{ length: 2, lowerBound: 1 }],
      elements: ["happy", "sad"]
    })
  })
})
