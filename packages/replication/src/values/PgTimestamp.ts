/**
 * `timestamp` and `timestamptz` values: microseconds since 2000-01-01 00:00:00 as a `bigint`, exactly as PostgreSQL
 * stores them, so microseconds, `±infinity` (the int64 extremes, as in the server), years past 275760 and BC dates
 * all survive. A `PgTimestamp` is a wall-clock reading without a zone; a `PgTimestampTz` is an instant (UTC).
 *
 * Conversions to `Date` (milliseconds, limited range) and Effect `DateTime` are explicit, partial (`Option`) and
 * lossy only in the sub-millisecond digits, which their names say. Nothing here reads the local time zone.
 */
import { Timestamp } from "@pgcdc/protocol"
import * as DateTime from "effect/DateTime"
import * as Option from "effect/Option"
import { civilFromDays, formatClock, formatYear, MICROS_PER_DAY, pad2 } from "../internal/values/Calendar.ts"

export interface PgTimestamp {
  readonly _tag: "PgTimestamp"
  /** Microseconds since 2000-01-01 00:00:00 (no zone); the int64 maximum is `infinity`, the minimum `-infinity`. */
  readonly micros: bigint
}

export interface PgTimestampTz {
  readonly _tag: "PgTimestampTz"
  /** Microseconds since 2000-01-01 00:00:00 UTC; the int64 maximum is `infinity`, the minimum `-infinity`. */
  readonly micros: bigint
}

export const MICROS_INFINITY = Timestamp.infinity
export const MICROS_MINUS_INFINITY = Timestamp.negativeInfinity
/** Microseconds from 1970-01-01 to 2000-01-01 (the protocol's Timestamp epoch offset). */
export const UNIX_TO_POSTGRES_MICROS = Timestamp.unixEpochOffsetMicros

export const make = (micros: bigint): PgTimestamp => ({ _tag: "PgTimestamp", micros })
export const makeTz = (micros: bigint): PgTimestampTz => ({ _tag: "PgTimestampTz", micros })

export const isInfinite = (t: PgTimestamp | PgTimestampTz): boolean =>
  t.micros === MICROS_INFINITY || t.micros === MICROS_MINUS_INFINITY

const MAX_DATE_MS = 8.64e15
const MIN_DATE_MS_BIG = BigInt(-MAX_DATE_MS)
const MAX_DATE_MS_BIG = BigInt(MAX_DATE_MS)
const SAFE_MICROS = BigInt(Number.MAX_SAFE_INTEGER)
const UNIX_TO_POSTGRES_MS = Number(Timestamp.unixEpochOffsetMicros / 1000n)

/**
 * Milliseconds since 1970 (floored), or undefined for ±infinity and values beyond `Date`'s range. Within ±2^53
 * microseconds of 2000 (the years 1715 to 2285) it computes in exact double arithmetic instead of BigInt: this runs
 * for every timestamp a typed row converts to a `Date`.
 */
const unixMillis = (t: PgTimestamp | PgTimestampTz): number | undefined => {
  const big = t.micros
  if (big >= -SAFE_MICROS && big <= SAFE_MICROS) {
    const m = Number(big)
    const r = m % 1000
    return (m - r) / 1000 - (r < 0 ? 1 : 0) + UNIX_TO_POSTGRES_MS
  }
  if (isInfinite(t)) return undefined
  const micros = big + UNIX_TO_POSTGRES_MICROS
  let ms = micros / 1000n
  if (micros < 0n && micros % 1000n !== 0n) ms -= 1n
  return ms >= MIN_DATE_MS_BIG && ms <= MAX_DATE_MS_BIG ? Number(ms) : undefined
}

/** As `toDate`, with undefined for none: for hot paths that should not allocate an Option per value. */
export const toDateOrUndefined = (t: PgTimestamp | PgTimestampTz): Date | undefined => {
  const ms = unixMillis(t)
  return ms === undefined ? undefined : new Date(ms)
}

/**
 * As a `Date` (the instant for `timestamptz`; for `timestamp`, the wall-clock reading taken as UTC). Drops the
 * microseconds below a millisecond; none for ±infinity and years beyond ±275760.
 */
export const toDate = (t: PgTimestamp | PgTimestampTz): Option.Option<Date> =>
  Option.fromUndefinedOr(toDateOrUndefined(t))

/** As an Effect `DateTime.Utc`, with the same losses and limits as `toDate`. */
export const toDateTime = (t: PgTimestamp | PgTimestampTz): Option.Option<DateTime.Utc> =>
  Option.map(Option.fromUndefinedOr(unixMillis(t)), (ms) => DateTime.makeUnsafe(ms))

/** From a `Date`'s instant (never its local-time fields). */
export const fromDate = (date: Date): PgTimestampTz => makeTz(BigInt(date.getTime()) * 1000n - UNIX_TO_POSTGRES_MICROS)

/** Splits finite microseconds into the civil day and the time of day, both in UTC. */
const split = (micros: bigint): { readonly days: number; readonly timeMicros: bigint } => {
  let days = micros / MICROS_PER_DAY
  let time = micros % MICROS_PER_DAY
  if (time < 0n) {
    time += MICROS_PER_DAY
    days -= 1n
  }
  return { days: Number(days), timeMicros: time }
}

const formatFinite = (micros: bigint, zone: string): string => {
  const { days, timeMicros } = split(micros)
  const c = civilFromDays(days)
  const y = formatYear(c.year)
  return `${y.digits}-${pad2(c.month)}-${pad2(c.day)} ${formatClock(timeMicros)}${zone}${y.bc ? " BC" : ""}`
}

/** PostgreSQL's ISO text form of a `timestamp` (`2024-02-29 13:05:00.5`, `0044-03-15 12:00:00 BC`). */
export const format = (t: PgTimestamp): string =>
  t.micros === MICROS_INFINITY
    ? "infinity"
    : t.micros === MICROS_MINUS_INFINITY
      ? "-infinity"
      : formatFinite(t.micros, "")

/** PostgreSQL's ISO text form of a `timestamptz` as a server with `TimeZone=UTC` prints it (`… 13:05:00+00`). */
export const formatTz = (t: PgTimestampTz): string =>
  t.micros === MICROS_INFINITY
    ? "infinity"
    : t.micros === MICROS_MINUS_INFINITY
      ? "-infinity"
      : formatFinite(t.micros, "+00")
