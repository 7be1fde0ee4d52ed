/**
 * `json` and `jsonb` values without losing numbers: a `Json` keeps the text PostgreSQL sent and a parsed `value`
 * in which every number is exact. Integers that fit in a double's 53 bits are `number`, larger integers `bigint`;
 * a number with a fraction or exponent is a `number` when it has at most 15 significant digits (a double then
 * prints back as the same decimal), otherwise a `JsonDecimal` holding its text. JSON `null` is the `null` inside
 * `value`; SQL NULL is a column value of `null`, never a `Json`.
 *
 * It relies on `JSON.parse`'s reviver source access (Node 22+), so parsing stays in the engine's parser. It does
 * not re-serialise: `text` is the only faithful text.
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

/** Parses JSON text losslessly; throws `SyntaxError` on invalid JSON. */
export const parse = (text: string): Json => ({ _tag: "Json", text, value: JSON.parse(text, reviver) as JsonValue })
