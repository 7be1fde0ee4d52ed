/**
 * `numeric` values as exact decimal text, never a JavaScript number: `Numeric` holds PostgreSQL's own text form
 * (`-12.3400`, with the column's scale), or `NaN`, `Infinity`, `-Infinity`.
 *
 * Also the binary layout (base-10000 digit groups, weight, sign, display scale) in both directions, producing the
 * text that `numeric_out` prints, so text and binary replication give equal values. Arithmetic is out of scope: use
 * a decimal library on `.value` when you need it.
 */
import * as Option from "effect/Option"

export interface Numeric {
  readonly _tag: "Numeric"
  /** The decimal text as PostgreSQL prints it (no exponent), or `NaN`, `Infinity`, `-Infinity`. */
  readonly value: string
}

const pattern = /^(?:-?\d+(?:\.\d+)?|NaN|-?Infinity)$/

/** Wraps a decimal text after checking its form; none when it is not a decimal as PostgreSQL prints it. */
export const fromString = (text: string): Option.Option<Numeric> =>
  pattern.test(text) ? Option.some({ _tag: "Numeric", value: text }) : Option.none()

export const unsafeMake = (text: string): Numeric => ({ _tag: "Numeric", value: text })

/** Whether the value is a decimal number (not `NaN` or an infinity). */
export const isDecimal = (n: Numeric): boolean => n.value !== "NaN" && n.value !== "Infinity" && n.value !== "-Infinity"

/** Lossy: the nearest double. */
export const toNumber = (n: Numeric): number => Number(n.value)

/** The exact integer, or none when the value has a non-zero fraction or is not finite. */
export const toBigInt = (n: Numeric): Option.Option<bigint> => {
  if (!isDecimal(n)) return Option.none()
  const [int, frac = ""] = n.value.split(".")
  return /^0*$/.test(frac) ? Option.some(BigInt(int!)) : Option.none()
}

const SIGN_POS = 0x0000
const SIGN_NEG = 0x4000
const SIGN_NAN = 0xc000
const SIGN_PINF = 0xd000
const SIGN_NINF = 0xf000

export interface NumericBinary {
  readonly weight: number
  readonly sign: number
  readonly dscale: number
  readonly digits: ReadonlyArray<number>
}

/** The text `numeric_out` prints for a binary numeric; undefined when the sign word or a digit is invalid. */
export const textOfBinary = (b: NumericBinary): string | undefined => {
  if (b.sign === SIGN_NAN) return "NaN"
  if (b.sign === SIGN_PINF) return "Infinity"
  if (b.sign === SIGN_NINF) return "-Infinity"
  if (b.sign !== SIGN_POS && b.sign !== SIGN_NEG) return undefined
  if (b.dscale < 0 || b.dscale > 0x3fff) return undefined
  for (const d of b.digits) if (d < 0 || d > 9999) return undefined
  const group = (i: number): number => (i >= 0 && i < b.digits.length ? b.digits[i]! : 0)
  let int = ""
  if (b.weight < 0) int = "0"
  else {
    for (let i = 0; i <= b.weight; i++) {
      const g = String(group(i))
      int += i === 0 ? g : g.padStart(4, "0")
    }
  }
  let frac = ""
  if (b.dscale > 0) {
    for (let i = b.weight + 1; frac.length < b.dscale; i++) frac += String(group(i)).padStart(4, "0")
    frac = `.${frac.slice(0, b.dscale)}`
  }
  const text = `${int}${frac}`
  return b.sign === SIGN_NEG && /[1-9]/.test(text) ? `-${text}` : text
}

/** The binary layout of a decimal text (the inverse of `textOfBinary`, as `numeric_send` would write it). */
export const binaryOfText = (text: string): NumericBinary => {
  if (text === "NaN") return { weight: 0, sign: SIGN_NAN, dscale: 0, digits: [] }
  if (text === "Infinity") return { weight: 0, sign: SIGN_PINF, dscale: 0, digits: [] }
  if (text === "-Infinity") return { weight: 0, sign: SIGN_NINF, dscale: 0, digits: [] }
  const negative = text.startsWith("-")
  const [intRaw, frac = ""] = (negative ? text.slice(1) : text).split(".")
  const int = intRaw!.replace(/^0+/, "")
  // Align the integer part on a 4-digit group boundary to the left, the fraction to the right.
  const intPadded = int.padStart(Math.ceil(int.length / 4) * 4, "0")
  const fracPadded = frac.padEnd(Math.ceil(frac.length / 4) * 4, "0")
  const all = intPadded + fracPadded
  const groups: Array<number> = []
  for (let i = 0; i < all.length; i += 4) groups.push(Number(all.slice(i, i + 4)))
  let weight = intPadded.length / 4 - 1
  // Strip leading and trailing zero groups as numeric_send does.
  let start = 0
  while (start < groups.length && groups[start] === 0) {
    start++
    weight--
  }
  let end = groups.length
  while (end > start && groups[end - 1] === 0) end--
  const digits = groups.slice(start, end)
  if (digits.length === 0) weight = 0
  return { weight, sign: negative && digits.length > 0 ? SIGN_NEG : SIGN_POS, dscale: frac.length, digits }
}
