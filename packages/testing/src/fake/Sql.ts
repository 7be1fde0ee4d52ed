/**
 * The few regular SQL statements the fake answers, so that consumers which check their session before replicating
 * work unchanged. Recognized (case-insensitive, optional trailing semicolon):
 *
 * - `SELECT 1`, `SELECT version()`, `SELECT pg_current_wal_lsn()`, `SELECT current_setting('name')`
 * - `SHOW name` (also on a regular connection), `SET name = value` / `SET name TO value`, `RESET name`
 * - transaction blocks (Transaction.ts): `BEGIN` / `START TRANSACTION` with isolation and access modes, `COMMIT`,
 *   `ROLLBACK`, `SET TRANSACTION SNAPSHOT` (importing a walsender's exported snapshot), the failed state after an error
 * - `COPY ... TO STDOUT` of a table's rows in the transaction's view (Copy.ts), and the tagged catalog queries of a
 *   pgcdc initial snapshot (SnapshotCatalog.ts)
 * - `SELECT pg_logical_emit_message(...)` (Writes.ts) and the tagged statements of a pgcdc backfill: its progress
 *   table, primary key query and watermarks (BackfillSql.ts)
 * - `CREATE PUBLICATION name [FOR ALL TABLES | FOR TABLE a, s.b (c1, c2) WHERE (...) | FOR TABLES IN SCHEMA s]
 *   [WITH (publish = '...')]`, `DROP PUBLICATION [IF EXISTS] name` (the tables a publication holds, their column
 *   lists and row filters (see RowFilter.ts) and the kinds of change it publishes decide what sessions receive; the
 *   other WITH options are ignored)
 * - the catalog queries of `Catalog.ts` (pg_replication_slots, pg_publication, pg_create/drop_replication_slot) and
 *   the Replication service's type query (TypeQuery.ts)
 *
 * Any other statement that starts with an SQL verb is answered with SQLSTATE 0A000 (feature_not_supported) naming
 * the statement, and anything else with the server's own `syntax error at or near "<first word>"` (42601, position
 * 1). It deliberately does not parse SQL beyond these patterns.
 */
import { Lsn } from "@pgcdc/protocol"
import { executeCatalogQuery } from "./Catalog.ts"
import { allPublishActions, type FakeServer, type PublicationState, type PublishAction } from "./FakeServer.ts"
import { type RowFilterExpr, RowFilterUnsupported } from "./RowFilter.ts"
import { parseRowFilter } from "./RowFilterParser.ts"
import { executeBackfillSql } from "./BackfillSql.ts"
import { executeCopy } from "./Copy.ts"
import { executeTypeQuery } from "./TypeQuery.ts"
import { command, error, field, INT4, type Outcome, PG_LSN, rows, TEXT } from "./Outcome.ts"
import { executeSnapshotCatalogQuery } from "./SnapshotCatalog.ts"
import { executeTransactionStatement, readView, refusedInFailedBlock, type SqlSessionState } from "./Transaction.ts"
import { executeEmitMessage } from "./Writes.ts"

const sqlVerbs =
  /^(select|insert|update|delete|with|values|table|create|alter|drop|grant|revoke|copy|vacuum|analyze|explain|lock|truncate|comment|do|call|prepare|execute|deallocate|listen|notify|discard|reset|savepoint|release|fetch|declare|close|abort|checkpoint|reindex|cluster|refresh|import|security|load)\b/i

export const showSetting = (server: FakeServer, settings: ReadonlyMap<string, string>, name: string): Outcome => {
  const key = name.toLowerCase()
  const value = settings.get(key) ?? server.config.settings.get(key)
  if (value === undefined) return error("42704", `unrecognized configuration parameter "${name}"`)
  return rows([field(key, TEXT)], [[value]], "SHOW")
}

export type { SqlSessionState }

