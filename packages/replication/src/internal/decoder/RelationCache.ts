/**
 * The per-session knowledge that pgoutput sends once and refers to later: relations (table name, columns, types,
 * replica identity) by relation id, and user-defined types by OID (which tells the value decoders that a type named
 * `_something` is an array).
 *
 * One cache belongs to one replication session: PostgreSQL resends Relation messages on every new session, so the
 * service starts a fresh cache on reconnect. What user types are comes from the service's `TypeCatalog`, which
 * outlives sessions: the cache notes the user types a Relation or Type message names that the catalog does not know
 * (`takeUnresolved`, which the delivery looks up after the Relation, before it decodes the next message), and a Type message that names
 * an OID differently than before (a type dropped and its OID reused) makes the catalog forget it. It deliberately
 * holds no rows and decodes nothing itself.
 */
import type { Pgoutput } from "@pgcdc/protocol"
import type { TypeResolver, UserType } from "../../values/TypeResolver.ts"
import { builtinTypes } from "../../values/TypeResolver.ts"
import type { Table } from "../../WalMessage.ts"
import { firstUserTypeOid, TypeCatalog } from "./TypeCatalog.ts"

const KEY_FLAG = 1

export const tableOf = (m: Pgoutput.Relation): Table => ({
  relationId: m.relationId,
  schema: m.namespace === "" ? "pg_catalog" : m.namespace,
  name: m.relationName,
  replicaIdentity: m.replicaIdentity,
  columns: m.columns.map((c) => ({
    name: c.name,
    typeOid: c.typeOid,
    typeModifier: c.typeModifier,
    isKey: (c.flags & KEY_FLAG) !== 0
  }))
})

export interface TypeInfo {
  readonly typeOid: number
  readonly schema: string
  readonly name: string
}

export class RelationCache implements TypeResolver {
  private readonly relations = new Map<number, Table>()
  private readonly types = new Map<number, TypeInfo>()
  readonly catalog: TypeCatalog
  /** User types named by a Relation or Type message that the catalog does not know yet. */
  private unresolved: Set<number> | undefined = undefined

  constructor(catalog: TypeCatalog = new TypeCatalog()) {
    this.catalog = catalog
  }

  private want(typeOid: number): void {
    if (typeOid < firstUserTypeOid || this.catalog.has(typeOid) || this.catalog.awaitsRetry(typeOid)) return
    this.unresolved ??= new Set()
    this.unresolved.add(typeOid)
  }

  /** Stores (or replaces, after ALTER TABLE) a relation and returns its table. */
  relation(m: Pgoutput.Relation): Table {
    const table = tableOf(m)
    this.relations.set(m.relationId, table)
    for (const c of m.columns) this.want(c.typeOid)
    return table
  }

  type(m: Pgoutput.Type): void {
    const info: TypeInfo = {
      typeOid: m.typeOid,
      schema: m.namespace === "" ? "pg_catalog" : m.namespace,
      name: m.typeName
    }
    const before = this.types.get(m.typeOid)
    // Named otherwise than before in this session: dropped, and its OID reused by a new type.
    if (before !== undefined && (before.name !== info.name || before.schema !== info.schema)) {
      this.catalog.forget(m.typeOid)
    }
    this.types.set(m.typeOid, info)
    this.want(m.typeOid)
  }

  /** The user types to look up before the next message is decoded (each once), or undefined. */
  takeUnresolved(): ReadonlyArray<number> | undefined {
    const u = this.unresolved
    this.unresolved = undefined
    return u === undefined ? undefined : [...u].filter((oid) => !this.catalog.has(oid))
  }

  get hasUnresolved(): boolean {
    return this.unresolved !== undefined
  }

  readonly userType = (typeOid: number): UserType | undefined => this.catalog.get(typeOid)

  get(relationId: number): Table | undefined {
    return this.relations.get(relationId)
  }

  typeInfo(typeOid: number): TypeInfo | undefined {
    return this.types.get(typeOid)
  }

  /**
   * Built-in arrays by their catalog entry; user arrays by the type catalog, or when it does not know them, by
   * PostgreSQL's naming rule (an array type's name is its element type's name prefixed with `_`), with element type
   * 0: decode elements as text.
   */
  readonly elementOf = (typeOid: number): number | undefined => {
    const builtin = builtinTypes.elementOf(typeOid)
    if (builtin !== undefined) return builtin
    const user = this.catalog.get(typeOid)
    if (user !== undefined && user.kind !== "unknown") return user.kind === "array" ? user.element : undefined
    const t = this.types.get(typeOid)
    return t?.name.startsWith("_") ? 0 : undefined
  }
}
