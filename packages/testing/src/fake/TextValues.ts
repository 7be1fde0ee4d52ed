/**
 * Values the fake's own SQL writes, in the text form PostgreSQL prints them (the fake stores every value as that
 * text): one-dimensional arrays (`{5}`, `{"a b",NULL}`, as array_out quotes them), their `array_to_json` form, and
 * the `now()` of a timestamptz column in the UTC the fake's sessions report.
 *
 * Checked against PostgreSQL 14 and 18 (test/integration/fakeBackfill.postgres.test.ts). It deliberately knows only
 * one-dimensional arrays with the comma delimiter, and UTC.
 */

/** Whether array_out quotes an element: empty, the word NULL, or holding a quote, backslash, brace, comma or space. */
const needsQuotes = (element: string): boolean =>
  element === "" || /^null$/i.test(element) || /["\\{},\s]/.test(element)

/** A one-dimensional array's text, as PostgreSQL prints it (NULL elements unquoted). */
export const arrayText = (elements: ReadonlyArray<string | null>): string =>
  `{${elements
    .map((e) => (e === null ? "NULL" : needsQuotes(e) ? `"${e.replace(/["\\]/g, (c) => `\\${c}`)}"` : e))
    .join(",")}}`

/** The elements of a one-dimensional array's text (array_in's rules); undefined when it is not one. */
export const parseArrayText = (text: string): Array<string | null> | undefined => {
  const body = /^\s*\{(.*)\}\s*$/s.exec(text)?.[1]
  if (body === undefined) return undefined
  if (body.trim() === "") return []
  const out: Array<string | null> = []
  let i = 0
  for (;;) {
    while (/\s/.test(body[i] ?? "")) i++
    let value = ""
    let quoted = false
    if (body[i] === '"') {
      quoted = true
      i++
      while (i < body.length && body[i] !== '"') {
        if (body[i] === "\\") i++
        value += body[i] ?? ""
        i++
      }
      if (body[i] !== '"') return undefined
      i++
    } else {
      while (i < body.length && body[i] !== ",") {
        if (body[i] === "\\") i++
        value += body[i] ?? ""
        i++
      }
      value = value.trim()
      if (value.includes("{") || value.includes("}")) return undefined
    }
    while (/\s/.test(body[i] ?? "")) i++
    out.push(!quoted && /^null$/i.test(value) ? null : value)
    if (i >= body.length) return out
    if (body[i] !== ",") return undefined
    i++
  }
}

/** `array_to_json(array)::text` of a text array: `["5","a b",null]` (PostgreSQL writes no spaces). */
export const arrayToJson = (text: string): string | undefined => {
  const elements = parseArrayText(text)
  return elements === undefined ? undefined : JSON.stringify(elements)
}

const pad = (n: number, width = 2): string => String(n).padStart(width, "0")

/** A timestamptz as PostgreSQL prints it in UTC: `2026-12-06 06:25:14.271+00` (no trailing zeros in the fraction). */
export const timestampText = (millis: number): string => {
  const d = new Date(millis)
  const fraction = d.getUTCMilliseconds() === 0 ? "" : `.${pad(d.getUTCMilliseconds(), 3).replace(/0+$/, "")}`
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes()
  )}:${pad(d.getUTCSeconds())}${fraction}+00`
}
