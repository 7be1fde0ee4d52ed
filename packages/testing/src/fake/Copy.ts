/**
 * `COPY ... TO STDOUT` out of the fake's tables, in COPY's text format, as an initial snapshot reads them:
 *
 * - `COPY (SELECT "c1", "c2" FROM "schema"."table" [WHERE <filter>]) TO STDOUT`, the filter in the row filter
 *   language of RowFilter.ts (which reads what `pg_publication_tables.rowfilter` prints);
 * - `COPY "schema"."table" [("c1", ...)] TO STDOUT`.
 *
 * Rows come from the statement's view (the imported snapshot, or the database now), one line each: fields separated
 * by tabs, `\N` for NULL, and PostgreSQL's escapes (`\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\v`; other characters as
 * they are), so that a field unescaped is the text the test wrote, which is also what pgoutput sends for it. An unknown
 * table is 42P01, an unknown column 42703, with PostgreSQL's texts. A value the fake cannot print as text (a binary
 * `Uint8Array`, or an `UnchangedToast` the table never had a value for) fails the COPY with 0A000 naming the column.
 *
 * It deliberately knows no other COPY options (CSV, BINARY, delimiters), no COPY FROM, and no SELECT other than
 * columns of one table with an optional filter.
 */
import type { DatabaseView } from "./FakeServer.ts"
import { error, type Outcome } from "./Outcome.ts"
import { evaluateRowFilter, parseRowFilter, type RowFilterExpr, RowFilterUnsupported } from "./RowFilter.ts"
import type { FakeTable, FakeValue } from "./Wal.ts"

/** A name as written: `"quoted"` (quotes doubled) or unquoted (folded to lower case). */
const namePattern = `(?:"(?:[^"]|"")+"|[a-zA-Z_][a-zA-Z0-9_$]*)`
const qualifiedPattern = `${namePattern}(?:\\s*\\.\\s*${namePattern})?`

const unquote = (name: string): string =>
  name.startsWith('"') ? name.slice(1, -1).replaceAll('""', '"') : name.toLowerCase()

/** Splits `a, "b", c` at the commas outside double quotes. */
const names = (list: string): Array<string> =>
  [...list.matchAll(new RegExp(namePattern, "g"))].map((m) => unquote(m[0]))

const parts = (qualified: string): Array<string> =>
  [...qualified.matchAll(new RegExp(namePattern, "g"))].map((m) => m[0])

/** PostgreSQL's CopyAttributeOutText: backslash, the six control characters with letters, nothing else. */
const escapeField = (text: string): string =>
  text.replace(/[\\\b\f\n\r\t\v]/g, (ch) => {
    switch (ch) {
      case "\\":
        return "\\\\"
      case "\b":
        return "\\b"
      case "\f":
        return "\\f"
      case "\n":
        return "\\n"
      case "\r":
        return "\\r"
      case "\t":
        return "\\t"
      default:
        return "\\v"
    }
  })

const copyStatement = new RegExp(
  String.raw`^copy\s+(?:\(\s*select\s+(.*?)\s*\bfrom\s+(${qualifiedPattern})(?:\s+where\s+(.+))?\s*\)|(${qualifiedPattern})(?:\s*\(([^)]*)\))?)\s+to\s+stdout$`,
  "is"
)

/** The rows of a COPY ... TO STDOUT as text-format lines; undefined when `sql` is not a COPY. */
export const executeCopy = (view: DatabaseView, sql: string): Outcome | undefined => {
  if (!/^copy\b/i.test(sql)) return undefined
  const m = copyStatement.exec(sql)
  if (m === null) {
    return error("0A000", `the pgcdc fake server does not run this COPY: ${sql.slice(0, 120)}`, {
      hint: "It runs COPY (SELECT columns FROM table [WHERE filter]) TO STDOUT and COPY table [(columns)] TO STDOUT."
    })
  }
  const select = m[1]
  const relation = parts(m[2] ?? m[4]!)
  const schema = relation.length === 2 ? unquote(relation[0]!) : "public"
  const name = unquote(relation.at(-1)!)
  const table = view.tables.get(`${schema}.${name}`)
  if (table === undefined) {
    return error("42P01", `relation "${relation.length === 2 ? `${schema}.${name}` : name}" does not exist`)
  }
  const list = select !== undefined ? select.trim() : m[5]
  let wanted: ReadonlyArray<string>
  if (list === undefined) wanted = table.columns.map((c) => c.name)
  else if (list === "*") wanted = table.columns.map((c) => c.name)
  else wanted = names(list)
  const indexes: Array<number> = []
  for (const column of wanted) {
    const i = table.columns.findIndex((c) => c.name === column)
    if (i < 0) return error("42703", `column "${column}" does not exist`)
    indexes.push(i)
  }
  let filter: RowFilterExpr | undefined
  if (m[3] !== undefined) {
    try {
      filter = parseRowFilter(m[3])
    } catch (e) {
      if (!(e instanceof RowFilterUnsupported)) throw e
      return error("0A000", `the pgcdc fake server cannot evaluate this WHERE clause of COPY: ${e.message}`, {
        hint: "It evaluates what publication row filters use: see the @pgcdc/testing README."
      })
    }
  }
  const lines: Array<string> = []
  for (const row of view.rows(`${table.schema}.${table.name}`)) {
    if (filter !== undefined) {
      const column = (c: string) => {
        const def = table.columns.find((d) => d.name === c)
        if (def === undefined) return undefined
        const v = row[c]
        return { text: typeof v === "string" ? v : null, typeOid: def.typeOid }
      }
      let passes: boolean | null
      try {
        passes = evaluateRowFilter(filter, column)
      } catch (e) {
        if (!(e instanceof RowFilterUnsupported)) throw e
        return error("42703", e.message)
      }
      if (passes !== true) continue
    }
    const fields: Array<string> = []
    for (const i of indexes) {
      const text = printable(table, i, row[table.columns[i]!.name])
      if (typeof text === "object" && text !== null) return text
      fields.push(text === null ? "\\N" : escapeField(text))
    }
    lines.push(`${fields.join("\t")}\n`)
  }
  return { _tag: "CopyOut", columns: indexes.length, lines }
}

/** A stored value as COPY prints it: its text, NULL, or the error for what the fake has no text of. */
const printable = (table: FakeTable, index: number, value: FakeValue | undefined): string | null | Outcome => {
  if (value === undefined || value === null) return null
  if (typeof value === "string") return value
  const column = `${table.schema}.${table.name}.${table.columns[index]!.name}`
  return error(
    "0A000",
    value instanceof Uint8Array
      ? `the pgcdc fake server cannot COPY the binary value of ${column}: write it as text to read it in a snapshot`
      : `the pgcdc fake server has no value for ${column}: an update marked it an unchanged TOAST value, but the row was never written whole`
  )
}
