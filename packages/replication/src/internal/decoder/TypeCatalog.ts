/**
 * What the service learned from `pg_type` about the user-defined types its relations use: enum, domain (and its base
 * type), array (and its element type), composite, range (and its subtype), or a type it cannot read. The decoders
 * consult it through the relation cache (`TypeResolver.userType`), so binary values of these types decode to what
 * text mode gives (docs/design.md, "User-defined types").
 *
 * One catalog outlives the sessions of a service: type OIDs do not change, and the Type messages that a session
 * receives say when one was dropped and its OID reused (the relation cache then forgets it). The queries carry a
 * `/* pgcdc:types *\/` tag, which the fake server answers from its own model. A query that fails (a server or pooler
 * that refuses catalog queries) is logged and leaves the types unknown: text mode is unaffected, binary mode hands out
 * their bytes as before. It deliberately decodes no value itself.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { UserType } from "../../values/TypeResolver.ts"

/** pgoutput sends a Type message for every column type at or above this OID (FirstGenbkiObjectId). */
export const firstUserTypeOid = 10000

export class TypeCatalog {
  private readonly types = new Map<number, UserType>()
  /** Types a lookup did not find once: looked up again at the next transaction end, then given up as unknown. */
  private readonly missedOnce = new Set<number>()
  private retries: Set<number> | undefined = undefined

  /**
   * A lookup did not find `typeOid`. The first time, it may be a type created by a transaction that is still in
   * progress (streamed before its commit, so no other session sees it yet): it is looked up once more after the next
   * transaction end. The second time it is unknown (a type dropped since).
   */
  miss(typeOid: number): void {
    if (this.types.has(typeOid)) return
    if (this.missedOnce.has(typeOid)) {
      this.types.set(typeOid, { kind: "unknown" })
      return
    }
    this.missedOnce.add(typeOid)
    this.retries ??= new Set()
    this.retries.add(typeOid)
  }

  /** The types to look up again now that a transaction ended (each once), or undefined. */
  takeRetries(): ReadonlyArray<number> | undefined {
    const r = this.retries
    this.retries = undefined
    return r === undefined ? undefined : [...r].filter((oid) => !this.types.has(oid))
  }

  /** Whether a lookup of `typeOid` is due at the next transaction end (no need to look it up before). */
  awaitsRetry(typeOid: number): boolean {
    return this.retries?.has(typeOid) === true
  }

  get hasRetries(): boolean {
    return this.retries !== undefined
  }

  get(typeOid: number): UserType | undefined {
    return this.types.get(typeOid)
  }

  has(typeOid: number): boolean {
    return this.types.has(typeOid)
  }

  set(typeOid: number, type: UserType): void {
    this.types.set(typeOid, type)
  }

  forget(typeOid: number): void {
    this.types.delete(typeOid)
  }
}

/**
 * The closure of the types reachable from `seed` (a query of type OIDs): each type's base type, array element, range
 * subtype and composite fields, recursively, as rows of OID, typtype, array element, base type and range subtype.
 */
const closure = (seed: string): string =>
  "WITH RECURSIVE /* pgcdc:types */ wanted(oid) AS (" +
  `${seed} UNION ` +
  "SELECT d.oid FROM wanted w JOIN pg_type t ON t.oid = w.oid LEFT JOIN pg_range r ON r.rngtypid = t.oid " +
  "CROSS JOIN LATERAL (SELECT t.typbasetype UNION ALL SELECT t.typelem UNION ALL SELECT r.rngsubtype UNION ALL " +
  "SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) " +
  `AS d(oid) WHERE d.oid >= ${firstUserTypeOid}) ` +
  "SELECT t.oid::int8, t.typtype::text, CASE WHEN t.typlen = -1 THEN t.typelem::int8 ELSE 0::int8 END, " +
  "t.typbasetype::int8, COALESCE(r.rngsubtype::int8, 0::int8) " +
  "FROM wanted w JOIN pg_type t ON t.oid = w.oid LEFT JOIN pg_range r ON r.rngtypid = t.oid ORDER BY 1"

/**
 * The user types of every table's columns (run before START_REPLICATION on the walsender). Catalogs only, never
 * `pg_publication_tables`: that opens each published table, which on a walsender leaves a relation cache entry with
 * the table's current columns that PostgreSQL 18's pgoutput then used for changes made before a schema change, and
 * which waits behind any lock on the table (docs/design.md, "User-defined types"). The user types in use are few.
 */
