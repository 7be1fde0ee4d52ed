/**
 * The Replication service's type query (`/* pgcdc:types *\/`, `@pgcdc/replication`'s TypeCatalog), answered from the
 * fake's user-defined types (`Wal.defineType`): the types reachable from its seed (the user-typed columns of every
 * table, or a list of OIDs), through each domain's base type, array's element, range's subtype
 * and composite's fields, one row each, ordered by OID: OID, typtype, array element, base type, range subtype, the
 * columns and values PostgreSQL gives for the same types (user-types tests run the same scenario on both).
 *
 * A type the fake was not told about is not in its catalog: the query leaves it out, as PostgreSQL would leave out a
 * dropped one. It deliberately parses nothing of the query but its tag and its seed.
 */
import type { FakeServer } from "./FakeServer.ts"
import { field, INT8, type Outcome, rows, TEXT } from "./Outcome.ts"
import type { FakeTypeDefinition } from "./Wal.ts"

const firstUserTypeOid = 10000

const typtype: Record<FakeTypeDefinition["kind"], string> = {
  enum: "e",
  domain: "d",
  array: "b",
  composite: "c",
  range: "r",
  base: "b"
}

/** The seed: a list of OIDs, or else the user types of every table's columns. */
const seedOf = (server: FakeServer, sql: string): Array<number> => {
  const oids = /unnest\(ARRAY\[([\d,\s]*)\]::oid\[\]\)/i.exec(sql)
  if (oids !== null) return oids[1]!.split(",").flatMap((o) => (o.trim() === "" ? [] : [Number(o)]))
  const out: Array<number> = []
  for (const table of server.wal.definitions().values()) {
    for (const c of table.columns) if (c.typeOid >= firstUserTypeOid) out.push(c.typeOid)
  }
  return out
}

/** The answer to a `pgcdc:types` query, or undefined for any other statement. */
export const executeTypeQuery = (server: FakeServer, sql: string): Outcome | undefined => {
  if (!sql.includes("/* pgcdc:types */")) return undefined
  const seed = seedOf(server, sql)
  const types = server.wal.types
  const found = new Map<number, FakeTypeDefinition>()
  const queue = [...seed]
  while (queue.length > 0) {
    const oid = queue.pop()!
    const def = types.get(oid)
    if (def === undefined || found.has(oid)) continue
    found.set(oid, def)
    for (const next of [def.base, def.element, def.subtype, ...(def.fields ?? [])]) {
      if (next !== undefined && next >= firstUserTypeOid) queue.push(next)
    }
  }
  const answer = [...found.values()]
    .sort((a, b) => a.oid - b.oid)
    .map((d) => [
      String(d.oid),
      typtype[d.kind],
      String(d.kind === "array" ? (d.element ?? 0) : 0),
      String(d.kind === "domain" ? (d.base ?? 0) : 0),
      String(d.kind === "range" ? (d.subtype ?? 0) : 0)
    ])
  return rows(
    [
      field("oid", INT8),
      field("typtype", TEXT),
      field("typelem", INT8),
      field("typbasetype", INT8),
      field("coalesce", INT8)
    ],
    answer,
    `SELECT ${answer.length}`
  )
}
