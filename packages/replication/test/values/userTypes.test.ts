/**
 * Values of user-defined types by what the resolver says of them: binary enums, domains, composites and ranges decode
 * to what text mode gives; composites and ranges whose fields cannot be written back exactly, and types the resolver
 * does not know, stay bytes. And the relation cache: which types it asks the catalog for, and when a Type message
 * makes it forget one.
 */
import type { Pgoutput } from "@pgcdc/protocol"
import { assert, describe, it } from "vitest"
import { RelationCache } from "../../src/internal/decoder/RelationCache.ts"
import { TypeCatalog, typeOfRow } from "../../src/internal/decoder/TypeCatalog.ts"
import { decodeBinary, decodeText, encodeText, ValueError } from "../../src/values/index.ts"
import type { TypeResolver, UserType } from "../../src/values/TypeResolver.ts"

const MOOD = 20001
const POSINT = 20002
const PAIR = 20003
const MOOD_RANGE = 20004
const UNKNOWN = 20009

const resolver = (types: Record<number, UserType>): TypeResolver => ({
  elementOf: () => undefined,
  userType: (oid) => types[oid]
})
const types = resolver({
  [MOOD]: { kind: "enum" },
  [POSINT]: { kind: "domain", base: 23 },
  [PAIR]: { kind: "composite" },
  [MOOD_RANGE]: { kind: "range", subtype: MOOD }
})

const utf8 = (s: string) => new TextEncoder().encode(s)

