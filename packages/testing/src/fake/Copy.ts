/**
 * `COPY ... TO STDOUT` out of the fake's tables, in COPY's text format, as an initial snapshot reads them:
 *
 * - `COPY (SELECT "c1", "c2" FROM "schema"."table" [WHERE <filter>]) TO STDOUT`, the filter in the row filter
 *   language of RowFilter.ts (which reads what `pg_publication_tables.rowfilter` prints);
 * - a backfill's chunk, `COPY (SELECT ... FROM ... [WHERE [(<filter>) AND] ("k1", ...) > ('v1', ...)] ORDER BY "k1",
 *   ... LIMIT n) TO STDOUT` (the SELECT is TableRead.ts's);
 * - `COPY "schema"."table" [("c1", ...)] TO STDOUT`.
 *
 * Rows come from the statement's view (the imported snapshot, or the database now), one line each: fields separated
 * by tabs, `\N` for NULL, and PostgreSQL's escapes (`\\`, `\b`, `\f`, `\n`, `\r`, `\t`, `\v`; other characters as
 * they are), so that a field unescaped is the text the test wrote, which is also what pgoutput sends for it. An unknown
 * table is 42P01, an unknown column 42703, with PostgreSQL's texts. A value the fake cannot print as text (a binary
 * `Uint8Array`, or an `UnchangedToast` the table never had a value for) fails the COPY with 0A000 naming the column.
 *
 * It deliberately knows no other COPY options (CSV, BINARY, delimiters), no COPY FROM, and no SELECT other than
 * TableRead.ts's (columns of one table, a filter, a key condition, an order and a limit).
 */
import type { DatabaseView } from "./FakeServer.ts"
import { error, type Outcome } from "./Outcome.ts"
import { nameList, qualifiedPattern } from "./SqlText.ts"
import { isTableSelect, type Selection, selectRows } from "./TableRead.ts"
import type { FakeTable, FakeValue } from "./Wal.ts"

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
  String.raw`^copy\s+(?:\(\s*(select\b.*)\)|(${qualifiedPattern})(?:\s*\(([^)]*)\))?)\s+to\s+stdout$`,
  "is"
)

/** The rows of a COPY ... TO STDOUT as text-format lines; undefined when `sql` is not a COPY. */
export const executeCopy = (view: DatabaseView, sql: string): Outcome | undefined => {
  if (!/^copy\b/i.test(sql)) return undefined
  const m = copyStatement.exec(sql)
  if (m === null || (m[1] !== undefined && !isTableSelect(m[1]))) {
    return error("0A000", `the pgcdc fake server does not run this COPY: ${sql.slice(0, 120)}`, {
      hint: "It runs COPY (SELECT columns FROM table [WHERE filter] [ORDER BY columns] [LIMIT n]) TO STDOUT and COPY table [(columns)] TO STDOUT."
    })
  }
  let selection: Selection | Outcome
  if (m[1] !== undefined) selection = selectRows(view, m[1])
  else {
    const list = m[3]
    const columns =
      list === undefined
        ? "*"
        : nameList(list)
            .map((n) => `"${n.replaceAll('"', '""')}"`)
            .join(", ")
    selection = selectRows(view, `SELECT ${columns} FROM ${m[2]!}`)
  }
  if ("_tag" in selection) return selection
  const lines: Array<string> = []
  for (const row of selection.rows) {
    const fields: Array<string> = []
    for (const output of selection.outputs) {
      const text = printable(selection.table, output.name, output.value(row))
      if (typeof text === "object" && text !== null) return text
      fields.push(text === null ? "\\N" : escapeField(text))
    }
    lines.push(`${fields.join("\t")}\n`)
  }
  return { _tag: "CopyOut", columns: selection.outputs.length, lines }
}

/** A stored value as COPY prints it: its text, NULL, or the error for what the fake has no text of. */
const printable = (table: FakeTable, name: string, value: FakeValue | undefined): string | null | Outcome => {
  if (value === undefined || value === null) return null
  if (typeof value === "string") return value
  const column = `${table.schema}.${table.name}.${name}`
  return error(
    "0A000",
    value instanceof Uint8Array
      ? `the pgcdc fake server cannot COPY the binary value of ${column}: write it as text to read it in a snapshot`
      : `the pgcdc fake server has no value for ${column}: an update marked it an unchanged TOAST value, but the row was never written whole`
  )
}
