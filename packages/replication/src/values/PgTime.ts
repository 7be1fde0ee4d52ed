/**
 * `time` and `time with time zone` values: microseconds since midnight (0 to 24:00:00 inclusive, as PostgreSQL
 * allows), and for `timetz` the UTC offset it was written with, in seconds east of Greenwich (ISO sign, the opposite
 * of PostgreSQL's internal "seconds west").
 *
 * Deliberately not converted to anything zone-aware: a `timetz` has no date, so no zone rule applies to it.
 */
import { formatClock, pad2 } from "../internal/values/Calendar.ts"

export interface PgTime {
  readonly _tag: "PgTime"
  /** Microseconds since midnight, 0 to 86_400_000_000. */
  readonly micros: number
}

export interface PgTimeTz {
  readonly _tag: "PgTimeTz"
  /** Microseconds since midnight in the written offset. */
  readonly micros: number
  /** UTC offset in seconds, positive east of Greenwich (`+05:30` is 19800). */
  readonly offsetSeconds: number
}

export const make = (micros: number): PgTime => ({ _tag: "PgTime", micros })
export const makeTz = (micros: number, offsetSeconds: number): PgTimeTz => ({ _tag: "PgTimeTz", micros, offsetSeconds })

/** `+HH[:MM[:SS]]` as PostgreSQL prints UTC offsets. */
export const formatOffset = (offsetSeconds: number): string => {
  const sign = offsetSeconds < 0 ? "-" : "+"
  const abs = Math.abs(offsetSeconds)
  const h = Math.floor(abs / 3600)
  const m = Math.floor(abs / 60) % 60
  const s = abs % 60
  return `${sign}${pad2(h)}${m !== 0 || s !== 0 ? `:${pad2(m)}` : ""}${s !== 0 ? `:${pad2(s)}` : ""}`
}

export const format = (t: PgTime): string => formatClock(BigInt(t.micros))
export const formatTz = (t: PgTimeTz): string => `${formatClock(BigInt(t.micros))}${formatOffset(t.offsetSeconds)}`
