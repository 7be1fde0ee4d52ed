/**
 * `json` and `jsonb` values without losing numbers: a `Json` keeps the text PostgreSQL sent and a parsed `value`
 * in which every number is exact. Integers that fit in a double's 53 bits are `number`, larger integers `bigint`;
 * a number with a fraction or exponent is a `number` when it has at most 15 significant digits (a double then
 * prints back as the same decimal), otherwise a `JsonDecimal` holding its text. JSON `null` is the `null` inside
 * `value`; SQL NULL is a column value of `null`, never a `Json`.
 *
 * It relies on `JSON.parse`'s reviver source access (Node 22+), so parsing stays in the engine's parser. A reviver
 * takes V8 off its fast JSON path (about 7 times slower), so a cheap scan first proves that plain `JSON.parse` is
 * already exact for the text (no exponent, no number with more than 15 significant digits or out of range), which
 * is the case for almost all JSON; only the rest takes the reviver path. It does not re-serialise: `text` is the only
 * faithful text.
 */

export interface JsonDecimal {
  readonly _tag: "JsonDecimal"
  /** The number exactly as written in the JSON text (may use an exponent). */
  readonly text: string
}

export type JsonValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonDecimal
  | ReadonlyArray<JsonValue>
  | { readonly [key: string]: JsonValue }

export interface Json {
  readonly _tag: "Json"
  /** The JSON text as PostgreSQL printed it (for `jsonb`: the server's normalised form). */
  readonly text: string
  readonly value: JsonValue
}

const significantDigits = (source: string): number => {
  const mantissa = source
    .replace(/^-/, "")
    .replace(/[eE].*$/, "")
    .replace(".", "")
  const trimmed = mantissa.replace(/^0+/, "").replace(/0+$/, "")
  return trimmed.length
}

/** The exact JavaScript value of one JSON number literal. */
export const numberOfSource = (source: string, parsed: number): number | bigint | JsonDecimal => {
  if (!/[.eE]/.test(source)) return Number.isSafeInteger(parsed) ? parsed : BigInt(source)
  const digits = significantDigits(source)
  if (digits <= 15 && Number.isFinite(parsed) && (parsed !== 0 || digits === 0)) return parsed
  return { _tag: "JsonDecimal", text: source }
}

interface ReviverContext {
  readonly source?: string
}

const reviver = (_key: string, value: unknown, context?: ReviverContext): unknown => {
  if (typeof value !== "number") return value
  if (context?.source === undefined) {
    throw new Error("JSON.parse source text access is unavailable: pgcdc needs Node 22 or later")
  }
  return numberOfSource(context.source, value)
}

/** A digit followed by an exponent marker: a number with an exponent may overflow, underflow or be long. */
const exponentRe = /\d[eE]/
/** Runs of 16 or more digits and dots: the only places a number can have more than 15 significant digits. */
const longRunRe = /[0-9.]{16,}/g

/**
 * Whether a maximal run of digits and dots (from `longRunRe`) is harmless: if it is a number literal, plain
 * `JSON.parse` gives the value the reviver would. A run with two dots is not a number (it lies inside a string). A
 * run with one dot is a decimal without exponent (checked before): exact as a double when it has at most 15
 * significant digits, and its magnitude is within [1e-300, 1e300] (finite, not flushed to 0) when it is at most 300
 * characters long. A run without a dot is an integer of 16 or more digits, which may be beyond 2^53.
 */
const isExactRun = (run: string): boolean => {
  if (run.length > 300) return false
  let dots = 0
  let first = -1
  let last = -1
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i)
    if (c === 0x2e) dots++
    else if (c !== 0x30) {
      if (first < 0) first = i
      last = i
    }
  }
  if (dots !== 1) return dots > 1
  if (first < 0) return true
  const dot = run.indexOf(".")
  return last - first + 1 - (dot > first && dot < last ? 1 : 0) <= 15
}

/**
 * Whether `JSON.parse(text)` without a reviver yields exactly the lossless value (conservative: false may still be
 * exact, and then only costs the slower path).
 */
export const isPlainParseExact = (text: string): boolean => {
  if (exponentRe.test(text)) return false
  longRunRe.lastIndex = 0
  for (let m = longRunRe.exec(text); m !== null; m = longRunRe.exec(text)) if (!isExactRun(m[0])) return false
  return true
}

/** The lossless parse through the reviver (always right, slower); `parse` uses it when the scan cannot prove safety. */
export const parseWithReviver = (text: string): Json => ({
  _tag: "Json",
  text,
  value: JSON.parse(text, reviver) as JsonValue
})

/** Parses JSON text losslessly; throws `SyntaxError` on invalid JSON. */
export const parse = (text: string): Json =>
  isPlainParseExact(text) ? { _tag: "Json", text, value: JSON.parse(text) as JsonValue } : parseWithReviver(text)
