/**
 * PostgreSQL timestamps as the replication protocol sends them: a signed 64-bit count of microseconds since
 * 2000-01-01 00:00:00 UTC (the "PostgreSQL epoch"), with the largest and smallest int64 reserved for `infinity` and
 * `-infinity`.
 *
 * The wire value is kept as a plain `bigint` everywhere in this package, because that is the only form that loses
 * nothing. This module converts it, on request, to the Unix epoch in microseconds (exact), to a JavaScript `Date`
 * (millisecond precision: the conversion truncates toward the past and says so in its name), and to an exact ISO 8601
 * string. Conversions that cannot represent a value (infinity, years past the `Date` range) fail with a
 * `ProtocolError` rather than producing an invalid `Date`. The Effect `DateTime` conversions and the Schemas are in
 * `TimestampDateTime.ts` and `TimestampSchema.ts` (`@pgcdc/protocol/schema`), so that the codecs load neither.
 *
 * It deliberately knows nothing about time zones, `date`, `time` or `interval` values: those are text-format column
 * values, decoded by the replication package.
 */
import * as Result from "effect/Result"
import { ProtocolError } from "./ProtocolError.ts"

/** Microseconds since 2000-01-01 00:00:00 UTC. */
export type Timestamp = bigint

/** `infinity` (DT_NOEND): the largest int64. */
export const infinity: Timestamp = 0x7fff_ffff_ffff_ffffn
/** `-infinity` (DT_NOBEGIN): the smallest int64. */
export const negativeInfinity: Timestamp = -0x8000_0000_0000_0000n

/** Microseconds between the Unix epoch (1970-01-01) and the PostgreSQL epoch (2000-01-01). */
export const unixEpochOffsetMicros = 946_684_800_000_000n

/** The time `millis` milliseconds after the Unix epoch (what `Date.now()` and Effect's `Clock` give). */
export const fromEpochMillis = (millis: number): Timestamp => BigInt(Math.trunc(millis)) * 1000n - unixEpochOffsetMicros

export const isInfinity = (t: Timestamp): boolean => t === infinity
export const isNegativeInfinity = (t: Timestamp): boolean => t === negativeInfinity
export const isFiniteTime = (t: Timestamp): boolean => t !== infinity && t !== negativeInfinity

const fail = (field: string, detail: string): Result.Result<never, ProtocolError> =>
  Result.fail(new ProtocolError({ reason: "InvalidValue", messageName: "Timestamp", field, detail }))

const floorDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q
}

/**
 * Microseconds since the Unix epoch. Exact; the infinities map to themselves (they are sentinels in both epochs),
 * so check `isFiniteTime` first when the difference matters.
 */
export const toEpochMicros = (t: Timestamp): bigint => (isFiniteTime(t) ? t + unixEpochOffsetMicros : t)

/** The inverse of `toEpochMicros`; fails when the result does not fit the int64 PostgreSQL stores. */
export const fromEpochMicros = (micros: bigint): Result.Result<Timestamp, ProtocolError> => {
  if (micros === infinity || micros === negativeInfinity) return Result.succeed(micros)
  const t = micros - unixEpochOffsetMicros
  return t > negativeInfinity && t < infinity
    ? Result.succeed(t)
    : fail("epochMicros", `${micros} is outside the int64 range of PostgreSQL timestamps`)
}

/** Milliseconds since the Unix epoch, truncated toward the past (lossy: drops the microseconds). */
const toEpochMillis = (t: Timestamp, target: string): Result.Result<number, ProtocolError> => {
  if (!isFiniteTime(t)) return fail("value", `${t === infinity ? "infinity" : "-infinity"} has no ${target} form`)
  const ms = floorDiv(t + unixEpochOffsetMicros, 1000n)
  // 8.64e15 ms is the ECMAScript Date range limit in both directions.
  if (ms > 8_640_000_000_000_000n || ms < -8_640_000_000_000_000n) {
    return fail("value", `${t} µs is outside the ${target} range`)
  }
  return Result.succeed(Number(ms))
}

/** A JavaScript `Date` (lossy: millisecond precision, truncated toward the past). Fails on infinity. */
export const toDateLossy = (t: Timestamp): Result.Result<Date, ProtocolError> =>
  Result.map(toEpochMillis(t, "Date"), (ms) => new Date(ms))

/** From a JavaScript `Date` (exact: whole milliseconds). Fails on an invalid `Date`. */
export const fromDate = (d: Date): Result.Result<Timestamp, ProtocolError> => {
  const ms = d.getTime()
  if (Number.isNaN(ms)) return fail("date", "invalid Date")
  return Result.succeed(BigInt(ms) * 1000n - unixEpochOffsetMicros)
}

/** Days since 1970-01-01 to a proleptic Gregorian (year, month, day); exact for any bigint day count. */
const civilFromDays = (days: bigint): readonly [bigint, number, number] => {
  const z = days + 719_468n
  const era = floorDiv(z, 146_097n)
  const doe = z - era * 146_097n
  const yoe = (doe - doe / 1460n + doe / 36_524n - doe / 146_096n) / 365n
  const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n)
  const mp = (5n * doy + 2n) / 153n
  const day = Number(doy - (153n * mp + 2n) / 5n + 1n)
  const month = Number(mp < 10n ? mp + 3n : mp - 9n)
  const year = yoe + era * 400n + (month <= 2 ? 1n : 0n)
  return [year, month, day]
}

const pad = (n: number | bigint, width: number): string => n.toString().padStart(width, "0")

/**
 * Exact ISO 8601 text in UTC with all six fractional digits (`2026-11-21T09:15:11.123456Z`), or `infinity` /
 * `-infinity`. Years outside 0000–9999 get a sign and six digits, as ISO 8601 extended years do.
 */
export const format = (t: Timestamp): string => {
  if (t === infinity) return "infinity"
  if (t === negativeInfinity) return "-infinity"
  const micros = t + unixEpochOffsetMicros
  const days = floorDiv(micros, 86_400_000_000n)
  const inDay = micros - days * 86_400_000_000n
  const [year, month, day] = civilFromDays(days)
  const y = year >= 0n && year <= 9999n ? pad(year, 4) : `${year < 0n ? "-" : "+"}${pad(year < 0n ? -year : year, 6)}`
  const secs = inDay / 1_000_000n
  const frac = inDay % 1_000_000n
  return `${y}-${pad(month, 2)}-${pad(day, 2)}T${pad(secs / 3600n, 2)}:${pad((secs / 60n) % 60n, 2)}:${pad(
    secs % 60n,
    2
  )}.${pad(frac, 6)}Z`
}
