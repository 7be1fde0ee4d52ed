/**
 * Effect Schemas for the column values pgcdc decodes (`PgValue`), to describe a table's row in a typed-rows
 * Schema, and the conversions a user may choose on top of them.
 *
 * The value Schemas (`Int8`, `Numeric`, `Timestamp`, `Json`, …) accept exactly what the decoders produce and keep
 * it as is. Every conversion to a JavaScript type that cannot hold every PostgreSQL value is a separate, named
 * Schema that fails (a typed issue, never a wrong value) where the value does not fit: `Int8AsNumber` outside
 * ±2^53, `TimestampTzAsDate` for ±infinity and years beyond ±275760, `ArrayOf` for arrays with other lower bounds
 * or several dimensions. Where a conversion loses precision by design (sub-millisecond digits of a `Date`, the
 * nearest double of a numeric) its name and doc say so.
 *
 * It deliberately does not guess conversions from column types: the Schema the user writes is the only mapping.
 */
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as JsonValue from "../values/Json.ts"
import * as NumericValue from "../values/Numeric.ts"
import * as PgDateValue from "../values/PgDate.ts"
import type * as PgIntervalValue from "../values/PgInterval.ts"
import type * as PgTimeValue from "../values/PgTime.ts"
import * as PgTimestampValue from "../values/PgTimestamp.ts"
import type { PgArray as PgArrayValue } from "../values/PgValue.ts"

const tagged =
  <T extends { readonly _tag: string }>(tag: T["_tag"]) =>
  (u: unknown): u is T =>
    typeof u === "object" && u !== null && "_tag" in u && u._tag === tag

const invalid = (input: unknown, message: string): SchemaIssue.Issue => new SchemaIssue.InvalidValue({ message }, input)

// ---------------------------------------------------------------------------------------------------------------
// The values as decoded

/** `int8`: a `bigint`, exact. */
export const Int8 = Schema.BigInt
/** `bytea`: a copied `Uint8Array`. */
export const Bytea = Schema.Uint8Array
export const Numeric = Schema.declare(tagged<NumericValue.Numeric>("Numeric"), { identifier: "Numeric" })
export const Json = Schema.declare(tagged<JsonValue.Json>("Json"), { identifier: "Json" })
export const PgDate = Schema.declare(tagged<PgDateValue.PgDate>("PgDate"), { identifier: "PgDate" })
export const PgTime = Schema.declare(tagged<PgTimeValue.PgTime>("PgTime"), { identifier: "PgTime" })
export const PgTimeTz = Schema.declare(tagged<PgTimeValue.PgTimeTz>("PgTimeTz"), { identifier: "PgTimeTz" })
export const Timestamp = Schema.declare(tagged<PgTimestampValue.PgTimestamp>("PgTimestamp"), {
  identifier: "PgTimestamp"
})
export const TimestampTz = Schema.declare(tagged<PgTimestampValue.PgTimestampTz>("PgTimestampTz"), {
  identifier: "PgTimestampTz"
})
export const Interval = Schema.declare(tagged<PgIntervalValue.PgInterval>("PgInterval"), { identifier: "PgInterval" })
export const PgArray = Schema.declare(tagged<PgArrayValue>("PgArray"), { identifier: "PgArray" })

// ---------------------------------------------------------------------------------------------------------------
// Explicit conversions

/** `int8` as a `number`; fails outside the safe integers (±2^53 − 1) instead of rounding. */
export const Int8AsNumber = Int8.pipe(
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transformEffect({
      decode: (b: bigint) =>
        b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Effect.succeed(Number(b))
          : Effect.fail(invalid(b, `${b} is outside the safe integer range of a JavaScript number`)),
      encode: (n: number) =>
        Number.isSafeInteger(n) ? Effect.succeed(BigInt(n)) : Effect.fail(invalid(n, `${n} is not a safe integer`))
    })
  )
)