/** Runs one SQL statement of the session `pid`. */
export const executeSql = (server: FakeServer, pid: number, state: SqlSessionState, statement: string): Outcome => {
  const sql = statement.trim().replace(/;\s*$/, "").trim()
  const refused = refusedInFailedBlock(state, sql)
  if (refused !== undefined) return refused
  const transaction = executeTransactionStatement(server, state, sql)
  if (transaction !== undefined) return transaction
  // A query takes the transaction's snapshot (PostgreSQL's FirstSnapshotSet), whatever it reads.
  const view = /^(select|copy|with|values|table)\b/i.test(sql) ? readView(server, state) : undefined
  if (view !== undefined) {
    const read =
      executeCopy(view, sql) ?? executeSnapshotCatalogQuery(server, view, sql) ?? executeEmitMessage(server, state, sql)
    if (read !== undefined) return read
  }
  const backfill = executeBackfillSql(server, state, sql)
  if (backfill !== undefined) return backfill
  if (/^select\s+1$/i.test(sql)) return rows([field("?column?", INT4)], [["1"]], "SELECT 1")
  if (/^select\s+version\(\s*\)$/i.test(sql)) {
    return rows(
      [field("version", TEXT)],
      [[`PostgreSQL ${server.config.serverVersion} (pgcdc fake server)`]],
      "SELECT 1"
    )
  }
  if (/^select\s+pg_current_wal_lsn\(\s*\)$/i.test(sql)) {
    return rows([field("pg_current_wal_lsn", PG_LSN)], [[Lsn.format(Lsn.unsafeMake(server.wal.position))]], "SELECT 1")
  }
  const setting = /^select\s+current_setting\(\s*'([^']+)'\s*\)$/i.exec(sql)
  if (setting !== null) {
    const shown = showSetting(server, state.settings, setting[1]!)
    return shown._tag === "Rows" ? rows([field("current_setting", TEXT)], shown.rows, "SELECT 1") : shown
  }
  const show = /^show\s+([a-z_][a-z0-9_.]*)$/i.exec(sql)
  if (show !== null) return showSetting(server, state.settings, show[1]!)
  const set = /^set\s+(?:session\s+)?([a-z_][a-z0-9_.]*)\s*(?:=|\s+to\s+)\s*(.+)$/i.exec(sql)
  if (set !== null) {
    state.settings.set(set[1]!.toLowerCase(), set[2]!.trim().replace(/^'(.*)'$/, "$1"))
    return command("SET")
  }
  const reset = /^reset\s+([a-z_][a-z0-9_.]*)$/i.exec(sql)
  if (reset !== null) {
    state.settings.delete(reset[1]!.toLowerCase())
    return command("RESET")
  }
  const createPub = /^create\s+publication\s+("[^"]+"|[a-z_][a-z0-9_]*)(.*)$/is.exec(sql)
  if (createPub !== null) {
    const name = unquote(createPub[1]!)
    if (server.publications.has(name)) return error("42710", `publication "${name}" already exists`)
    const publish = parsePublishOption(createPub[2]!)
    if (typeof publish === "string") {
      // PostgreSQL 15 reworded the message (checked against embedded 14 to 18).
      return error(
        "42601",
        server.config.major < 15
          ? `unrecognized "publish" value: "${publish}"`
          : `unrecognized value for publication option "publish": "${publish}"`
      )
    }
    const { hasColumnList, hasRowFilter, rowFilterError, ...targets } = parsePublicationTargets(createPub[2]!)
    if (hasColumnList && server.config.major < 15) {
      // Column lists came with PostgreSQL 15; 14's grammar stops at the parenthesis after the table name.
      return error("42601", 'syntax error at or near "("', { position: String(sql.indexOf("(") + 1) })
    }
    if (hasRowFilter && server.config.major < 15) {
      // So did row filters: 14 stops at WHERE (reported as written).
      const at = sql.search(/\bwhere\b/i)
      return error("42601", `syntax error at or near "${sql.slice(at, at + 5)}"`, { position: String(at + 1) })
    }
    if (rowFilterError !== undefined) {
      return error("0A000", `the pgcdc fake server cannot evaluate this row filter: ${rowFilterError}`, {
        hint: "It evaluates columns compared with constants, IS [NOT] NULL, [NOT] IN, AND, OR and NOT; see the @pgcdc/testing README."
      })
    }
    server.publications.set(name, { ...targets, publish })
    return command("CREATE PUBLICATION")
  }
  const dropPub = /^drop\s+publication\s+(if\s+exists\s+)?("[^"]+"|[a-z_][a-z0-9_]*)$/i.exec(sql)
  if (dropPub !== null) {
    const name = unquote(dropPub[2]!)
    if (!server.publications.delete(name) && dropPub[1] === undefined) {
      return error("42704", `publication "${name}" does not exist`)
    }
    return command("DROP PUBLICATION")
  }
  const types = executeTypeQuery(server, sql)
  if (types !== undefined) return types
  const catalog = executeCatalogQuery(server, pid, sql)
  if (catalog !== undefined) return catalog
  if (sqlVerbs.test(sql)) {
    return error("0A000", `the pgcdc fake server does not execute this statement: ${sql.slice(0, 80)}`, {
      hint: "It answers a few session checks only; see the @pgcdc/testing README for the list."
    })
  }
  const first = /^\s*("[^"]*"|[^\s(;]+)/.exec(sql)
  return error("42601", `syntax error at or near "${first === null ? sql : first[1]!.replace(/"/g, "")}"`, {
    position: "1"
  })
}

/**
 * The kinds of change `WITH (publish = '...')` lists (all four without it), or the first unknown one. As PostgreSQL
 * reads it: a comma-separated list, blanks around items ignored, case folded; an empty list publishes nothing.
 */