/** A buffer of big-endian parts: numbers are int32, strings UTF-8, Uint8Arrays as they are. */
const bytes = (...parts: ReadonlyArray<number | string | Uint8Array>): Uint8Array => {
  const chunks = parts.map((p) => {
    if (typeof p === "string") return utf8(p)
    if (p instanceof Uint8Array) return p
    const b = new Uint8Array(4)
    new DataView(b.buffer).setInt32(0, p)
    return b
  })
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

/** record_send: field count, then per field its type OID, length (-1: NULL) and value. */
const record = (...fields: ReadonlyArray<readonly [number, Uint8Array | null]>): Uint8Array =>
  bytes(fields.length, ...fields.flatMap(([oid, v]) => (v === null ? [oid, -1] : [oid, v.length, v])))

describe("binary values of user-defined types", () => {
  it("an enum is its label, a domain its base type's value", () => {
    assert.strictEqual(decodeBinary(MOOD, utf8("ok go"), types), "ok go")
    assert.strictEqual(decodeBinary(POSINT, bytes(42), types), 42)
    assert.strictEqual(decodeText(POSINT, "42", types), 42)
  })

  it("a composite is record_out's text: quoted where PostgreSQL quotes, NULL fields empty", () => {
    const value = record(
      [23, bytes(7)],
      [25, utf8('x, "y" \\ z')],
      [MOOD, utf8("ok go")],
      [POSINT, null],
      [25, utf8("")]
    )
    assert.strictEqual(decodeBinary(PAIR, value, types), '(7,"x, ""y"" \\\\ z","ok go",,"")')
    // Nested: the inner record's text is quoted as a field.
    assert.strictEqual(decodeBinary(PAIR, record([PAIR, record([23, bytes(1)], [25, utf8("a")])]), types), '("(1,a)")')
  })

  it("a range is range_out's text, brackets quoted too", () => {
    const bound = (s: string) => [s.length, utf8(s)] as const
    assert.strictEqual(
      decodeBinary(MOOD_RANGE, bytes(new Uint8Array([0x02]), ...bound("a[b"), ...bound("sad")), types),
      '["a[b",sad)'
    )
    assert.strictEqual(decodeBinary(MOOD_RANGE, new Uint8Array([0x01]), types), "empty")
    assert.strictEqual(decodeBinary(MOOD_RANGE, new Uint8Array([0x18]), types), "(,)")
    // int4range is built in: no resolver needed.
    assert.strictEqual(decodeBinary(3904, bytes(new Uint8Array([0x02]), 4, 1, 4, 5)), "[1,5)")
  })

  it("stays bytes where the text cannot be written back exactly, or the type is unknown", () => {
    const withFloat = record([701, new Uint8Array(8)])
    assert.deepStrictEqual(decodeBinary(PAIR, withFloat, types), withFloat)
    const truncated = record([23, bytes(7)]).subarray(0, 10)
    assert.deepStrictEqual(decodeBinary(PAIR, truncated, types), truncated)
    assert.deepStrictEqual(decodeBinary(UNKNOWN, utf8("x"), types), utf8("x"))
    assert.deepStrictEqual(decodeBinary(MOOD, utf8("happy")), utf8("happy"), "without a resolver: bytes, as before")
  })
})

describe("text of user-type values (what a sink writes back)", () => {
  it("a domain's value by its base type, or by its own kind without a resolver; never an unknown type's bytes", () => {
    assert.strictEqual(encodeText(POSINT, 42, types), "42")
    assert.strictEqual(encodeText(POSINT, 42), "42")
    assert.strictEqual(
      encodeText(20100, { _tag: "PgArray", dimensions: [{ length: 2, lowerBound: 1 }], elements: [1, null] }),
      "{1,NULL}"
    )
    assert.strictEqual(encodeText(MOOD, "ok go"), "ok go")
    assert.throws(() => encodeText(UNKNOWN, utf8("x")), ValueError)
  })
})

describe("the type catalog and the relation cache", () => {
  const relation = (oids: ReadonlyArray<number>): Pgoutput.Relation => ({
    _tag: "Relation",
    xid: undefined,
    relationId: 1,
    namespace: "public",
    relationName: "t",
    replicaIdentity: "d",
    columns: oids.map((typeOid, i) => ({ flags: 0, name: `c${i}`, typeOid, typeModifier: -1 }))
  })
  const type = (typeOid: number, typeName: string): Pgoutput.Type => ({
    _tag: "Type",
    xid: undefined,
    typeOid,
    namespace: "public",
    typeName
  })

  it("reads pg_type rows: typtype, array element, base type, range subtype", () => {
    assert.deepStrictEqual(typeOfRow(["1", "e", "0", "0", "0"]), [1, { kind: "enum" }])
    assert.deepStrictEqual(typeOfRow(["2", "d", "0", "23", "0"]), [2, { kind: "domain", base: 23 }])
    assert.deepStrictEqual(typeOfRow(["3", "b", "1", "0", "0"]), [3, { kind: "array", element: 1 }])
    assert.deepStrictEqual(typeOfRow(["4", "r", "0", "0", "23"]), [4, { kind: "range", subtype: 23 }])
    assert.deepStrictEqual(typeOfRow(["5", "m", "0", "0", "0"]), [5, { kind: "unknown" }])
  })

  it("asks for the user types a Relation names that the catalog does not know, once", () => {
    const catalog = new TypeCatalog()
    catalog.set(MOOD, { kind: "enum" })
    const cache = new RelationCache(catalog)
    cache.relation(relation([23, MOOD, POSINT, 3904]))
    assert.deepStrictEqual(cache.takeUnresolved(), [POSINT])
    assert.isUndefined(cache.takeUnresolved())
  })

  it("forgets a type when a Type message names its OID otherwise (dropped, OID reused)", () => {
    const catalog = new TypeCatalog()
    const cache = new RelationCache(catalog)
    cache.type(type(MOOD, "mood"))
    assert.deepStrictEqual(cache.takeUnresolved(), [MOOD])
    catalog.set(MOOD, { kind: "enum" })
    cache.type(type(MOOD, "mood"))
    assert.isUndefined(cache.takeUnresolved(), "same name: still known")
    cache.type(type(MOOD, "colour"))
    assert.isFalse(catalog.has(MOOD))
    assert.deepStrictEqual(cache.takeUnresolved(), [MOOD])
  })

  it("a type not found is looked up once more at the next transaction end, then unknown", () => {
    const catalog = new TypeCatalog()
    const cache = new RelationCache(catalog)
    catalog.miss(MOOD)
    cache.relation(relation([MOOD]))
    assert.isUndefined(cache.takeUnresolved(), "no lookup before the transaction ends")
    assert.deepStrictEqual(catalog.takeRetries(), [MOOD])
    assert.isUndefined(catalog.takeRetries())
    catalog.miss(MOOD)
    assert.deepStrictEqual(catalog.get(MOOD), { kind: "unknown" })
    assert.isFalse(catalog.hasRetries)
  })

  it("arrays by the catalog's element type, else by the _name rule", () => {
    const catalog = new TypeCatalog()
    catalog.set(20100, { kind: "array", element: POSINT })
    catalog.set(POSINT, { kind: "domain", base: 23 })
    const cache = new RelationCache(catalog)
    assert.strictEqual(cache.elementOf(20100), POSINT)
    assert.deepStrictEqual(decodeText(20100, "{1,2}", cache), {
      _tag: "PgArray",
      dimensions: [{ length: 2, lowerBound: 1 }],
      elements: [1, 2]
    })
    cache.type(type(20200, "_other"))
    assert.strictEqual(cache.elementOf(20200), 0)
  })
})
