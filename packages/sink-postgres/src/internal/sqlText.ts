/**
 * SQL text for the sink: quoted identifiers, quoted literals with a cast, and qualified names. Values are written as
 * literals in PostgreSQL's text form (the sink's statements go over the simple query protocol), which is lossless:
 * the text a value decodes from is the text it is written back as.
 *
 * It relies on `standard_conforming_strings = on` in the target session (the sink sets it): a backslash in a literal
 * is then just a backslash. It does not know about tables or rows.
 */

/** A quoted identifier: "name", with embedded quotes doubled. */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`

/** A quoted literal: 'text', with embedded quotes doubled. */
export const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`

/** A literal cast to a type: '2024-01-01'::date. */
export const typed = (text: string, type: string): string => `${literal(text)}::${type}`

export interface QualifiedName {
  readonly schema: string
  readonly name: string
}

/** "schema"."name". */
export const qualified = (table: QualifiedName): string => `${ident(table.schema)}.${ident(table.name)}`

/** `schema.name` or `name` (schema "public"), unquoted, as users write it in a mapping. */
export const parseName = (text: string): QualifiedName => {
  const dot = text.indexOf(".")
  return dot < 0 ? { schema: "public", name: text } : { schema: text.slice(0, dot), name: text.slice(dot + 1) }
}

export const nameKey = (table: QualifiedName): string => `${table.schema}.${table.name}`
