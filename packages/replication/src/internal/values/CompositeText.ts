/**
 * The text form of composite and range values received in binary format, so that binary mode hands out what text
 * mode does for them (the text PostgreSQL's `record_out` and `range_out` print): each field or bound is decoded from
 * its binary form and written back as the server prints it, then quoted by the server's rules.
 *
 * Only fields whose text is known exactly can be written back (integers, numeric, bool, character types, uuid, bytea,
 * json, the date/time types, enums, domains over those, and nested composites and ranges); a field of any other type
 * (floats, whose shortest form PostgreSQL spells differently from JavaScript, arrays, extension types) makes the whole
 * value `undefined`, and the caller keeps its bytes. It deliberately parses no text: text mode already has it.
 */
import type { PgValue } from "../../values/PgValue.ts"
import { encodeText } from "../../values/encode.ts"
import { TypeOid } from "../../values/TypeOid.ts"
import type { TypeResolver, UserType } from "../../values/TypeResolver.ts"

type Decode = (typeOid: number, b: Uint8Array, types: TypeResolver) => PgValue

/** Built-in types whose binary value `encodeText` writes back exactly as the server's text output. */
const exactText = new Set<number>([
  TypeOid.bool,
  TypeOid.int2,
  TypeOid.int4,
  TypeOid.int8,
  TypeOid.oid,
  TypeOid.xid,
  TypeOid.cid,
  TypeOid.numeric,
  TypeOid.text,
  TypeOid.varchar,
  TypeOid.bpchar,
  TypeOid.name,
  TypeOid.uuid,
  TypeOid.bytea,
  TypeOid.json,
  TypeOid.jsonb,
  TypeOid.date,
  TypeOid.time,
  TypeOid.timetz,
  TypeOid.timestamp,
  TypeOid.timestamptz,
  TypeOid.interval
])

/** The built-in range types and their subtypes (pg_range; the same OIDs in PostgreSQL 14 to 18). */
export const builtinRanges: ReadonlyMap<number, number> = new Map([
  [3904, TypeOid.int4],
  [3906, TypeOid.numeric],
  [3908, TypeOid.timestamp],
  [3910, TypeOid.timestamptz],
  [3912, TypeOid.date],
  [3926, TypeOid.int8]
])

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const userTypeOf = (typeOid: number, types: TypeResolver): UserType | undefined => {
  const subtype = builtinRanges.get(typeOid)
  return subtype !== undefined ? { kind: "range", subtype } : types.userType?.(typeOid)
}

/** The server's text of one binary datum, or undefined when it cannot be written back exactly. */
const datumText = (
  typeOid: number,
  b: Uint8Array,
  types: TypeResolver,
  decode: Decode,
  depth: number
): string | undefined => {
  if (exactText.has(typeOid)) return encodeText(typeOid, decode(typeOid, b, types), types)
  if (depth > 16) return undefined
  const t = userTypeOf(typeOid, types)
  switch (t?.kind) {
    case "enum":
      return utf8.decode(b)
    case "domain":
      return datumText(t.base, b, types, decode, depth + 1)
    case "composite":
      return recordText(b, types, decode, depth + 1)
    case "range":
      return rangeText(t.subtype, b, types, decode, depth + 1)
    default:
      return undefined
  }
}

const isSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d)

/** Quotes `s` the way record_out (`special` without brackets) or range_out (with brackets) do. */
const quoted = (s: string, brackets: boolean): string => {
  let needs = s.length === 0
  for (let i = 0; i < s.length && !needs; i++) {
    const c = s.charCodeAt(i)
    needs =
      c === 0x22 ||
      c === 0x5c ||
      c === 0x28 ||
      c === 0x29 ||
      c === 0x2c ||
      isSpace(c) ||
      (brackets && (c === 0x5b || c === 0x5d))
  }
  return needs ? `"${s.replace(/["\\]/g, (ch) => ch + ch)}"` : s
}

class Truncated extends Error {}

const cursor = (b: Uint8Array) => {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let pos = 0
  return {
    int32: (): number => {
      if (b.length - pos < 4) throw new Truncated()
      const x = v.getInt32(pos)
      pos += 4
      return x
    },
    bytes: (n: number): Uint8Array => {
      if (n < 0 || b.length - pos < n) throw new Truncated()
      const out = b.subarray(pos, pos + n)
      pos += n
      return out
    },
    u8: (): number => {
      if (b.length - pos < 1) throw new Truncated()
      return b[pos++]!
    },
    get done() {
      return pos === b.length
    }
  }
}

/** `record_send`'s bytes (field count, then type OID, length and value of each field) as `record_out` prints them. */
export const recordText = (b: Uint8Array, types: TypeResolver, decode: Decode, depth = 0): string | undefined => {
  try {
    const r = cursor(b)
    const n = r.int32()
    if (n < 0 || n > b.length) return undefined
    const fields: Array<string> = []
    for (let i = 0; i < n; i++) {
      const oid = r.int32() >>> 0
      const len = r.int32()
      if (len === -1) {
        fields.push("")
        continue
      }
      const text = datumText(oid, r.bytes(len), types, decode, depth)
      if (text === undefined) return undefined
      fields.push(quoted(text, false))
    }
    return r.done ? `(${fields.join(",")})` : undefined
  } catch (e) {
    if (e instanceof Truncated) return undefined
    throw e
  }
}

const EMPTY = 0x01
const LB_INC = 0x02
const UB_INC = 0x04
const LB_INF = 0x08
const UB_INF = 0x10
const LB_NULL = 0x20
const UB_NULL = 0x40

/** `range_send`'s bytes (flags, then each finite bound's length and value) as `range_out` prints them. */
export const rangeText = (
  subtype: number,
  b: Uint8Array,
  types: TypeResolver,
  decode: Decode,
  depth = 0
): string | undefined => {
  try {
    const r = cursor(b)
    const flags = r.u8()
    if ((flags & EMPTY) !== 0) return r.done ? "empty" : undefined
    const bound = (none: number): string | undefined => {
      if ((flags & none) !== 0) return ""
      const text = datumText(subtype, r.bytes(r.int32()), types, decode, depth)
      return text === undefined ? undefined : quoted(text, true)
    }
    const lower = bound(LB_INF | LB_NULL)
    const upper = lower === undefined ? undefined : bound(UB_INF | UB_NULL)
    if (lower === undefined || upper === undefined || !r.done) return undefined
    return `${(flags & LB_INC) !== 0 ? "[" : "("}${lower},${upper}${(flags & UB_INC) !== 0 ? "]" : ")"}`
  } catch (e) {
    if (e instanceof Truncated) return undefined
    throw e
  }
}
