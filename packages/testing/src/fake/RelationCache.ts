/**
 * What one replication session has been told of relations and types: which version of each table it was last sent
 * a Relation for, and what a Type message names for a column of a non-catalog type.
 *
 * It decides nothing about when to describe a table (Output.ts does, inside and outside streamed transactions) and
 * builds no Relation message (Wal.ts does).
 */
import type { FakeColumn, FakeTable, FakeTypeDefinition } from "./Wal.ts"
import { builtinTypeName } from "./Types.ts"

/** Relations already described to one session. */
export class RelationCache {
  private readonly sent = new Map<number, number>()
  /** The server's user-defined types (Wal.defineType), which Type messages name. */
  readonly types: ReadonlyMap<number, FakeTypeDefinition>

  constructor(types: ReadonlyMap<number, FakeTypeDefinition> = new Map()) {
    this.types = types
  }

  isCurrent(table: FakeTable): boolean {
    return this.sent.get(table.relationId) === table.version
  }

  markSent(table: FakeTable): void {
    this.sent.set(table.relationId, table.version)
  }
}

/** The first OID outside the catalogs: a column of a lower type OID gets no Type message. */
export const firstCatalogFreeOid = 16384

/**
 * What a Type message says of a column's type: a defined type by its name, except that pgoutput names a domain by its
 * base type (`getBaseType`), with "" for pg_catalog; an undefined type by the column's `typeName`, if it has one.
 */
export const typeMessageName = (
  types: ReadonlyMap<number, FakeTypeDefinition>,
  c: FakeColumn
): { readonly namespace: string; readonly typeName: string } | undefined => {
  let def = types.get(c.typeOid)
  if (def === undefined) {
    return c.typeName === undefined ? undefined : { namespace: c.typeNamespace ?? "public", typeName: c.typeName }
  }
  for (let depth = 0; def.kind === "domain" && depth < 32; depth++) {
    const base: number = def.base ?? 0
    const next: FakeTypeDefinition | undefined = types.get(base)
    if (next === undefined) return { namespace: "", typeName: builtinTypeName(base) }
    def = next
  }
  return { namespace: def.namespace ?? "public", typeName: def.name }
}
