/**
 * The three catalog queries of a pgcdc initial snapshot (`@pgcdc/replication`'s snapshot plan), answered from the
 * fake's model with the columns, types and text values PostgreSQL gives for the same tables and publications (checked
 * against 14 to 18 in test/integration/snapshotCatalog.postgres.test.ts). The library tags each one with a comment:
 *
 * - `/* pgcdc:snapshot-tables *\/`: a row per publication and table it holds (`pg_publication_tables`: FOR TABLE, FOR
 *   ALL TABLES, FOR TABLES IN SCHEMA), ordered by schema and name (the publications of one table in the order they
 *   were created; PostgreSQL's order of those ties varies):
 *   the table's OID, names, replica identity, kind 'r', reltuples -1 (never analyzed), and from PostgreSQL 15 its
 *   published columns as JSON (the column list, in table order, or every column) and its row filter as PostgreSQL
 *   prints it (RowFilterText.ts).
 * - `/* pgcdc:snapshot-columns *\/`: every column of the listed tables: type OID and modifier, not generated, whether
 *   it is part of the replica identity (as the fake's Relation message says), typname and typelem.
 * - `/* pgcdc:snapshot-sources *\/`: each table is its own row source (the fake has no partitions) of 0 pages, so a
 *   snapshot reads each table with one COPY.
 *
 * A query is recognised by its tag; each expression of its select list must be one the fake knows (a changed query
 * gets an error naming the expression, not wrong columns). It deliberately parses nothing else of the SQL than the
 * publication names and table OIDs it filters on.
 */
import type { DatabaseView, FakeServer, PublicationState } from "./FakeServer.ts"
import { holds, listed } from "./FakeServer.ts"
import { error, FLOAT8, field, INT4, INT8, NAME, type Outcome, rows, TEXT } from "./Outcome.ts"
import { rowFilterText } from "./RowFilterText.ts"
import { splitSelectList, stringLiterals } from "./SqlText.ts"
import { typeOf } from "./Types.ts"
import { type FakeTable, relationMessage } from "./Wal.ts"

type Cell = string | null

interface Column<Row> {
  readonly name: string
  readonly typeOid: number
  readonly value: (row: Row) => Cell
  /** The first major that has what it reads (pg_publication_tables.attnames and rowfilter came with 15). */
  readonly since?: number
}

interface PublishedRow {
  readonly table: FakeTable
  readonly publication: PublicationState
}

const tableColumns: Record<string, Column<PublishedRow>> = {
  "c.oid::int8": { name: "oid", typeOid: INT8, value: (r) => String(r.table.relationId) },
  "pt.schemaname": { name: "schemaname", typeOid: NAME, value: (r) => r.table.schema },
  "pt.tablename": { name: "tablename", typeOid: NAME, value: (r) => r.table.name },
  "c.relreplident::text": { name: "relreplident", typeOid: TEXT, value: (r) => r.table.replicaIdentity },
  "c.relkind::text": { name: "relkind", typeOid: TEXT, value: () => "r" },
  // A table never analyzed has reltuples -1 (PostgreSQL 14 and later): the fake has no statistics.
  "c.reltuples::float8": { name: "reltuples", typeOid: FLOAT8, value: () => "-1" },
  "array_to_json(pt.attnames)::text": {
    name: "array_to_json",
    typeOid: TEXT,
    since: 15,
    value: (r) => JSON.stringify(publishedColumns(r).map((c) => c.name))
  },
  "pt.rowfilter": {
    name: "rowfilter",
    typeOid: TEXT,
    since: 15,
    value: (r) => {
      const qualified = `${r.table.schema}.${r.table.name}`
      const filter = listed(r.publication, qualified) ? r.publication.rowFilters.get(qualified) : undefined
      if (filter === undefined) return null
      return rowFilterText(filter, (name) => r.table.columns.find((c) => c.name === name)?.typeOid)
    }
  },
  "null::text": { name: "text", typeOid: TEXT, value: () => null }
}

/** The columns a publication publishes of a table: its column list (in table order), or all of them. */
const publishedColumns = (r: PublishedRow) => {
  const qualified = `${r.table.schema}.${r.table.name}`
  const list = listed(r.publication, qualified) ? r.publication.columns.get(qualified) : undefined
  return list === undefined ? r.table.columns : r.table.columns.filter((c) => list.includes(c.name))
}

interface ColumnRow {
  readonly table: FakeTable
  readonly index: number
  readonly all: ReadonlyArray<FakeTable>
}

