/**
 * Quoting for the few SQL and replication-command texts this package builds: identifiers (publication, table,
 * schema and column names) and string literals (option values). Names are never interpolated unquoted.
 *
 * Row filters (`WHERE (...)` of a publication) are SQL expressions written by the application and passed through
 * as they are; they are not user input from the outside world and cannot be quoted.
 */
import { type ReplicationError, replicationError } from "../ReplicationError.ts"

const invalid = (what: string, value: string): ReplicationError =>
  replicationError("InvalidOption", {
    message: `Invalid ${what} ${JSON.stringify(value)}: it is empty or contains a NUL character`
  })

/** `"name"` with inner quotes doubled; throws `ReplicationError` for an empty name or NUL. */
export const ident = (name: string, what = "identifier"): string => {
  if (name.length === 0 || name.includes("\0")) throw invalid(what, name)
  return `"${name.replaceAll('"', '""')}"`
}

/** A possibly schema-qualified table name: `schema.table` parts are quoted separately. */
export const qualified = (table: { readonly schema?: string | undefined; readonly name: string }): string =>
  table.schema === undefined
    ? ident(table.name, "table name")
    : `${ident(table.schema, "schema name")}.${ident(table.name, "table name")}`

/** `'text'` with quotes doubled; an `E'...'` literal when the text has a backslash, so the server setting
 * `standard_conforming_strings` cannot change its meaning. */
export const literal = (text: string): string => {
  if (text.includes("\0")) throw invalid("string", text)
  const body = text.replaceAll("'", "''")
  return text.includes("\\") ? `E'${body.replaceAll("\\", "\\\\")}'` : `'${body}'`
}

/** Slot names: PostgreSQL's rule (lower-case letters, digits, underscores; at most 63). */
export const slotName = (name: string): string => {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) {
    throw replicationError("InvalidOption", {
      message: `Invalid replication slot name ${JSON.stringify(name)}: use 1 to 63 lower-case letters, digits and underscores`
    })
  }
  return name
}
