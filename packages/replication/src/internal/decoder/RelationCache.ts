/**
 * The per-session knowledge that pgoutput sends once and refers to later: relations (table name, columns, types,
 * replica identity) by relation id, and user-defined types by OID (which tells the value decoders that a type named
 * `_something` is an array).
 *
 * One cache belongs to one replication session: PostgreSQL resends Relation messages on every new session, so the
 * service starts a fresh cache on reconnect. It deliberately holds no rows and decodes nothing itself.
 */
import type { Pgoutput } from "@pgcdc/protocol"
import type { TypeResolver } from "../../values/TypeResolver.ts"
import { builtinTypes } from "../../values/TypeResolver.ts"
import type { Table } from "../../WalMessage.ts"

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

  /** Stores (or replaces, after ALTER TABLE) a relation and returns its table. */
  relation(m: Pgoutput.Relation): Table {
    const table = tableOf(m)
    this.relations.set(m.relationId, table)
    return table
  }

  type(m: Pgoutput.Type): void {
    this.types.set(m.typeOid, {
      typeOid: m.typeOid,
      schema: m.namespace === "" ? "pg_catalog" : m.namespace,
      name: m.typeName
    })
  }

  get(relationId: number): Table | undefined {
    return this.relations.get(relationId)
  }

  typeInfo(typeOid: number): TypeInfo | undefined {
    return this.types.get(typeOid)
  }

  /**
   * Built-in arrays by their catalog entry; user arrays by PostgreSQL's naming rule (an array type's name is its
   * element type's name prefixed with `_`), with element type 0: decode elements as text.
   */
  readonly elementOf = (typeOid: number): number | undefined => {
    const builtin = builtinTypes.elementOf(typeOid)
    if (builtin !== undefined) return builtin
    const t = this.types.get(typeOid)
    return t?.name.startsWith("_") ? 0 : undefined
  }
}