/** `numeric` as its exact decimal text (`-12.3400`, `NaN`, `Infinity`, `-Infinity`). */
export const NumericAsString = Numeric.pipe(
  Schema.decodeTo(
    Schema.String,
    SchemaTransformation.transformEffect({
      decode: (n: NumericValue.Numeric) => Effect.succeed(n.value),
      encode: (s: string) =>
        Option.match(NumericValue.fromString(s), {
          onNone: () => Effect.fail(invalid(s, `${JSON.stringify(s)} is not a decimal as PostgreSQL prints it`)),
          onSome: Effect.succeed
        })
    })
  )
)

/** `numeric` as an exact `bigint`; fails for a non-zero fraction, NaN and the infinities. */
export const NumericAsBigInt = Numeric.pipe(
  Schema.decodeTo(
    Schema.BigInt,
    SchemaTransformation.transformEffect({
      decode: (n: NumericValue.Numeric) =>
        Option.match(NumericValue.toBigInt(n), {
          onNone: () => Effect.fail(invalid(n, `numeric ${n.value} is not an integer`)),
          onSome: Effect.succeed
        }),
      encode: (b: bigint) => Effect.succeed(NumericValue.unsafeMake(b.toString()))
    })
  )
)

/** LOSSY: `numeric` as the nearest double (NaN and the infinities map to theirs). Choose it knowingly. */
export const NumericAsNumberLossy = Numeric.pipe(
  Schema.decodeTo(
    Schema.Number,
    SchemaTransformation.transformEffect({
      decode: (n: NumericValue.Numeric) => Effect.succeed(NumericValue.toNumber(n)),
      encode: (x: number) =>
        Option.match(NumericValue.fromString(Number.isFinite(x) ? x.toFixed(20).replace(/\.?0+$/, "") : String(x)), {
          onNone: () => Effect.fail(invalid(x, `${x} has no numeric text`)),
          onSome: Effect.succeed
        })
    })
  )
)

const toDate = (value: PgTimestampValue.PgTimestamp | PgTimestampValue.PgTimestampTz, what: string) =>
  Option.match(PgTimestampValue.toDate(value), {
    onNone: () =>
      Effect.fail(invalid(value, `${what} ${formatTimestamp(value)} is infinite or beyond the range of a Date`)),
    onSome: Effect.succeed
  })

const formatTimestamp = (value: PgTimestampValue.PgTimestamp | PgTimestampValue.PgTimestampTz): string =>
  value._tag === "PgTimestamp" ? PgTimestampValue.format(value) : PgTimestampValue.formatTz(value)

const micros = (date: Date): bigint => BigInt(date.getTime()) * 1000n - PgTimestampValue.UNIX_TO_POSTGRES_MICROS

/**
 * LOSSY below the millisecond: `timestamptz` as the `Date` of the same instant, microseconds truncated (floored).
 * Fails for ±infinity and years beyond ±275760.
 */
export const TimestampTzAsDate = TimestampTz.pipe(
  Schema.decodeTo(
    Schema.Date,
    SchemaTransformation.transformEffect({
      decode: (t: PgTimestampValue.PgTimestampTz) => toDate(t, "timestamptz"),
      encode: (d: Date) => Effect.succeed(PgTimestampValue.makeTz(micros(d)))
    })
  )
)

/**
 * LOSSY below the millisecond: `timestamp` (a wall-clock reading without zone) as a `Date` whose UTC fields show
 * that reading. Fails for ±infinity and years beyond ±275760.
 */
export const TimestampAsDate = Timestamp.pipe(
  Schema.decodeTo(
    Schema.Date,
    SchemaTransformation.transformEffect({
      decode: (t: PgTimestampValue.PgTimestamp) => toDate(t, "timestamp"),
      encode: (d: Date) => Effect.succeed(PgTimestampValue.make(micros(d)))
    })
  )
)

