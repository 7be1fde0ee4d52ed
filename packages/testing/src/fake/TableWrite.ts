/**
 * The writing statements the fake runs, by shape (BackfillSql.ts decides which; these only parse and apply):
 *
 * - `CREATE TABLE IF NOT EXISTS <table> (<name> <type> [PRIMARY KEY] [NOT NULL] [DEFAULT <value>], ...
 *   [, PRIMARY KEY (<names>)])`: a fake table (`Wal.defineTable`, so it is published and streamed like any other),
 *   its primary key as its key columns, its defaults and NOT NULL columns kept for INSERT;
 * - `INSERT INTO <table> (<names>) VALUES (<values>)`: one row, defaults for the columns it leaves out; a duplicate
 *   primary key is 23505 and a NULL in a NOT NULL column 23502, with PostgreSQL's texts;
 * - `UPDATE <table> SET <name> = <value>, ... WHERE <filter>`: every row the filter (RowFilter.ts) is true for.
 *
 * Values are constants: 'text' and E'text', numbers, NULL, TRUE/FALSE, `now()` (the server's clock, printed as a
 * timestamptz in UTC), and `ARRAY['a', ...]` (optionally `::text[]`). The changes go through Writes.ts (committed at
 * once, or with the open block), so the stream carries them as PostgreSQL's would. Anything else is 0A000 naming
 * what the fake cannot evaluate. It deliberately knows no other constraints, no expressions over columns, no RETURNING.
 */
import type { DatabaseView, FakeServer } from "./FakeServer.ts"
import type { HeapRow } from "./Heap.ts"
import { command, error, type Outcome } from "./Outcome.ts"
import { evaluateRowFilter, RowFilterUnsupported } from "./RowFilter.ts"
import { parseRowFilter } from "./RowFilterParser.ts"
import { nameList, namePattern, qualifiedPattern, relationName, splitSelectList, stringLiteral } from "./SqlText.ts"
import { arrayText, timestampText } from "./TextValues.ts"
import type { SqlSessionState } from "./Transaction.ts"
import { typeOidByName } from "./Types.ts"
import { Change, type FakeChange, type FakeColumn, type FakeRow, type FakeTable, type FakeValue } from "./Wal.ts"
import { writeChanges } from "./Writes.ts"

/** What CREATE TABLE said about a table beyond its columns. */
export interface SqlTableInfo {
  /** Column → its DEFAULT, as written. */
  readonly defaults: ReadonlyMap<string, string>
  readonly notNull: ReadonlySet<string>
}

/** A constant as the column stores it (text as printed), or an error Outcome for what the fake cannot evaluate. */
export const constantValue = (server: FakeServer, written: string): FakeValue | Outcome => {
  const text = written.trim()
  const literal = /^(E?'(?:[^']|'')*')(?:::[a-z ]+)?$/is.exec(text)
  if (literal !== null) return stringLiteral(literal[1]!)!
  if (/^[+-]?\d+(\.\d+)?$/.test(text)) return text.replace(/^\+/, "")
  if (/^null$/i.test(text)) return null
  if (/^(true|false)$/i.test(text)) return text.toLowerCase() === "true" ? "t" : "f"
  if (/^(now\(\s*\)|current_timestamp|transaction_timestamp\(\s*\))$/i.test(text)) return timestampText(server.now())
  const array = /^array\s*\[(.*?)\](?:\s*::\s*text\s*\[\s*\])?$/is.exec(text)
  if (array !== null) {
    const elements: Array<string | null> = []
    for (const item of array[1]!.trim() === "" ? [] : splitSelectList(array[1]!)) {
      const value = constantValue(server, item)
      if (typeof value === "object" && value !== null) return value
      if (value !== null && typeof value !== "string") return unsupported(item)
      elements.push(value)
    }
    return arrayText(elements)
  }
  return unsupported(text)
}

const unsupported = (what: string): Outcome =>
  error("0A000", `the pgcdc fake server cannot evaluate ${what.slice(0, 80)} in a write`, {
    hint: "It writes constants ('text', numbers, NULL, TRUE/FALSE, now(), ARRAY['...'])."
  })

