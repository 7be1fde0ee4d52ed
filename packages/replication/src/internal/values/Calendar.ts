/**
 * Proleptic Gregorian day arithmetic on plain integers, for any year PostgreSQL can store (4713 BC to 5874897 AD).
 *
 * JavaScript's `Date` covers only ±275760 years and reads the local time zone in half its methods; these functions
 * never touch `Date`. Years are astronomical (1 BC is year 0, 2 BC is year -1), as in ISO 8601.
 * They deliberately do no validation beyond `isValidDay`: parsers check their input before calling them.
 */

/** Days between 1970-01-01 and 2000-01-01, PostgreSQL's epoch for dates and timestamps. */
export const POSTGRES_EPOCH_DAYS = 10957

/** Days since 2000-01-01 of the civil date `year-month-day` (month 1..12). */
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468 - POSTGRES_EPOCH_DAYS
}

export interface CivilDate {
  /** Astronomical year: 0 is 1 BC. */
  readonly year: number
  readonly month: number
  readonly day: number
}

/** The civil date of a day count since 2000-01-01. */
export const civilFromDays = (days: number): CivilDate => {
  const z = days + POSTGRES_EPOCH_DAYS + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day }
}

const isLeap = (year: number): boolean => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

export const isValidDay = (year: number, month: number, day: number): boolean =>
  month >= 1 && month <= 12 && day >= 1 && day <= (month === 2 && isLeap(year) ? 29 : monthDays[month - 1]!)

/** Formats an astronomical year as PostgreSQL's ISO output does: at least 4 digits, and " BC" (returned apart). */
export const formatYear = (year: number): { readonly digits: string; readonly bc: boolean } =>
  year > 0
    ? { digits: String(year).padStart(4, "0"), bc: false }
    : { digits: String(1 - year).padStart(4, "0"), bc: true }

export const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

export const MICROS_PER_SECOND = 1_000_000n
export const MICROS_PER_DAY = 86_400_000_000n

/** `HH:MM:SS[.ffffff]` with trailing zeros of the fraction trimmed, as PostgreSQL prints times. */
export const formatClock = (micros: bigint): string => {
  const totalSeconds = micros / MICROS_PER_SECOND
  const fraction = Number(micros % MICROS_PER_SECOND)
  const hours = totalSeconds / 3600n
  const minutes = Number((totalSeconds / 60n) % 60n)
  const seconds = Number(totalSeconds % 60n)
  const hh = hours < 10n ? `0${hours}` : String(hours)
  const frac = fraction === 0 ? "" : `.${String(fraction).padStart(6, "0").replace(/0+$/, "")}`
  return `${hh}:${pad2(minutes)}:${pad2(seconds)}${frac}`
}

/** Microseconds of a fraction of a second written with 1 to 6 digits after the point ("5" is 500000). */
export const fractionMicros = (digits: string | undefined): number =>
  digits === undefined ? 0 : Number(digits.padEnd(6, "0"))