export const typesOfTables: string = closure(
  "SELECT DISTINCT a.atttypid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid " +
    `WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid >= ${firstUserTypeOid}`
)

/** The given types (first seen in a session's Relation or Type messages). */
export const typesByOid = (oids: ReadonlyArray<number>): string =>
  closure(`SELECT unnest(ARRAY[${oids.map((o) => String(Math.trunc(o))).join(", ")}]::oid[])`)

/** One row of a types query as a catalog entry; undefined for a row it does not understand. */
export const typeOfRow = (row: ReadonlyArray<string | null>): readonly [number, UserType] | undefined => {
  const [oid, typtype, element, base, subtype] = row
  if (oid == null || typtype == null) return undefined
  const n = (s: string | null | undefined): number => (s == null ? 0 : Number(s))
  switch (typtype) {
    case "e":
      return [n(oid), { kind: "enum" }]
    case "d":
      return [n(oid), { kind: "domain", base: n(base) }]
    case "c":
      return [n(oid), { kind: "composite" }]
    case "r":
      return [n(oid), { kind: "range", subtype: n(subtype) }]
    default:
      return n(element) !== 0 ? [n(oid), { kind: "array", element: n(element) }] : [n(oid), { kind: "unknown" }]
  }
}

/**
 * Runs a types query on `conn` and records its answer; an OID of `wanted` the answer leaves out is a miss (see
 * `TypeCatalog.miss`: not yet committed, or dropped since). Never fails: a refused query is logged once per call and
 * leaves `wanted` unknown, so it is not asked for again.
 */
export const loadTypes = (
  conn: ConnectionShape,
  sql: string,
  catalog: TypeCatalog,
  wanted: ReadonlyArray<number> = []
): Effect.Effect<void> =>
  conn.query(sql).pipe(
    Effect.flatMap((results) => {
      for (const row of results[0]?.rows ?? []) {
        const entry = typeOfRow(row)
        if (entry !== undefined) catalog.set(entry[0], entry[1])
      }
      for (const oid of wanted) catalog.miss(oid)
      return Effect.void
    }),
    Effect.catch((e) => loadFailed(e, catalog, wanted))
  )

const loadFailed = (
  e: { readonly message: string; readonly isRetryable?: boolean },
  catalog: TypeCatalog,
  wanted: ReadonlyArray<number>
): Effect.Effect<void> =>
  // A session that ended (the server shutting down or restarting, a terminated backend, a lost connection) refused
  // nothing: the types stay unresolved and are read again by the next session or the next lookup. Only a refusal
  // (a privilege, a catalog the server does not have) degrades decoding, and says so.
  e.isRetryable === true
    ? Effect.logDebug(`Reading user-defined types from the catalog stopped: ${e.message}; read again later`)
    : refused(e.message, catalog, wanted)

const refused = (why: string, catalog: TypeCatalog, wanted: ReadonlyArray<number>): Effect.Effect<void> =>
  Effect.andThen(
    Effect.logWarning(
      `pgcdc could not read user-defined types from the catalog (${why}): values of enums, domains, composites and ranges decode as types it does not know (text as their text, binary as their bytes)`
    ),
    Effect.sync(() => {
      for (const oid of wanted) if (!catalog.has(oid)) catalog.set(oid, { kind: "unknown" })
    })
  )

/**
 * Looks types up on a regular session of their own: the walsender cannot run queries once it streams, and a type
 * first seen mid-stream (created after the session started) must be known before the rows that use it are decoded.
 * Never fails: a session that cannot be opened leaves the types unknown, like a refused query.
 */
export const lookupTypes =
  <E extends { readonly message: string; readonly isRetryable?: boolean }>(
    connectSql: Effect.Effect<ConnectionShape, E, Scope.Scope>,
    catalog: TypeCatalog
  ) =>
  (oids: ReadonlyArray<number>): Effect.Effect<void> =>
    connectSql.pipe(
      Effect.flatMap((conn) => loadTypes(conn, typesByOid(oids), catalog, oids)),
      Effect.scoped,
      Effect.catch((e) => loadFailed(e, catalog, oids))
    )
