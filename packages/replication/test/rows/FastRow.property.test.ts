// The typed-rows shortcut decides exactly as the Schema does: same row when both succeed, and it gives up whenever the
// Schema fails; it stays off for any Schema it does not fully understand.
import * as fc from "fast-check"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { describe, expect, it } from "vitest"
import * as FastRow from "../../src/internal/rows/FastRow.ts"
import { PgSchema } from "../../src/rows/index.ts"
import { Json, Numeric, PgDate, PgInterval, PgTime, PgTimestamp } from "../../src/values/index.ts"

const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })
const numeric = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.nat(99))
  .map(([neg, i, f]) => Numeric.unsafeMake(`${neg ? "-" : ""}${i}.${String(f).padStart(2, "0")}`))
const json = fc.jsonValue().map((v) => Json.parse(JSON.stringify(v)))

/** Any column value pgcdc can produce, of any type: most of them are the wrong type for a given field. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.string(),
  fc.boolean(),
  fc.double(),
  int64,
  numeric,
  json,
  fc.integer().map(PgDate.make),
  fc.nat(86_400_000_000 - 1).map(PgTime.make),
  fc.tuple(fc.nat(86_400_000_000 - 1), fc.integer({ min: -50_000, max: 50_000 })).map(([t, o]) => PgTime.makeTz(t, o)),
  int64.map(PgTimestamp.make),
  // Finite instants and the int64 extremes (±infinity, and years a Date cannot hold).
  fc.oneof(int64, fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n })).map(PgTimestamp.makeTz),
  fc.tuple(fc.integer(), fc.integer(), int64).map(([m, d, us]) => PgInterval.make(m, d, us))
)

const schemas = {
  bench: Schema.Struct({
    id: PgSchema.Int8,
    name: Schema.NullOr(Schema.String),
    amount: Schema.NullOr(PgSchema.NumericAsString),
    created: Schema.NullOr(PgSchema.TimestampTzAsDate),
    payload: Schema.NullOr(PgSchema.JsonAsValue)
  }),
  values: Schema.Struct({
    n: Schema.Number,
    b: Schema.Boolean,
    num: PgSchema.Numeric,
    j: Schema.NullOr(PgSchema.Json),
    d: PgSchema.PgDate,
    t: Schema.NullOr(PgSchema.PgTime),
    tz: PgSchema.PgTimeTz,
    ts: PgSchema.Timestamp,
    tstz: PgSchema.TimestampTz,
    i: Schema.NullOr(PgSchema.Interval),
    small: PgSchema.Int8AsNumber,
    wall: Schema.NullOr(PgSchema.TimestampAsDate)
  })
}

/** A row for `fields`: mostly values that fit, sometimes any value, a missing column or an extra one. */
const rowFor = (fields: ReadonlyArray<string>, fitting: fc.Arbitrary<Record<string, unknown>>) =>
  fc.oneof({ arbitrary: fitting, weight: 3 }, corrupted(fields, fitting))

const corrupted = (fields: ReadonlyArray<string>, fitting: fc.Arbitrary<Record<string, unknown>>) =>
  fc
    .tuple(
      fitting,
      fc.dictionary(fc.constantFrom(...fields), anyValue, { maxKeys: 2 }),
      fc.option(fc.constantFrom(...fields), { nil: undefined }),
      fc.option(anyValue, { nil: undefined })
    )
    .map(([base, wrong, missing, extra]) => {
      const row: Record<string, unknown> = { ...base, ...wrong }
      if (missing !== undefined) delete row[missing]
      if (extra !== undefined) row.extra = extra
      return row
    })

const fittingBench = fc.record({
  id: int64,
  name: fc.option(fc.string(), { nil: null }),
  amount: fc.option(numeric, { nil: null }),
  created: fc.option(fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }).map(PgTimestamp.makeTz), { nil: null }),
  payload: fc.option(json, { nil: null })
})
const fittingValues = fc.record({
  n: fc.double(),
  b: fc.boolean(),
  num: numeric,
  j: fc.option(json, { nil: null }),
  d: fc.integer().map(PgDate.make),
  t: fc.option(fc.nat(86_400_000_000 - 1).map(PgTime.make), { nil: null }),
  tz: fc.nat(86_400_000_000 - 1).map((t) => PgTime.makeTz(t, 3600)),
  ts: int64.map(PgTimestamp.make),
  tstz: int64.map(PgTimestamp.makeTz),
  i: fc.option(
    fc.tuple(fc.integer(), fc.integer(), int64).map(([m, d, us]) => PgInterval.make(m, d, us)),
    { nil: null }
  ),
  small: fc.oneof({ arbitrary: fc.bigInt({ min: -(2n ** 53n), max: 2n ** 53n }), weight: 9 }, int64),
  wall: fc.option(
    fc.oneof({ arbitrary: fc.bigInt({ min: -(10n ** 16n), max: 10n ** 16n }), weight: 9 }, int64).map(PgTimestamp.make),
    {
      nil: null
    }
  )
})

const agrees = <S extends Schema.ConstraintDecoder<unknown> & { readonly fields: Schema.Struct.Fields }>(
  schema: S,
  fitting: fc.Arbitrary<Record<string, unknown>>
) => {
  const fast = FastRow.compile(schema)
  expect(fast).toBeDefined()
  const slow = Schema.decodeUnknownResult(schema)
  let shortcuts = 0
  fc.assert(
    fc.property(rowFor(Object.keys(schema.fields), fitting), (row) => {
      const viaSchema = slow(row)
      const viaFast = fast!(row)
      if (viaFast !== undefined) {
        shortcuts++
        expect(Result.isSuccess(viaSchema)).toBe(true)
        expect(viaFast).toStrictEqual(Result.getOrThrow(viaSchema))
        expect(Object.keys(viaFast)).toEqual(Object.keys(schema.fields))
      } else if (Result.isSuccess(viaSchema)) {
        // Giving up on a row the Schema accepts only costs time; it must stay rare (values that fit take the shortcut).
        expect(Object.values(row).some((v) => v === undefined)).toBe(false)
      }
    }),
    { numRuns: 2000 }
  )
  // The shortcut is actually taken for most rows, so the comparison above is not vacuous.
  expect(shortcuts).toBeGreaterThan(1000)
}

describe("FastRow", () => {
  it("decodes the benchmark's row exactly as its Schema does, and gives up wherever the Schema fails", () => {
    agrees(schemas.bench, fittingBench)
  })

  it("decodes every value Schema's pass-through exactly as the Schema does", () => {
    agrees(schemas.values, fittingValues)
  })

  it("stays off for a Schema with anything it does not know", () => {
    const off = [
      Schema.Struct({ a: Schema.String.check(Schema.isMinLength(1)) }),
      Schema.Struct({ a: Schema.optionalKey(Schema.String) }),
      Schema.Struct({ a: PgSchema.NumericAsBigInt }),
      Schema.Struct({ a: PgSchema.TimestampTzAsDateTime }),
      Schema.Struct({ a: Schema.NullOr(Schema.NullOr(Schema.String)) }),
      Schema.Struct({ a: Schema.Union([Schema.String, Schema.Number]) }),
      Schema.Struct({ a: Schema.String }).check(Schema.makeFilter(() => true)),
      Schema.Struct({
        a: Schema.NullOr(Schema.String)
          .annotate({ description: "x" })
          .check(Schema.makeFilter(() => true))
      })
    ]
    for (const schema of off) expect(FastRow.compile(schema)).toBeUndefined()
  })
})
