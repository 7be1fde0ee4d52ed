/**
 * Small readers of SQL text that the fake's statement handlers share: string literals (`'it''s'`, `E'a\\b'`), lists
 * of them, and a select list split into its expressions.
 *
 * It deliberately parses no grammar: the handlers match the shapes they answer and fall through on anything else.
 */

/** `'text'` (quotes doubled) or `E'text'` (backslash escapes too); undefined for anything else. */
export const stringLiteral = (text: string): string | undefined => {
  const m = /^(E)?'((?:[^']|'')*)'$/is.exec(text.trim())
  if (m === null) return undefined
  const body = m[2]!.replaceAll("''", "'")
  if (m[1] === undefined) return body
  return body.replace(/\\(.)/gs, (_all, ch: string) =>
    ch === "n" ? "\n" : ch === "t" ? "\t" : ch === "r" ? "\r" : ch === "b" ? "\b" : ch === "f" ? "\f" : ch
  )
}

/** The string literals of a comma-separated list (`'a', E'b\\c'`), decoded; what is not a literal is left out. */
export const stringLiterals = (list: string): Array<string> =>
  [...list.matchAll(/(E)?'((?:[^']|'')*)'/gis)].flatMap((m) => {
    const value = stringLiteral(m[0])
    return value === undefined ? [] : [value]
  })

/** Splits a select list at commas outside parentheses, quotes and CASE ... END. */
export const splitSelectList = (list: string): Array<string> => {
  const out: Array<string> = []
  let depth = 0
  let current = ""
  let quoted = false
  const words = list.split(/(\s+|,|\(|\)|')/)
  for (const w of words) {
    if (w === "'") quoted = !quoted
    else if (!quoted) {
      if (w === "(" || /^case$/i.test(w)) depth++
      else if (w === ")" || /^end$/i.test(w)) depth--
      else if (w === "," && depth === 0) {
        out.push(current.trim())
        current = ""
        continue
      }
    }
    current += w
  }
  if (current.trim() !== "") out.push(current.trim())
  return out
}
