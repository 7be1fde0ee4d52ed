/**
 * Fast paths for the text forms that dominate replication streams: integers, and the date/time types in their common
 * ISO shape (4-digit year, no BC, DateStyle ISO). Each reads character codes directly, builds no intermediate
 * strings, regex matches or `Date`s, and returns `undefined` ("not handled here") for anything it does not fully
 * recognise or whose validity it does not decide itself; the caller then runs the general parser, which has the last
 * word on both values and errors. So a fast path can only ever be faster, never different (property tests compare
 * each with the general parser).
 *
 * It deliberately handles no error reporting and no rare shapes (BC, years past 9999, infinity, timetz, interval).
 */
import { daysFromCivil, isValidDay } from "./Calendar.ts"

const C0 = 0x30
const MINUS = 0x2d
const PLUS = 0x2b

/** Value of the two ASCII digits at `i`, or -1. */
const two = (s: string, i: number): number => {
  const a = s.charCodeAt(i) - C0
  const b = s.charCodeAt(i + 1) - C0
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/**
 * An optionally negative decimal integer of at most 15 digits (always exact as a double), as written, or undefined.
 * "-0" gives -0, like `Number("-0")`.
 */
export const smallInteger = (s: string): number | undefined => {
  const n = s.length
  let i = 0
  const negative = n > 0 && s.charCodeAt(0) === MINUS
  if (negative) i = 1
  if (n === i || n - i > 15) return undefined
  let v = 0
  for (; i < n; i++) {
    const d = s.charCodeAt(i) - C0
    if (d < 0 || d > 9) return undefined
    v = v * 10 + d
  }
  return negative ? -v : v
}

/** Days since 2000-01-01 of `YYYY-MM-DD` at the start of `s`, or undefined (year 0000 and invalid days included). */
const isoDay = (s: string): number | undefined => {
  const y1 = two(s, 0)
  const y2 = two(s, 2)
  const month = two(s, 5)
  const day = two(s, 8)
  if (y1 < 0 || y2 < 0 || month < 0 || day < 0 || s.charCodeAt(4) !== MINUS || s.charCodeAt(7) !== MINUS) {
    return undefined
  }
  const year = y1 * 100 + y2
  if (year === 0 || !isValidDay(year, month, day)) return undefined
  return daysFromCivil(year, month, day)
}

/** `date`: days since 2000-01-01 for a plain `YYYY-MM-DD`. */
export const dateDays = (s: string): number | undefined => (s.length === 10 ? isoDay(s) : undefined)

/**
 * Microseconds of `HH:MM:SS[.f{1,6}]` at `at`, and where it ends, written into `out` (0: micros, 1: end), or false.
 * Hours 0-23 only (24:00:00 is left to the general parser).
 */
const clock = (s: string, at: number, out: Float64Array): boolean => {
  const h = two(s, at)
  const m = two(s, at + 3)
  const sec = two(s, at + 6)
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return false
  if (s.charCodeAt(at + 2) !== 0x3a || s.charCodeAt(at + 5) !== 0x3a) return false
  let micros = ((h * 60 + m) * 60 + sec) * 1_000_000
  let i = at + 8
  if (i < s.length && s.charCodeAt(i) === 0x2e) {
    i++
    let scale = 100_000
    const from = i
    for (; i < s.length && i - from < 6; i++) {
      const d = s.charCodeAt(i) - C0
      if (d < 0 || d > 9) break
      micros += d * scale
      scale /= 10
    }
    if (i === from) return false
  }
  out[0] = micros
  out[1] = i
  return true
}

const scratch = new Float64Array(2)

/** `time`: microseconds since midnight for `HH:MM:SS[.ffffff]` (hours below 24). */
export const timeMicros = (s: string): number | undefined =>
  clock(s, 0, scratch) && scratch[1] === s.length ? scratch[0] : undefined

const MICROS_PER_DAY = 86_400_000_000
/** Beyond this many days from 2000-01-01 the microseconds may exceed 2^53: the general parser uses bigint. */
const SAFE_DAYS = 100_000

/**
 * `timestamp` (`zoned` false) or `timestamptz` (`zoned` true): microseconds since 2000-01-01 (UTC for timestamptz,
 * the written offset applied) for `YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]]` with a 4-digit year within about
 * 270 years of 2000.
 */
export const timestampMicros = (s: string, zoned: boolean): bigint | undefined => {
  if (s.length < 19 || s.charCodeAt(10) !== 0x20) return undefined
  const days = isoDay(s)
  if (days === undefined || days > SAFE_DAYS || days < -SAFE_DAYS || !clock(s, 11, scratch)) return undefined
  let micros = days * MICROS_PER_DAY + scratch[0]!
  let i = scratch[1]!
  const n = s.length
  if (zoned) {
    const sign = s.charCodeAt(i)
    if (sign !== PLUS && sign !== MINUS) return undefined
    const oh = two(s, i + 1)
    if (oh < 0) return undefined
    let offset = oh * 3600
    i += 3
    if (i < n) {
      if (s.charCodeAt(i) !== 0x3a) return undefined
      const om = two(s, i + 1)
      if (om < 0) return undefined
      offset += om * 60
      i += 3
      if (i < n) {
        if (s.charCodeAt(i) !== 0x3a) return undefined
        const os = two(s, i + 1)
        if (os < 0) return undefined
        offset += os
        i += 3
      }
    }
    micros -= (sign === MINUS ? -offset : offset) * 1_000_000
  }
  return i === n ? BigInt(micros) : undefined
}

// ---- The same fast paths over the ASCII bytes of a value (the WalDecoder reads values straight from messages) ----

/** Value of the two ASCII digits at `buf[i]`, or -1. */
const twoAt = (buf: Uint8Array, i: number): number => {
  const a = buf[i]! - C0
  const b = buf[i + 1]! - C0
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/** `timestampMicros` of the text in `buf[from, to)` (ASCII bytes), or undefined. */
export const timestampMicrosAt = (buf: Uint8Array, from: number, to: number, zoned: boolean): bigint | undefined => {
  if (to - from < 19 || buf[from + 10] !== 0x20) return undefined
  const y1 = twoAt(buf, from)
  const y2 = twoAt(buf, from + 2)
  const month = twoAt(buf, from + 5)
  const day = twoAt(buf, from + 8)
  if (y1 < 0 || y2 < 0 || month < 0 || day < 0 || buf[from + 4] !== MINUS || buf[from + 7] !== MINUS) return undefined
  const year = y1 * 100 + y2
  if (year === 0 || !isValidDay(year, month, day)) return undefined
  const days = daysFromCivil(year, month, day)
  if (days > SAFE_DAYS || days < -SAFE_DAYS) return undefined
  const h = twoAt(buf, from + 11)
  const m = twoAt(buf, from + 14)
  const sec = twoAt(buf, from + 17)
  if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59) return undefined
  if (buf[from + 13] !== 0x3a || buf[from + 16] !== 0x3a) return undefined
  let micros = days * MICROS_PER_DAY + ((h * 60 + m) * 60 + sec) * 1_000_000
  let i = from + 19
  if (i < to && buf[i] === 0x2e) {
    i++
    let scale = 100_000
    const fractionStart = i
    for (; i < to && i - fractionStart < 6; i++) {
      const d = buf[i]! - C0
      if (d < 0 || d > 9) break
      micros += d * scale
      scale /= 10
    }
    if (i === fractionStart) return undefined
  }
  if (zoned) {
    const sign = buf[i]
    if (i + 3 > to || (sign !== PLUS && sign !== MINUS)) return undefined
    const oh = twoAt(buf, i + 1)
    if (oh < 0) return undefined
    let offset = oh * 3600
    i += 3
    if (i < to) {
      if (i + 3 > to || buf[i] !== 0x3a) return undefined
      const om = twoAt(buf, i + 1)
      if (om < 0) return undefined
      offset += om * 60
      i += 3
      if (i < to) {
        if (i + 3 > to || buf[i] !== 0x3a) return undefined
        const os = twoAt(buf, i + 1)
        if (os < 0) return undefined
        offset += os
        i += 3
      }
    }
    micros -= (sign === MINUS ? -offset : offset) * 1_000_000
  }
  return i === to ? BigInt(micros) : undefined
}
