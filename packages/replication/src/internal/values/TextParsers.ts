/**
 * Parsers for the text forms of the date/time types as PostgreSQL prints them with `DateStyle=ISO` and
 * `IntervalStyle=postgres` (the replication session sets both before START_REPLICATION, see internal/session.ts).
 *
 * Each returns its value or `undefined` for text it does not recognise; the caller raises the typed error. Offsets
 * in `timestamptz` text are applied arithmetically, so the server's `TimeZone` and the process's zone never matter.
 *
 * The exported parsers try `FastText` first (the common ISO shape, read by character code) and fall back to the
 * general regex parsers here, which decide every other case; `general` exposes the latter for tests.
 */
import { daysFromCivil, fractionMicros, isValidDay, MICROS_PER_DAY } from "./Calendar.ts"
import { dateDays, timeMicros, timestampMicros } from "./FastText.ts"
import * as PgDate from "../../values/PgDate.ts"
import * as PgInterval from "../../values/PgInterval.ts"
import * as PgTime from "../../values/PgTime.ts"
import * as PgTimestamp from "../../values/PgTimestamp.ts"

const civilDays = (y: string, m: string, d: string, bc: string | undefined): number | undefined => {
  const written = Number(y)
  const year = bc === undefined ? written : 1 - written
  const month = Number(m)
  const day = Number(d)
  if (written === 0 || !isValidDay(year, month, day)) return undefined
  return daysFromCivil(year, month, day)
}

const dateRe = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/

const generalParseDate = (text: string): PgDate.PgDate | undefined => {
  if (text === "infinity") return PgDate.infinity
  if (text === "-infinity") return PgDate.minusInfinity
  const m = dateRe.exec(text)
  if (m === null) return undefined
  const days = civilDays(m[1]!, m[2]!, m[3]!, m[4])
  return days === undefined ? undefined : PgDate.make(days)
}

const clockMicros = (h: string, mi: string, s: string, f: string | undefined): number | undefined => {
  const hours = Number(h)
  const minutes = Number(mi)
  const seconds = Number(s)
  if (minutes > 59 || seconds > 59) return undefined
  const micros = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + fractionMicros(f)
  return micros > 86_400_000_000 ? undefined : micros
}

/** `+HH[:MM[:SS]]` → seconds east of UTC. */
const offsetSeconds = (sign: string, h: string, m: string | undefined, s: string | undefined): number => {
  const abs = Number(h) * 3600 + Number(m ?? "0") * 60 + Number(s ?? "0")
  return sign === "-" ? -abs : abs
}

const timeRe = /^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/
const timeTzRe = /^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?$/

const generalParseTime = (text: string): PgTime.PgTime | undefined => {
  const m = timeRe.exec(text)
  if (m === null) return undefined
  const micros = clockMicros(m[1]!, m[2]!, m[3]!, m[4])
  return micros === undefined ? undefined : PgTime.make(micros)
}

export const parseTimeTz = (text: string): PgTime.PgTimeTz | undefined => {
  const m = timeTzRe.exec(text)
  if (m === null) return undefined
  const micros = clockMicros(m[1]!, m[2]!, m[3]!, m[4])
  return micros === undefined ? undefined : PgTime.makeTz(micros, offsetSeconds(m[5]!, m[6]!, m[7], m[8]))
}

const timestampRe =
  /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$/

/** Microseconds since 2000-01-01, UTC when the text has an offset; `zoned` says whether it had one. */
const parseTimestampMicros = (text: string, zoned: boolean): bigint | undefined => {
  if (text === "infinity") return PgTimestamp.MICROS_INFINITY
  if (text === "-infinity") return PgTimestamp.MICROS_MINUS_INFINITY
  const m = timestampRe.exec(text)
  if (m === null || (m[8] !== undefined) !== zoned) return undefined
  const days = civilDays(m[1]!, m[2]!, m[3]!, m[12])
  const clock = clockMicros(m[4]!, m[5]!, m[6]!, m[7])
  if (days === undefined || clock === undefined || clock === 86_400_000_000) return undefined
  const offset = zoned ? offsetSeconds(m[8]!, m[9]!, m[10], m[11]) : 0
  return BigInt(days) * MICROS_PER_DAY + BigInt(clock) - BigInt(offset) * 1_000_000n
}

const generalParseTimestamp = (text: string): PgTimestamp.PgTimestamp | undefined => {
  const micros = parseTimestampMicros(text, false)
  return micros === undefined ? undefined : PgTimestamp.make(micros)
}

const generalParseTimestampTz = (text: string): PgTimestamp.PgTimestampTz | undefined => {
  const micros = parseTimestampMicros(text, true)
  return micros === undefined ? undefined : PgTimestamp.makeTz(micros)
}

/** The general parsers alone (no fast path), the reference the fast paths are tested against. */
export const general = {
  parseDate: generalParseDate,
  parseTime: generalParseTime,
  parseTimestamp: generalParseTimestamp,
  parseTimestampTz: generalParseTimestampTz
} as const

export const parseDate = (text: string): PgDate.PgDate | undefined => {
  const days = dateDays(text)
  return days === undefined ? generalParseDate(text) : PgDate.make(days)
}

export const parseTime = (text: string): PgTime.PgTime | undefined => {
  const micros = timeMicros(text)
  return micros === undefined ? generalParseTime(text) : PgTime.make(micros)
}

export const parseTimestamp = (text: string): PgTimestamp.PgTimestamp | undefined => {
  const micros = timestampMicros(text, false)
  return micros === undefined ? generalParseTimestamp(text) : PgTimestamp.make(micros)
}

export const parseTimestampTz = (text: string): PgTimestamp.PgTimestampTz | undefined => {
  const micros = timestampMicros(text, true)
  return micros === undefined ? generalParseTimestampTz(text) : PgTimestamp.makeTz(micros)
}

const intervalPartRe = /^([+-]?\d+) (years?|mons?|days?)$/
const intervalTimeRe = /^([+-])?(\d+):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/

export const parseInterval = (text: string): PgInterval.PgInterval | undefined => {
  if (text === "infinity") return PgInterval.infinity
  if (text === "-infinity") return PgInterval.minusInfinity
  const tokens = text.split(" ")
  let months = 0
  let days = 0
  let micros = 0n
  let i = 0
  let sawTime = false
  while (i < tokens.length) {
    const t = tokens[i]!
    const time = intervalTimeRe.exec(t)
    if (time !== null) {
      if (sawTime || i !== tokens.length - 1) return undefined
      sawTime = true
      const minutes = Number(time[3])
      const seconds = Number(time[4])
      if (minutes > 59 || seconds > 59) return undefined
      const abs =
        ((BigInt(time[2]!) * 60n + BigInt(minutes)) * 60n + BigInt(seconds)) * 1_000_000n +
        BigInt(fractionMicros(time[5]))
      micros = time[1] === "-" ? -abs : abs
      i++
      continue
    }
    const part = intervalPartRe.exec(`${t} ${tokens[i + 1] ?? ""}`)
    if (part === null) return undefined
    const n = Number(part[1])
    const unit = part[2]!
    if (unit.startsWith("year")) months += n * 12
    else if (unit.startsWith("mon")) months += n
    else days += n
    i += 2
  }
  if (tokens.length === 0 || !Number.isSafeInteger(months) || months > 2147483647 || months < -2147483648) {
    return undefined
  }
  return PgInterval.make(months, days, micros)
}
