/**
 * What an initial snapshot reads, as the publications decide it, so that a snapshot row has the stream's shape:
 * - the tables: `pg_publication_tables` of every publication (FOR TABLE, FOR ALL TABLES, FOR TABLES IN SCHEMA;
 *   partitions or their root as `publish_via_partition_root` says);
 * - per table, the columns pgoutput would send (the column list, PostgreSQL 15+; generated columns only when listed)
 *   with their types and the replica-identity key flags, as a `Table` equal to what the stream's Relation message
 *   gives; and the row filter (15+), ORed across publications as pgoutput does (none if one publication has none);
 * - where the rows are: the table itself, or each leaf partition of a partitioned root (published through its root),
 *   with its size in pages.
 *
 * Three catalog queries on a session inside the snapshot's transaction (so the catalog is the snapshot's). Each
 * carries a `/* pgcdc:... *\/` tag, which the fake server answers from its own model. It deliberately reads no rows.
 */
import { isProgressTable } from "../backfill/progressTable.ts"
import type { ConnectionShape } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import { fromConnectionError, type ReplicationError, replicationError } from "../../ReplicationError.ts"
import { arrayElementOid } from "../../values/TypeOid.ts"
import type { TypeResolver } from "../../values/TypeResolver.ts"
import type { Column, Table } from "../../WalMessage.ts"
import { loadTypes, TypeCatalog, typesOfTables } from "../decoder/TypeCatalog.ts"
import { ident, literal } from "../sqlText.ts"

/** A relation whose rows a snapshot table reads: the table itself or one of its leaf partitions. */
export interface RowSource {
  /** The quoted, schema-qualified name. */
  readonly relation: string
  readonly pages: number
}

export interface SnapshotTable {
  /** As the stream describes it. */
  readonly table: Table
  /** The quoted column names, in order, for the SELECT list. */
  readonly columns: ReadonlyArray<string>
  /** The publications' row filter, ORed; undefined when no filter applies. */
  readonly filter: string | undefined
  readonly sources: ReadonlyArray<RowSource>
  readonly estimatedRows: number
  /** Element types of the arrays among its columns (built-in, or user arrays decoded as text). */
  readonly types: TypeResolver
}

type Rows = ReadonlyArray<ReadonlyArray<string | null>>

const query = (conn: ConnectionShape, sql: string, what: string): Effect.Effect<Rows, ReplicationError> =>
  Effect.map(
    conn.query(sql).pipe(Effect.mapError((e) => fromConnectionError(e, what))),
    (results) => results.at(-1)?.rows ?? []
  )

const list = (values: ReadonlyArray<string>): string => values.map(literal).join(", ")

const tablesSql = (publications: ReadonlyArray<string>, serverVersion: number): string =>
  serverVersion >= 150000
    ? `SELECT /* pgcdc:snapshot-tables */ c.oid::int8, pt.schemaname, pt.tablename, c.relreplident::text, c.relkind::text, c.reltuples::float8, array_to_json(pt.attnames)::text, pt.rowfilter FROM pg_publication_tables pt JOIN pg_namespace n ON n.nspname = pt.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename WHERE pt.pubname IN (${list(publications)}) ORDER BY 2, 3`
    : `SELECT /* pgcdc:snapshot-tables */ c.oid::int8, pt.schemaname, pt.tablename, c.relreplident::text, c.relkind::text, c.reltuples::float8, NULL::text, NULL::text FROM pg_publication_tables pt JOIN pg_namespace n ON n.nspname = pt.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename WHERE pt.pubname IN (${list(publications)}) ORDER BY 2, 3`

const columnsSql = (oids: ReadonlyArray<string>): string =>
  `SELECT /* pgcdc:snapshot-columns */ a.attrelid::int8, a.attname, a.atttypid::int8, a.atttypmod, (a.attgenerated <> '')::text, (c.relreplident = 'f' OR COALESCE(a.attnum = ANY (k.indkey), false))::text, t.typname, t.typelem::int8 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN LATERAL (SELECT i.indkey FROM pg_index i WHERE i.indrelid = a.attrelid AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END LIMIT 1) k ON true WHERE a.attrelid IN (${oids.join(", ")}) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum`

// pg_partition_tree gives the leaves of a partitioned table, and nothing for a plain one (the table is its own source).
const sourcesSql = (oids: ReadonlyArray<string>): string =>
  `SELECT /* pgcdc:snapshot-sources */ r.oid::int8, n.nspname, c.relname, (pg_relation_size(c.oid) / current_setting('block_size')::int8)::int8 FROM unnest(ARRAY[${oids.join(", ")}]::oid[]) AS r(oid) LEFT JOIN LATERAL pg_partition_tree(r.oid) AS p ON true JOIN pg_class c ON c.oid = COALESCE(p.relid, r.oid) JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.relid IS NULL OR p.isleaf ORDER BY 1, 2, 3`

