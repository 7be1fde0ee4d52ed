/**
 * The built-in types the fake can name in catalog answers: `pg_type.typname` and `typelem` by OID (as PostgreSQL 14
 * to 18 have them), so a snapshot's column query says what a real server says about a column. A type outside this
 * list (OID ≥ 16384) is named by its column's `typeName`.
 *
 * It deliberately holds names only: the fake never converts values between types.
 */
import type { FakeColumn } from "./Wal.ts"

/** OID → [typname, typelem] for the base types; their array types are added below with typelem = the base. */
const base: ReadonlyArray<readonly [number, string, number]> = [
  [16, "bool", 1000],
  [17, "bytea", 1001],
  [18, "char", 1002],
  [19, "name", 1003],
  [20, "int8", 1016],
  [21, "int2", 1005],
  [22, "int2vector", 1006],
  [23, "int4", 1007],
  [24, "regproc", 1008],
  [25, "text", 1009],
  [26, "oid", 1028],
  [27, "tid", 1010],
  [28, "xid", 1011],
  [29, "cid", 1012],
  [30, "oidvector", 1013],
  [114, "json", 199],
  [142, "xml", 143],
  [600, "point", 1017],
  [601, "lseg", 1018],
  [602, "path", 1019],
  [603, "box", 1020],
  [604, "polygon", 1027],
  [628, "line", 629],
  [650, "cidr", 651],
  [700, "float4", 1021],
  [701, "float8", 1022],
  [718, "circle", 719],
  [774, "macaddr8", 775],
  [790, "money", 791],
  [829, "macaddr", 1040],
  [869, "inet", 1041],
  [1042, "bpchar", 1014],
  [1043, "varchar", 1015],
  [1082, "date", 1182],
  [1083, "time", 1183],
  [1114, "timestamp", 1115],
  [1184, "timestamptz", 1185],
  [1186, "interval", 1187],
  [1266, "timetz", 1270],
  [1560, "bit", 1561],
  [1562, "varbit", 1563],
  [1700, "numeric", 1231],
  [2205, "regclass", 2210],
  [2206, "regtype", 2211],
  [2950, "uuid", 2951],
  [3220, "pg_lsn", 3221],
  [3614, "tsvector", 3643],
  [3615, "tsquery", 3645],
  [3802, "jsonb", 3807],
  [3904, "int4range", 3905],
  [3906, "numrange", 3907],
  [3908, "tsrange", 3909],
  [3910, "tstzrange", 3911],
  [3912, "daterange", 3913],
  [3926, "int8range", 3927],
  [4072, "jsonpath", 4073],
  [5069, "xid8", 271]
]

const types = new Map<number, { readonly name: string; readonly element: number }>()
for (const [oid, name, array] of base) {
  types.set(oid, { name, element: 0 })
  types.set(array, { name: `_${name}`, element: oid })
}

/** The `typname` of a built-in type ("type_<oid>" for one the fake does not list). */
export const builtinTypeName = (oid: number): string => types.get(oid)?.name ?? `type_${oid}`

/**
 * `typname` and `typelem` of a column's type: built-in ones by OID, others by the column's `typeName` (an array of
 * a user type, named `_<element>`, gets its element's OID from a column of that type in `all`, or 705, "unknown",
 * when no column has it: an array whose element the fake cannot name).
 */
export const typeOf = (
  column: FakeColumn,
  all: Iterable<FakeColumn>
): { readonly name: string; readonly element: number } => {
  const builtin = types.get(column.typeOid)
  if (builtin !== undefined) return builtin
  const name = column.typeName ?? `type_${column.typeOid}`
  if (!name.startsWith("_")) return { name, element: 0 }
  for (const other of all) if (other.typeName === name.slice(1)) return { name, element: other.typeOid }
  return { name, element: 705 }
}

/** Names SQL accepts for the types above besides their typname (`integer` for int4, `text[]` for _text...). */
const aliases: ReadonlyMap<string, string> = new Map([
  ["int", "int4"],
  ["integer", "int4"],
  ["smallint", "int2"],
  ["bigint", "int8"],
  ["boolean", "bool"],
  ["real", "float4"],
  ["double precision", "float8"],
  ["character varying", "varchar"],
  ["timestamp with time zone", "timestamptz"],
  ["timestamp without time zone", "timestamp"],
  ["decimal", "numeric"]
])

/** The OID of a built-in type named as SQL names it (`bigint`, `text[]`, `timestamptz`); undefined when unknown. */
export const typeOidByName = (written: string): number | undefined => {
  const spaced = written.trim().toLowerCase().replace(/\s+/g, " ")
  const array = spaced.endsWith("[]")
  const base = array ? spaced.slice(0, -2).trim() : spaced
  const name = `${array ? "_" : ""}${aliases.get(base) ?? base}`
  for (const [oid, type] of types) if (type.name === name) return oid
  return undefined
}
