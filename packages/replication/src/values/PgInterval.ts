/**
 * `interval` values as PostgreSQL stores them: months, days and microseconds kept apart, because a month is not a
 * fixed number of days and a day is not always 24 hours (daylight saving). PostgreSQL 17's `±infinity` intervals are
 * the all-maximum and all-minimum values, as on the server.
 *
 * It deliberately offers no conversion to a duration: which one is right depends on a calendar and a zone.
 */
import { formatClock } from "../internal/values/Calendar.ts"

export interface PgInterval {
  readonly _tag: "PgInterval"
  readonly months: number
  readonly days: number
  readonly micros: bigint
}

export const make = (months: number, days: number, micros: bigint): PgInterval => ({
  _tag: "PgInterval",
  months,
  days,
  micros
})

export const infinity: PgInterval = make(2147483647, 2147483647, 0x7fff_ffff_ffff_ffffn)
export const minusInfinity: PgInterval = make(-2147483648, -2147483648, -0x8000_0000_0000_0000n)

const isInfinity = (i: PgInterval): boolean =>
  i.months === infinity.months && i.days === infinity.days && i.micros === infinity.micros
const isMinusInfinity = (i: PgInterval): boolean =>
  i.months === minusInfinity.months && i.days === minusInfinity.days && i.micros === minusInfinity.micros

/** PostgreSQL's `IntervalStyle=postgres` text form (`1 year 2 mons -3 days +04:05:06.5`). */
export const format = (i: PgInterval): string => {
  if (isInfinity(i)) return "infinity"
  if (isMinusInfinity(i)) return "-infinity"
  const parts: Array<string> = []
  let negativeSeen = false
  const part = (value: number, unit: string): void => {
    if (value === 0) return
    parts.push(`${negativeSeen && value > 0 ? "+" : ""}${value} ${unit}${value === 1 ? "" : "s"}`)
    negativeSeen = value < 0
  }
  part(Math.trunc(i.months / 12), "year")
  part(i.months % 12, "mon")
  part(i.days, "day")
  if (parts.length === 0 || i.micros !== 0n) {
    const sign = i.micros < 0n ? "-" : negativeSeen ? "+" : ""
    parts.push(`${sign}${formatClock(i.micros < 0n ? -i.micros : i.micros)}`)
  }
  return parts.join(" ")
}