const isOutcome = (v: FakeValue | Outcome): v is Outcome => typeof v === "object" && v !== null && "_tag" in v

const constraintWords = /^(primary|not|null|default|unique|references|check|constraint|collate|generated)\b/i

/** `CREATE TABLE [IF NOT EXISTS] <table> (...)`; undefined when `sql` is not one. */
export const createTable = (server: FakeServer, sql: string): Outcome | undefined => {
  const m = new RegExp(
    String.raw`^create\s+table\s+(if\s+not\s+exists\s+)?(?:/\*.*?\*/\s*)?(${qualifiedPattern})\s*\((.*)\)$`,
    "is"
  ).exec(sql)
  if (m === null) return undefined
  const relation = relationName(m[2]!)
  const qualified = `${relation.schema}.${relation.name}`
  if (server.wal.definitions().has(qualified)) {
    return m[1] !== undefined ? command("CREATE TABLE") : error("42P07", `relation "${relation.name}" already exists`)
  }
  const columns: Array<{ name: string; typeOid: number; key: boolean }> = []
  const defaults = new Map<string, string>()
  const notNull = new Set<string>()
  const keys: Array<string> = []
  for (const item of splitSelectList(m[3]!)) {
    const tableKey = /^primary\s+key\s*\((.*)\)$/is.exec(item)
    if (tableKey !== null) {
      keys.push(...nameList(tableKey[1]!))
      continue
    }
    const def = new RegExp(`^(${namePattern})\\s+(.*)$`, "s").exec(item)
    if (def === null) return unsupported(item)
    const name = nameList(def[1]!)[0]!
    const words = def[2]!.split(/\s+/)
    const typeWords: Array<string> = []
    while (words.length > 0 && !constraintWords.test(words[0]!)) typeWords.push(words.shift()!)
    const typeOid = typeOidByName(typeWords.join(" "))
    if (typeOid === undefined) return error("42704", `type "${typeWords.join(" ")}" does not exist`)
    let rest = words.join(" ")
    while (rest !== "") {
      const primary = /^primary\s+key\b\s*/i.exec(rest)
      const required = /^not\s+null\b\s*/i.exec(rest)
      const nullable = /^null\b\s*/i.exec(rest)
      const fallback = /^default\s+((?:[a-z_]+\(\s*\))|E?'(?:[^']|'')*'(?:::[a-z ]+)?|[^\s]+)\s*/i.exec(rest)
      const matched = primary ?? required ?? nullable ?? fallback
      if (matched === null) return unsupported(rest)
      if (primary !== null) keys.push(name)
      if (primary !== null || required !== null) notNull.add(name)
      if (fallback !== null) defaults.set(name, fallback[1]!)
      rest = rest.slice(matched[0].length)
    }
    columns.push({ name, typeOid, key: false })
  }
  for (const key of keys) notNull.add(key)
  const defined: Array<FakeColumn> = columns.map((c) => ({
    name: c.name,
    typeOid: c.typeOid,
    key: keys.includes(c.name)
  }))
  server.wal.defineTable({ schema: relation.schema, name: relation.name, columns: defined })
  server.sqlTables.set(qualified, { defaults, notNull })
  server.changed()
  return command("CREATE TABLE")
}

const tableOf = (view: DatabaseView, written: string): FakeTable | Outcome => {
  const relation = relationName(written)
  return (
    view.tables.get(`${relation.schema}.${relation.name}`) ??
    error("42P01", `relation "${relation.shown}" does not exist`)
  )
}

const keyText = (table: FakeTable, row: FakeRow): string =>
  JSON.stringify(table.columns.filter((c) => c.key === true).map((c) => row[c.name] ?? null))