const columnColumns: Record<string, Column<ColumnRow>> = {
  "a.attrelid::int8": { name: "attrelid", typeOid: INT8, value: (r) => String(r.table.relationId) },
  "a.attname": { name: "attname", typeOid: NAME, value: (r) => r.table.columns[r.index]!.name },
  "a.atttypid::int8": { name: "atttypid", typeOid: INT8, value: (r) => String(r.table.columns[r.index]!.typeOid) },
  "a.atttypmod": {
    name: "atttypmod",
    typeOid: INT4,
    value: (r) => String(r.table.columns[r.index]!.typeModifier ?? -1)
  },
  // The fake has no generated columns.
  "(a.attgenerated <> '')::text": { name: "text", typeOid: TEXT, value: () => "false" },
  "(c.relreplident = 'f' or coalesce(a.attnum = any (k.indkey), false))::text": {
    name: "text",
    typeOid: TEXT,
    // What the table's Relation message says, so a snapshot's table and the stream's are the same.
    value: (r) => String(relationMessage(r.table, undefined).columns[r.index]!.flags === 1)
  },
  "t.typname": {
    name: "typname",
    typeOid: NAME,
    value: (r) =>
      typeOf(
        r.table.columns[r.index]!,
        r.all.flatMap((t) => t.columns)
      ).name
  },
  "t.typelem::int8": {
    name: "typelem",
    typeOid: INT8,
    value: (r) =>
      String(
        typeOf(
          r.table.columns[r.index]!,
          r.all.flatMap((t) => t.columns)
        ).element
      )
  }
}

const sourceColumns: Record<string, Column<FakeTable>> = {
  "r.oid::int8": { name: "oid", typeOid: INT8, value: (t) => String(t.relationId) },
  "n.nspname": { name: "nspname", typeOid: NAME, value: (t) => t.schema },
  "c.relname": { name: "relname", typeOid: NAME, value: (t) => t.name },
  "(pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8": {
    name: "int8",
    typeOid: INT8,
    value: () => "0"
  }
}

const normalise = (expression: string): string => expression.replace(/\s+/g, " ").trim().toLowerCase()

/** The result of `columns` over `data`, or the error for an expression the fake does not know. */
const answer = <Row>(
  server: FakeServer,
  tag: string,
  selectList: string,
  columns: Record<string, Column<Row>>,
  data: ReadonlyArray<Row>
): Outcome => {
  const chosen: Array<Column<Row>> = []
  for (const expression of splitSelectList(selectList)) {
    const column = columns[normalise(expression)]
    if (column === undefined) {
      return error("0A000", `the pgcdc fake server does not know the expression ${expression} of the ${tag} query`, {
        hint: "The fake answers the snapshot queries of the @pgcdc/replication version it ships with."
      })
    }
    if (column.since !== undefined && server.config.major < column.since) {
      const read = /pt\.\w+/.exec(expression)?.[0] ?? expression
      return error("42703", `column ${read} does not exist`)
    }
    chosen.push(column)
  }
  return rows(
    chosen.map((c) => field(c.name, c.typeOid)),
    data.map((row) => chosen.map((c) => c.value(row))),
    `SELECT ${data.length}`
  )
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)

/** The relation OIDs in `IN (...)` or `ARRAY[...]`. */
const oidsIn = (text: string | undefined): ReadonlySet<number> =>
  new Set((text ?? "").split(",").flatMap((s) => (/^\s*\d+\s*$/.test(s) ? [Number(s)] : [])))

/** Answers a tagged snapshot query against `view`; undefined when `sql` carries none of the tags. */
export const executeSnapshotCatalogQuery = (
  server: FakeServer,
  view: DatabaseView,
  sql: string
): Outcome | undefined => {
  const tag = /\/\*\s*pgcdc:(snapshot-tables|snapshot-columns|snapshot-sources)\s*\*\//.exec(sql)?.[1]
  if (tag === undefined) return undefined
  const flat = sql
    .replace(/\/\*.*?\*\//gs, " ")
    .replace(/\s+/g, " ")
    .trim()
  const selectList = /^select (.+?) from /i.exec(flat)?.[1]
  if (selectList === undefined) return error("42601", `the pgcdc fake server cannot read this ${tag} query`)
  const tables = [...view.tables.values()]
  switch (tag) {
    case "snapshot-tables": {
      const names = stringLiterals(/pubname in \(([^)]*)\)/i.exec(flat)?.[1] ?? "")
      const published: Array<PublishedRow> = []
      for (const [name, publication] of view.publications) {
        if (!names.includes(name)) continue
        for (const table of tables) if (holds(publication, table)) published.push({ table, publication })
      }
      // ORDER BY schemaname, tablename (the C collation of type name); a stable sort keeps publications in order.
      published.sort((a, b) => compareText(a.table.schema, b.table.schema) || compareText(a.table.name, b.table.name))
      return answer(server, "pgcdc:snapshot-tables", selectList, tableColumns, published)
    }
    case "snapshot-columns": {
      const wanted = oidsIn(/attrelid in \(([^)]*)\)/i.exec(flat)?.[1])
      const data = tables
        .filter((t) => wanted.has(t.relationId))
        .sort((a, b) => a.relationId - b.relationId)
        .flatMap((table) => table.columns.map((_, index) => ({ table, index, all: tables })))
      return answer(server, "pgcdc:snapshot-columns", selectList, columnColumns, data)
    }
    default: {
      const wanted = oidsIn(/array\[([^\]]*)\]/i.exec(flat)?.[1])
      const data = tables.filter((t) => wanted.has(t.relationId)).sort((a, b) => a.relationId - b.relationId)
      return answer(server, "pgcdc:snapshot-sources", selectList, sourceColumns, data)
    }
  }
}