/** LOSSY below the millisecond: `timestamptz` as an Effect `DateTime.Utc`. Fails like `TimestampTzAsDate`. */
export const TimestampTzAsDateTime = TimestampTz.pipe(
  Schema.decodeTo(
    Schema.DateTimeUtc,
    SchemaTransformation.transformEffect({
      decode: (t: PgTimestampValue.PgTimestampTz) =>
        Option.match(PgTimestampValue.toDateTime(t), {
          onNone: () =>
            Effect.fail(invalid(t, `timestamptz ${formatTimestamp(t)} is infinite or beyond the range of a DateTime`)),
          onSome: Effect.succeed
        }),
      encode: (d: DateTime.Utc) =>
        Effect.succeed(
          PgTimestampValue.makeTz(BigInt(DateTime.toEpochMillis(d)) * 1000n - PgTimestampValue.UNIX_TO_POSTGRES_MICROS)
        )
    })
  )
)

/** `date` as the `Date` of its midnight UTC. Fails for ±infinity and years beyond ±275760. */
export const DateAsDate = PgDate.pipe(
  Schema.decodeTo(
    Schema.Date,
    SchemaTransformation.transformEffect({
      decode: (d: PgDateValue.PgDate) =>
        Option.match(PgDateValue.toDate(d), {
          onNone: () =>
            Effect.fail(invalid(d, `date ${PgDateValue.format(d)} is infinite or beyond the range of a Date`)),
          onSome: Effect.succeed
        }),
      encode: (d: Date) => Effect.succeed(PgDateValue.fromDate(d))
    })
  )
)

/** `json` / `jsonb` as its lossless parsed value (integers beyond 2^53 as `bigint`, long decimals as `JsonDecimal`). */
export const JsonAsValue = Json.pipe(
  Schema.decodeTo(
    Schema.Unknown,
    SchemaTransformation.transformEffect({
      decode: (j: JsonValue.Json) => Effect.succeed<unknown>(j.value),
      encode: (u: unknown) => {
        try {
          return Effect.succeed(JsonValue.parse(JSON.stringify(u)))
        } catch {
          return Effect.fail(invalid(u, "cannot be written as JSON"))
        }
      }
    })
  )
)

/**
 * `json` / `jsonb` decoded by `schema` from its lossless parsed value: a number that a double cannot hold arrives
 * as `bigint` or `JsonDecimal`, so a `Schema.Number` field fails on it instead of rounding.
 */
export const JsonAs = <S extends Schema.Constraint>(schema: S) => JsonAsValue.pipe(Schema.decodeTo(schema))

/**
 * A one-dimensional array (or the empty array) as a `ReadonlyArray` of `element`. Fails for several dimensions
 * and for a lower bound other than 1, which a JavaScript array cannot say.
 */
export const ArrayOf = <S extends Schema.Constraint>(element: S) =>
  PgArray.pipe(
    Schema.decodeTo(
      Schema.Array(Schema.Unknown),
      SchemaTransformation.transformEffect({
        decode: (a: PgArrayValue) => {
          if (a.dimensions.length === 0) return Effect.succeed<ReadonlyArray<unknown>>([])
          const [d] = a.dimensions
          return a.dimensions.length === 1 && d?.lowerBound === 1
            ? Effect.succeed<ReadonlyArray<unknown>>(a.elements)
            : Effect.fail(
                invalid(
                  a,
                  `an array with ${a.dimensions.length} dimension(s) and lower bound ${d?.lowerBound} is not a one-dimensional array from 1`
                )
              )
        },
        encode: (xs: ReadonlyArray<unknown>) =>
          Effect.succeed<PgArrayValue>({
            _tag: "PgArray",
            dimensions: xs.length === 0 ? [] : [{ length: xs.length, lowerBound: 1 }],
            elements: xs as PgArrayValue["elements"]
          })
      })
    ),
    Schema.decodeTo(Schema.Array(element))
  )