/** `INSERT INTO <table> (<names>) VALUES (<values>)`; undefined when `sql` is not one. */
export const insertRow = (
  server: FakeServer,
  state: SqlSessionState,
  view: DatabaseView,
  sql: string
): Outcome | undefined => {
  const m = new RegExp(
    String.raw`^insert\s+into\s+(?:/\*.*?\*/\s*)?(${qualifiedPattern})\s*\(([^)]*)\)\s*values\s*\((.*)\)$`,
    "is"
  ).exec(sql)
  if (m === null) return undefined
  const table = tableOf(view, m[1]!)
  if ("_tag" in table) return table
  const names = nameList(m[2]!)
  const values = splitSelectList(m[3]!)
  if (names.length !== values.length) {
    return error(
      "42601",
      `INSERT has more ${names.length > values.length ? "target columns" : "expressions"} than ${names.length > values.length ? "expressions" : "target columns"}`
    )
  }
  const info = server.sqlTables.get(`${table.schema}.${table.name}`)
  const row: Record<string, FakeValue> = {}
  for (const column of table.columns) {
    const given = names.indexOf(column.name)
    const written = given >= 0 ? values[given] : info?.defaults.get(column.name)
    const value = written === undefined ? null : constantValue(server, written)
    if (isOutcome(value)) return value
    if (value === null && info?.notNull.has(column.name) === true) {
      return error(
        "23502",
        `null value in column "${column.name}" of relation "${table.name}" violates not-null constraint`
      )
    }
    row[column.name] = value
  }
  for (const name of names) {
    if (!table.columns.some((c) => c.name === name)) {
      return error("42703", `column "${name}" of relation "${table.name}" does not exist`)
    }
  }
  const keys = table.columns.filter((c) => c.key === true)
  if (keys.length > 0) {
    const key = keyText(table, row)
    for (const stored of view.rows(`${table.schema}.${table.name}`)) {
      if (keyText(table, stored) !== key) continue
      const shown = keys.map((c) => row[c.name]).join(", ")
      return error("23505", `duplicate key value violates unique constraint "${table.name}_pkey"`, {
        detail: `Key (${keys.map((c) => c.name).join(", ")})=(${shown}) already exists.`
      })
    }
  }
  return writeChanges(server, state, [Change.insert(`${table.schema}.${table.name}`, row)]) ?? command("INSERT 0 1")
}

/** `UPDATE <table> SET <name> = <value>, ... WHERE <filter>`; undefined when `sql` is not one. */
export const updateRows = (
  server: FakeServer,
  state: SqlSessionState,
  view: DatabaseView,
  sql: string
): Outcome | undefined => {
  const m = new RegExp(
    String.raw`^update\s+(?:/\*.*?\*/\s*)?(${qualifiedPattern})\s+set\s+(.*?)\s+where\s+(.*)$`,
    "is"
  ).exec(sql)
  if (m === null) return undefined
  const table = tableOf(view, m[1]!)
  if ("_tag" in table) return table
  const sets = new Map<string, FakeValue>()
  for (const item of splitSelectList(m[2]!)) {
    const set = new RegExp(`^(${namePattern})\\s*=\\s*(.*)$`, "s").exec(item)
    if (set === null) return unsupported(item)
    const name = nameList(set[1]!)[0]!
    if (!table.columns.some((c) => c.name === name)) {
      return error("42703", `column "${name}" of relation "${table.name}" does not exist`)
    }
    const value = constantValue(server, set[2]!)
    if (isOutcome(value)) return value
    sets.set(name, value)
  }
  let filter: ReturnType<typeof parseRowFilter>
  try {
    filter = parseRowFilter(m[3]!)
  } catch (e) {
    if (!(e instanceof RowFilterUnsupported)) throw e
    return error("0A000", `the pgcdc fake server cannot evaluate this WHERE clause: ${e.message}`)
  }
  const qualified = `${table.schema}.${table.name}`
  const changes: Array<FakeChange> = []
  for (const stored of view.rows(qualified)) {
    let passes: boolean | null
    try {
      passes = evaluateRowFilter(filter, (c) => {
        const def = table.columns.find((d) => d.name === c)
        const v = stored[c]
        return def === undefined ? undefined : { text: typeof v === "string" ? v : null, typeOid: def.typeOid }
      })
    } catch (e) {
      if (!(e instanceof RowFilterUnsupported)) throw e
      return error("42703", e.message)
    }
    if (passes !== true) continue
    const updated: Record<string, FakeValue> = { ...(stored as HeapRow) }
    for (const [name, value] of sets) updated[name] = value
    changes.push(Change.update(qualified, updated, stored))
  }
  return writeChanges(server, state, changes) ?? command(`UPDATE ${changes.length}`)
}
