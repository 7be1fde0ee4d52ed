/**
 * `date` values: a day count since 2000-01-01, exactly as PostgreSQL stores them, so that every date the server
 * accepts (4713 BC to 5874897 AD, and ±infinity) is kept. JavaScript's `Date` reaches only ±275760 years.
 *
 * `infinity` and `-infinity` are PostgreSQL's own sentinels (the largest and smallest int32), so ordering by `days`
 * orders dates as the server does. Conversions to `Date` are explicit and partial; nothing here reads the local
 * time zone.
 */
import * as Option from "effect/Option"
import {
  type CivilDate,
  civilFromDays,
  daysFromCivil,
  formatYear,
  isValidDay,
  pad2
} from "../internal/values/Calendar.ts"

export interface PgDate {
  readonly _tag: "PgDate"
  /** Days since 2000-01-01; `2147483647` is `infinity`, `-2147483648` is `-infinity`. */
  readonly days: number
}

export const DAYS_INFINITY = 2147483647
export const DAYS_MINUS_INFINITY = -2147483648

export const make = (days: number): PgDate => ({ _tag: "PgDate", days })
export const infinity: PgDate = make(DAYS_INFINITY)
export const minusInfinity: PgDate = make(DAYS_MINUS_INFINITY)

export const isInfinite = (d: PgDate): boolean => d.days === DAYS_INFINITY || d.days === DAYS_MINUS_INFINITY

/** The civil date (astronomical year: 0 is 1 BC), or none for ±infinity. */
export const toCivil = (d: PgDate): Option.Option<CivilDate> =>
  isInfinite(d) ? Option.none() : Option.some(civilFromDays(d.days))

/** From a civil date; none when the day does not exist. */
export const fromCivil = (year: number, month: number, day: number): Option.Option<PgDate> =>
  isValidDay(year, month, day) ? Option.some(make(daysFromCivil(year, month, day))) : Option.none()

/** Midnight UTC of the date as a `Date`; none for ±infinity and dates beyond `Date`'s range. */
export const toDate = (d: PgDate): Option.Option<Date> => {
  if (isInfinite(d)) return Option.none()
  const ms = (d.days + 10957) * 86_400_000
  return Math.abs(ms) <= 8.64e15 ? Option.some(new Date(ms)) : Option.none()
}

/** The UTC day of a `Date` (hours are dropped, the local time zone is never read). */
export const fromDate = (date: Date): PgDate => make(Math.floor(date.getTime() / 86_400_000) - 10957)

/** PostgreSQL's ISO text form (`2024-02-29`, `0044-03-15 BC`, `infinity`). */
export const format = (d: PgDate): string => {
  if (d.days === DAYS_INFINITY) return "infinity"
  if (d.days === DAYS_MINUS_INFINITY) return "-infinity"
  const c = civilFromDays(d.days)
  const y = formatYear(c.year)
  return `${y.digits}-${pad2(c.month)}-${pad2(c.day)}${y.bc ? " BC" : ""}`
}