interface PublishedRow {
  readonly oid: string
  readonly schema: string
  readonly name: string
  readonly replicaIdentity: string
  readonly reltuples: number
  /** The column list; undefined before PostgreSQL 15 (every column). */
  readonly attnames: ReadonlyArray<string> | undefined
  readonly rowFilter: string | null
}

const replicaIdentities: Record<string, Table["replicaIdentity"]> = { d: "d", n: "n", f: "f", i: "i" }

/**
 * The tables a snapshot of `publications` reads, in schema and name order. Fails with "InvalidOption" when the
 * publications hold no table, and with "UnsupportedOption" (as pgoutput would, SQLSTATE 0A000) when two publications
 * give one table different column lists.
 */
export const planSnapshot = (
  conn: ConnectionShape,
  publications: ReadonlyArray<string>,
  /** The schema of the backfill progress table, which is never read. */
  progressSchema: string
): Effect.Effect<ReadonlyArray<SnapshotTable>, ReplicationError> =>
  Effect.gen(function* () {
    const published = (yield* query(conn, tablesSql(publications, conn.serverVersion), "Listing published tables"))
      .map(
        (r): PublishedRow => ({
          oid: r[0]!,
          schema: r[1]!,
          name: r[2]!,
          replicaIdentity: r[3]!,
          reltuples: Number(r[5]),
          attnames: r[6] === null ? undefined : (JSON.parse(r[6]!) as ReadonlyArray<string>),
          rowFilter: r[7] ?? null
        })
      )
      .filter((r) => !isProgressTable(progressSchema, r))
    if (published.length === 0) {
      return yield* replicationError("InvalidOption", {
        message: `The publications ${publications.join(", ")} hold no table: there is nothing to snapshot. Add tables to them (ALTER PUBLICATION ... ADD TABLE) or leave out the snapshot option.`
      })
    }
    const byOid = new Map<string, Array<PublishedRow>>()
    for (const row of published) byOid.set(row.oid, [...(byOid.get(row.oid) ?? []), row])
    const oids = [...byOid.keys()]
    const columns = yield* query(conn, columnsSql(oids), "Reading the published tables' columns")
    const sources = yield* query(conn, sourcesSql(oids), "Reading the published tables' sizes")
    // The stream's decoders know the same user types (enums, domains, ...), so a snapshot row equals a streamed one.
    const catalog = new TypeCatalog()
    yield* loadTypes(conn, typesOfTables, catalog)
    const out: Array<SnapshotTable> = []
    for (const [oid, rows] of byOid) {
      const first = rows[0]!
      const lists = new Set(rows.map((r) => JSON.stringify(r.attnames ?? null)))
      if (lists.size > 1) {
        return yield* replicationError("UnsupportedOption", {
          code: "0A000",
          message: `cannot use different column lists for table "${first.schema}.${first.name}" in different publications: give the table the same column list in every publication of the slot`
        })
      }
      const listed = first.attnames === undefined ? undefined : new Set(first.attnames)
      const tableColumns: Array<Column> = []
      const userArrays = new Set<number>()
      for (const c of columns) {
        if (c[0] !== oid) continue
        const name = c[1]!
        const generated = c[4] === "true"
        // pgoutput sends what the column list names; without one, every column but generated ones.
        if (listed !== undefined ? !listed.has(name) : generated) continue
        const typeOid = Number(c[2])
        if (c[6]!.startsWith("_") && Number(c[7]) !== 0 && !arrayElementOid.has(typeOid)) userArrays.add(typeOid)
        tableColumns.push({ name, typeOid, typeModifier: Number(c[3]), isKey: c[5] === "true" })
      }
      // OR of the filters, as pgoutput combines publications; one publication without a filter publishes every row.
      const filters = rows.map((r) => r.rowFilter)
      const filter = filters.some((f) => f === null) ? undefined : filters.map((f) => `(${f})`).join(" OR ")
      out.push({
        table: {
          relationId: Number(oid),
          schema: first.schema,
          name: first.name,
          replicaIdentity: replicaIdentities[first.replicaIdentity] ?? "d",
          columns: tableColumns
        },
        columns: tableColumns.map((c) => ident(c.name)),
        filter,
        sources: sources
          .filter((s) => s[0] === oid)
          .map((s) => ({ relation: `${ident(s[1]!)}.${ident(s[2]!)}`, pages: Number(s[3]) })),
        estimatedRows: first.reltuples >= 0 ? Math.round(first.reltuples) : -1,
        types: {
          elementOf: (typeOid) => {
            const user = catalog.get(typeOid)
            if (user !== undefined && user.kind !== "unknown") return user.kind === "array" ? user.element : undefined
            return arrayElementOid.get(typeOid) ?? (userArrays.has(typeOid) ? 0 : undefined)
          },
          userType: (typeOid) => catalog.get(typeOid)
        }
      })
    }
    return out
  })
