/**
 * The built-in type OIDs that the value decoders know, and the element type of each built-in array type.
 *
 * The OIDs are fixed in PostgreSQL's catalog (pg_type.dat) and identical in every major version we support.
 * Types that are not listed here (enums, domains, composite types, extensions) decode by what the resolver says of
 * them (TypeResolver.ts), and otherwise to their text form (their bytes in binary mode).
 */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  xid: 28,
  cid: 29,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  box: 603
} as const

/** Array type OID → element type OID, for the built-in array types (text-format arrays need the element type). */
export const arrayElementOid: ReadonlyMap<number, number> = new Map<number, number>([
  [1000, TypeOid.bool],
  [1001, TypeOid.bytea],
  [1002, TypeOid.char],
  [1003, TypeOid.name],
  [1016, TypeOid.int8],
  [1005, TypeOid.int2],
  [1007, TypeOid.int4],
  [1009, TypeOid.text],
  [1028, TypeOid.oid],
  [1011, TypeOid.xid],
  [1012, TypeOid.cid],
  [199, TypeOid.json],
  [143, TypeOid.xml],
  [1021, TypeOid.float4],
  [1022, TypeOid.float8],
  [1014, TypeOid.bpchar],
  [1015, TypeOid.varchar],
  [1182, TypeOid.date],
  [1183, TypeOid.time],
  [1115, TypeOid.timestamp],
  [1185, TypeOid.timestamptz],
  [1187, TypeOid.interval],
  [1270, TypeOid.timetz],
  [1231, TypeOid.numeric],
  [2951, TypeOid.uuid],
  [3807, TypeOid.jsonb],
  [1020, TypeOid.box],
  // Arrays of types decoded as text: listed so that their text form is split into elements.
  [1041, 869], // inet
  [651, 650], // cidr
  [1040, 829], // macaddr
  [791, 790], // money
  [1561, 1560], // bit
  [1563, 1562], // varbit
  [1017, 600], // point
  [1263, 2275] // cstring
])

/** Oid of the array type whose elements have type `elementOid`, for the built-in types. */
export const arrayOidOf = (elementOid: number): number | undefined => {
  for (const [array, element] of arrayElementOid) if (element === elementOid) return array
  return undefined
}
