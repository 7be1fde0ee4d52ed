/**
 * A table holding every supported column type with awkward values, and the exact values pgcdc must decode for it on
 * a given major: shared by the stream's value test and the snapshot's (a snapshot row and a streamed row of the same
 * values must be equal).
 */
import { daysFromCivil } from "../../src/internal/values/Calendar.ts"
import * as Json from "../../src/values/Json.ts"
import * as Numeric from "../../src/values/Numeric.ts"
import * as PgDate from "../../src/values/PgDate.ts"
import * as PgInterval from "../../src/values/PgInterval.ts"
import * as PgTime from "../../src/values/PgTime.ts"
import * as PgTimestamp from "../../src/values/PgTimestamp.ts"
import type { PgValue } from "../../src/values/PgValue.ts"
import type { Row } from "../../src/WalMessage.ts"

const DAY = 86_400_000_000n
const utcMicros = (ms: number, extraMicros: number): bigint =>
  BigInt(ms) * 1000n + BigInt(extraMicros) - PgTimestamp.UNIX_TO_POSTGRES_MICROS
const array = (
  dimensions: ReadonlyArray<readonly [number, number]>,
  elements: ReadonlyArray<PgValue | null>
): PgValue => ({
  _tag: "PgArray",
  dimensions: dimensions.map(([length, lowerBound]) => ({ length, lowerBound })),
  elements
})
export const bytes = (s: string) => new TextEncoder().encode(s)

export const columns = `
  id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric, n2 numeric(10,3), f4 float4, f8 float8, f8b float8,
  b bool, t text, vc varchar(10), bp char(5), nm name, u uuid, j json, jb jsonb, by bytea,
  d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
  ai int4[], at text[], a2 int8[], ats timestamptz[], e mood, ae mood[]`

export const rows = (major: number) => [
  `INSERT INTO v VALUES (1, -32768, 2147483647, 9223372036854775807, '123456789012345678901234567890.123456789', -1.5,
    '1.1', '-0', 0.1::float8 + 0.2::float8, true, 'héllo "q" \\ ☃', 'abc', 'ab', 'nm',
    'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{"big": 12345678901234567890, "x": [1, null]}', '{"a": 1.50, "n": null}',
    '\\x00ff', '0044-03-15 BC', '24:00:00', '13:05:06.5-03:30', '294276-12-31 23:59:59.999999',
    '2024-03-10 12:34:56.789123+01', '1 year 2 mons -3 days 04:05:06.5',
    '[0:2]={1,NULL,3}', '{"a,b",NULL,"NULL",""}', '{{1,2},{3,4}}', '{infinity,-infinity}', 'happy', '{happy,sad}')`,
  `INSERT INTO v (id, n, f4, f8, d, ts, tstz, j, jb, iv) VALUES (2, 'NaN', 'NaN', 'Infinity', 'infinity', '-infinity',
    'infinity', 'null', '[]', ${major >= 17 ? "'infinity'" : "NULL"})`,
  `INSERT INTO v (id, i8, n, f4, f8, d, tm, ts, tstz, iv) VALUES (3, -9223372036854775808, '-Infinity', '-Infinity',
    '-Infinity', '5874897-12-31', '00:00:00', '2000-01-01 00:00:00.000001', '4713-01-01 00:00:00+00 BC', '-178000000 years')`
]

const nulls = (names: string): Record<string, null> => Object.fromEntries(names.split(" ").map((n) => [n, null]))

export const expected = (major: number): ReadonlyArray<Row> => [
  {
    id: 1,
    i2: -32768,
    i4: 2147483647,
    i8: 9223372036854775807n,
    n: Numeric.unsafeMake("123456789012345678901234567890.123456789"),
    n2: Numeric.unsafeMake("-1.500"),
    f4: Math.fround(1.1),
    f8: -0,
    f8b: 0.1 + 0.2,
    b: true,
    t: 'héllo "q" \\ ☃',
    vc: "abc",
    bp: "ab   ",
    nm: "nm",
    u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    j: Json.parse('{"big": 12345678901234567890, "x": [1, null]}'),
    jb: Json.parse('{"a": 1.50, "n": null}'),
    by: Uint8Array.of(0, 255),
    d: PgDate.make(daysFromCivil(-43, 3, 15)),
    tm: PgTime.make(86_400_000_000),
    ttz: PgTime.makeTz(47_106_500_000, -12_600),
    ts: PgTimestamp.make(BigInt(daysFromCivil(294276, 12, 31)) * DAY + DAY - 1n),
    tstz: PgTimestamp.makeTz(utcMicros(Date.UTC(2024, 2, 10, 11, 34, 56, 789), 123)),
    iv: PgInterval.make(14, -3, 14_706_500_000n),
    ai: array([[3, 0]], [1, null, 3]),
    at: array([[4, 1]], ["a,b", null, "NULL", ""]),
    a2: array(
      [
        [2, 1],
        [2, 1]
      ],
      [1n, 2n, 3n, 4n]
    ),
    ats: array(
      [[2, 1]],
      [PgTimestamp.makeTz(PgTimestamp.MICROS_INFINITY), PgTimestamp.makeTz(PgTimestamp.MICROS_MINUS_INFINITY)]
    ),
    e: "happy",
    ae: array([[2, 1]], ["happy", "sad"])
  },
  {
    ...nulls("i2 i4 i8 n2 f8b b t vc bp nm u by tm ttz ai at a2 ats e ae"),
    id: 2,
    n: Numeric.unsafeMake("NaN"),
    f4: Number.NaN,
    f8: Number.POSITIVE_INFINITY,
    d: PgDate.infinity,
    ts: PgTimestamp.make(PgTimestamp.MICROS_MINUS_INFINITY),
    tstz: PgTimestamp.makeTz(PgTimestamp.MICROS_INFINITY),
    j: { _tag: "Json", text: "null", value: null },
    jb: Json.parse("[]"),
    iv: major >= 17 ? PgInterval.infinity : null
  },
  {
    ...nulls("i2 i4 n2 f8b b t vc bp nm u j jb by ttz ai at a2 ats e ae"),
    id: 3,
    i8: -9223372036854775808n,
    n: Numeric.unsafeMake("-Infinity"),
    f4: Number.NEGATIVE_INFINITY,
    f8: Number.NEGATIVE_INFINITY,
    d: PgDate.make(daysFromCivil(5874897, 12, 31)),
    tm: PgTime.make(0),
    ts: PgTimestamp.make(1n),
    tstz: PgTimestamp.makeTz(BigInt(daysFromCivil(-4712, 1, 1)) * DAY),
    iv: PgInterval.make(-2_136_000_000, 0, 0n)
  }
]

/** Binary mode decodes the enum columns by the catalog (their label), as text mode does. */
export const binaryExpected = (major: number): ReadonlyArray<Row> => expected(major)
