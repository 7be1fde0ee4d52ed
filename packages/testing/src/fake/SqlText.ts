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

/** Splits a select list at commas outside parentheses, brackets, quotes and CASE ... END. */
export const splitSelectList = (list: string): Array<string> => {
  const out: Array<string> = []
  let depth = 0
  let current = ""
  let quoted = false
  const words = list.split(/(\s+|,|\(|\)|\[|\]|')/)
  for (const w of words) {
    if (w === "'") quoted = !quoted
    else if (!quoted) {
      if (w === "(" || w === "[" || /^case$/i.test(w)) depth++
      else if (w === ")" || w === "]" || /^end$/i.test(w)) depth--
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

/** A name as written: `"quoted"` (quotes doubled) or unquoted (folded to lower case). */
export const namePattern = `(?:"(?:[^"]|"")+"|[a-zA-Z_][a-zA-Z0-9_$]*)`
/** `name` or `schema.name`. */
export const qualifiedPattern = `${namePattern}(?:\\s*\\.\\s*${namePattern})?`

/** The name a written name stands for: quotes removed (and undoubled), or folded to lower case. */
export const unquoteName = (name: string): string =>
  name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase()

/** The names of a list such as `a, "B", c`, as they stand. */
export const nameList = (list: string): Array<string> =>
  [...list.matchAll(new RegExp(namePattern, "g"))].map((m) => unquoteName(m[0]))

/** `schema.name` or `name` (schema public) as the schema and the name, with how a message names it. */
export const relationName = (
  written: string
): { readonly schema: string; readonly name: string; readonly shown: string } => {
  const parts = [...written.matchAll(new RegExp(namePattern, "g"))].map((m) => unquoteName(m[0]))
  const name = parts.at(-1)!
  return parts.length === 2
    ? { schema: parts[0]!, name, shown: `${parts[0]}.${name}` }
    : { schema: "public", name, shown: name }
}