const parsePublishOption = (rest: string): ReadonlySet<PublishAction> | string => {
  const option = /\swith\s*\(.*\bpublish\s*=\s*'([^']*)'/is.exec(rest)
  if (option === null) return allPublishActions
  const actions = new Set<PublishAction>()
  for (const item of option[1]!.split(",")) {
    const action = item.trim().toLowerCase()
    if (action === "") continue
    if (!allPublishActions.has(action as PublishAction)) return action
    actions.add(action as PublishAction)
  }
  return actions
}

/** Splits at the commas outside parentheses and double quotes. */
const splitTopLevel = (text: string): Array<string> => {
  const out: Array<string> = []
  let depth = 0
  let quoted = false
  let current = ""
  for (const ch of text) {
    if (ch === '"') quoted = !quoted
    else if (!quoted && ch === "(") depth++
    else if (!quoted && ch === ")") depth--
    else if (!quoted && depth === 0 && ch === ",") {
      out.push(current)
      current = ""
      continue
    }
    current += ch
  }
  out.push(current)
  return out
}

interface PublicationTargets extends Omit<PublicationState, "publish"> {
  /** Whether a table was given a column list (a syntax error before PostgreSQL 15). */
  readonly hasColumnList: boolean
  /** Whether a table was given a row filter (a syntax error before PostgreSQL 15). */
  readonly hasRowFilter: boolean
  /** Why a row filter cannot be evaluated by the fake, when one cannot. */
  readonly rowFilterError: string | undefined
}

/** `FOR ALL TABLES`, `FOR TABLE a, s.b (cols) WHERE (...)`, `FOR TABLES IN SCHEMA s`, or nothing (no tables). */
const parsePublicationTargets = (rest: string): PublicationTargets => {
  const targets = rest.replace(/\swith\s*\(.*$/is, "").trim()
  const columns = new Map<string, ReadonlyArray<string>>()
  const rowFilters = new Map<string, RowFilterExpr>()
  if (/^for\s+all\s+tables$/i.test(targets)) {
    const none = { hasColumnList: false, hasRowFilter: false, rowFilterError: undefined }
    return { allTables: true, tables: new Set(), schemas: new Set(), columns, rowFilters, ...none }
  }
  let hasRowFilter = false
  let rowFilterError: string | undefined
  const tables = new Set<string>()
  const schemas = new Set<string>()
  let inSchemas = false
  for (const part of splitTopLevel(targets.replace(/^for\s+/i, ""))) {
    let item = part.trim()
    const schema = /^tables\s+in\s+schema\s+(.*)$/is.exec(item)
    const table = /^table\s+(.*)$/is.exec(item)
    if (schema !== null) {
      inSchemas = true
      item = schema[1]!
    } else if (table !== null) {
      inSchemas = false
      item = table[1]!
    }
    item = item.trim()
    const name = /^(?:only\s+)?((?:"[^"]+"|[a-z_][a-z0-9_$]*)(?:\.(?:"[^"]+"|[a-z_][a-z0-9_$]*))?)/i.exec(item)
    if (name === null) continue
    const parts = name[1]!.match(/"[^"]+"|[^.]+/g)!.map(unquote)
    if (inSchemas) {
      schemas.add(parts[0]!)
      continue
    }
    const qualified = parts.length === 1 ? `public.${parts[0]}` : `${parts[0]}.${parts[1]}`
    tables.add(qualified)
    let after = item.slice(name[0].length)
    const list = /^\s*\(([^)]*)\)/.exec(after)
    if (list !== null) {
      columns.set(
        qualified,
        splitTopLevel(list[1]!).map((c) => unquote(c.trim()))
      )
      after = after.slice(list[0].length)
    }
    const where = /^\s*where\s*\((.*)\)\s*$/is.exec(after)
    if (where !== null) {
      hasRowFilter = true
      try {
        rowFilters.set(qualified, parseRowFilter(where[1]!))
      } catch (e) {
        if (!(e instanceof RowFilterUnsupported)) throw e
        rowFilterError ??= e.message
      }
    }
  }
  return {
    allTables: false,
    tables,
    schemas,
    columns,
    rowFilters,
    hasColumnList: columns.size > 0,
    hasRowFilter,
    rowFilterError
  }
}

const unquote = (name: string): string => (name.startsWith('"') ? name.slice(1, -1) : name.toLowerCase())

/** Splits SQL at semicolons outside quotes; empty statements are dropped. */
export const splitStatements = (sql: string): Array<string> => {
  const out: Array<string> = []
  let current = ""
  let quote: string | undefined
  for (const ch of sql) {
    if (quote !== undefined) {
      if (ch === quote) quote = undefined
    } else if (ch === "'" || ch === '"') quote = ch
    else if (ch === ";") {
      if (current.trim() !== "") out.push(current)
      current = ""
      continue
    }
    current += ch
  }
  if (current.trim() !== "") out.push(current)
  return out
}
