/**
 * Decodes a column value sent in binary format ('b' in pgoutput tuple data, the `binary` option) by its type OID,
 * giving exactly the value `decodeText` gives for the same datum.
 *
 * Throws `ValueError` on a wrong length or an impossible value; never keeps a view of the input (bytea and unknown
 * types are copied). User types the resolver describes decode like their text (enums, domains, arrays, composites and
 * ranges: see `userValue`); types it does not know come back as a copy of their bytes, since only the type's own
 * `recv` function knows their layout.
 */
import * as JsonValue from "./Json.ts"
import * as Numeric from "./Numeric.ts"
import * as PgDate from "./PgDate.ts"
import * as PgInterval from "./PgInterval.ts"
import * as PgTime from "./PgTime.ts"
import * as PgTimestamp from "./PgTimestamp.ts"
import type { PgArrayDimension, PgValue } from "./PgValue.ts"
import { TypeOid } from "./TypeOid.ts"
import { builtinTypes, type TypeResolver } from "./TypeResolver.ts"
import { ValueError } from "./ValueError.ts"
import { builtinRanges, rangeText, recordText } from "../internal/values/CompositeText.ts"

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const fail = (typeOid: number, detail: string): never => {
  throw new ValueError({ typeOid, format: "binary", detail })
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength)

const exact = (typeOid: number, b: Uint8Array, n: number): DataView =>
  b.length === n ? view(b) : fail(typeOid, `expected ${n} byte(s), got ${b.length}`)

const text = (typeOid: number, b: Uint8Array): string => {
  try {
    return utf8.decode(b)
  } catch {
    return fail(typeOid, "invalid UTF-8")
  }
}

const json = (typeOid: number, s: string): JsonValue.Json => {
  try {
    return JsonValue.parse(s)
  } catch {
    return fail(typeOid, "invalid JSON")
  }
}

const hex = (b: Uint8Array): string => {
  let s = ""
  for (const x of b) s += x.toString(16).padStart(2, "0")
  return s
}

const numeric = (b: Uint8Array): Numeric.Numeric => {
  if (b.length < 8) return fail(TypeOid.numeric, `expected at least 8 bytes, got ${b.length}`)
  const v = view(b)
  const ndigits = v.getInt16(0)
  if (ndigits < 0 || b.length !== 8 + 2 * ndigits)
    return fail(TypeOid.numeric, `${ndigits} digit(s) in ${b.length} bytes`)
  const digits: Array<number> = []
  for (let i = 0; i < ndigits; i++) digits.push(v.getInt16(8 + 2 * i))
  const t = Numeric.textOfBinary({ weight: v.getInt16(2), sign: v.getUint16(4), dscale: v.getInt16(6), digits })
  return t === undefined ? fail(TypeOid.numeric, "invalid sign, scale or digit") : Numeric.unsafeMake(t)
}

const MAX_DIMENSIONS = 6

const array = (typeOid: number, b: Uint8Array, types: TypeResolver): PgValue => {
  const v = view(b)
  let pos = 0
  const need = (n: number): void => {
    if (b.length - pos < n) fail(typeOid, `array truncated at byte ${pos}`)
  }
  need(12)
  const ndim = v.getInt32(0)
  const flags = v.getInt32(4)
  const element = v.getUint32(8)
  pos = 12
  if (ndim < 0 || ndim > MAX_DIMENSIONS) return fail(typeOid, `${ndim} dimensions`)
  if (flags !== 0 && flags !== 1) return fail(typeOid, `array flags ${flags}`)
  const dimensions: Array<PgArrayDimension> = []
  let count = ndim === 0 ? 0 : 1
  for (let i = 0; i < ndim; i++) {
    need(8)
    const length = v.getInt32(pos)
    const lowerBound = v.getInt32(pos + 4)
    pos += 8
    if (length < 0) return fail(typeOid, `dimension ${i + 1} has length ${length}`)
    dimensions.push({ length, lowerBound })
    count *= length
  }
  if (count > b.length) return fail(typeOid, `${count} elements cannot fit in ${b.length} bytes`)
  const elements: Array<PgValue | null> = []
  for (let i = 0; i < count; i++) {
    need(4)
    const len = v.getInt32(pos)
    pos += 4
    if (len === -1) {
      elements.push(null)
      continue
    }
    if (len < 0) return fail(typeOid, `element ${i} has length ${len}`)
    need(len)
    elements.push(decodeBinary(element, b.subarray(pos, pos + len), types))
    pos += len
  }
  if (pos !== b.length) return fail(typeOid, `${b.length - pos} trailing byte(s) after the array`)
  // A zero-length dimension makes the array empty, which PostgreSQL always sends with no dimensions.
  return { _tag: "PgArray", dimensions: count === 0 ? [] : dimensions, elements }
}

/**
 * Decodes one binary value. Whether an unknown type is an array is never guessed from its bytes: only the resolver
 * (built-in array types, and user array types seen in `Type` messages) says so.
 */
export const decodeBinary = (typeOid: number, b: Uint8Array, types: TypeResolver = builtinTypes): PgValue => {
  switch (typeOid) {
    case TypeOid.bool: {
      const x = exact(typeOid, b, 1).getUint8(0)
      return x === 1 ? true : x === 0 ? false : fail(typeOid, `boolean byte ${x}`)
    }
    case TypeOid.int2:
      return exact(typeOid, b, 2).getInt16(0)
    case TypeOid.int4:
      return exact(typeOid, b, 4).getInt32(0)
    case TypeOid.oid:
    case TypeOid.xid:
    case TypeOid.cid:
      return exact(typeOid, b, 4).getUint32(0)
    case TypeOid.int8:
      return exact(typeOid, b, 8).getBigInt64(0)
    case TypeOid.float4:
      return exact(typeOid, b, 4).getFloat32(0)
    case TypeOid.float8:
      return exact(typeOid, b, 8).getFloat64(0)
    case TypeOid.numeric:
      return numeric(b)
    case TypeOid.bytea:
      return b.slice()
    case TypeOid.text:
    case TypeOid.varchar:
    case TypeOid.bpchar:
    case TypeOid.name:
    case TypeOid.xml:
      return text(typeOid, b)
    case TypeOid.char:
      return exact(typeOid, b, 1).getUint8(0) === 0 ? "" : String.fromCharCode(b[0]!)
    case TypeOid.uuid: {
      exact(typeOid, b, 16)
      const h = hex(b)
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
    }
    case TypeOid.json:
      return json(typeOid, text(typeOid, b))
    case TypeOid.jsonb:
      if (b.length === 0 || b[0] !== 1) return fail(typeOid, `jsonb version ${b[0]}, expected 1`)
      return json(typeOid, text(typeOid, b.subarray(1)))
    case TypeOid.date:
      return PgDate.make(exact(typeOid, b, 4).getInt32(0))
    case TypeOid.time: {
      const micros = exact(typeOid, b, 8).getBigInt64(0)
      return micros < 0n || micros > 86_400_000_000n
        ? fail(typeOid, `time ${micros} out of range`)
        : PgTime.make(Number(micros))
    }
    case TypeOid.timetz: {
      const v = exact(typeOid, b, 12)
      const micros = v.getBigInt64(0)
      if (micros < 0n || micros > 86_400_000_000n) return fail(typeOid, `time ${micros} out of range`)
      // PostgreSQL stores the zone as seconds WEST of Greenwich; PgTimeTz uses the ISO (east-positive) sign.
      return PgTime.makeTz(Number(micros), 0 - v.getInt32(8))
    }
    case TypeOid.timestamp:
      return PgTimestamp.make(exact(typeOid, b, 8).getBigInt64(0))
    case TypeOid.timestamptz:
      return PgTimestamp.makeTz(exact(typeOid, b, 8).getBigInt64(0))
    case TypeOid.interval: {
      const v = exact(typeOid, b, 16)
      return PgInterval.make(v.getInt32(12), v.getInt32(8), v.getBigInt64(0))
    }
    default:
      return userValue(typeOid, b, types)
  }
}

/**
 * A type outside the built-in ones, as far as the resolver knows it: an enum is its label, a domain its base type's
 * value, an array a `PgArray`, a composite or a range its text (what text mode gives); anything else a copy of its
 * bytes.
 */
const userValue = (typeOid: number, b: Uint8Array, types: TypeResolver): PgValue => {
  const range = builtinRanges.get(typeOid)
  const t = range !== undefined ? ({ kind: "range", subtype: range } as const) : types.userType?.(typeOid)
  switch (t?.kind) {
    case "enum":
      return text(typeOid, b)
    case "domain":
      return decodeBinary(t.base, b, types)
    case "composite":
      return recordText(b, types, decodeBinary) ?? b.slice()
    case "range":
      return rangeText(t.subtype, b, types, decodeBinary) ?? b.slice()
    default:
      return types.elementOf(typeOid) !== undefined ? array(typeOid, b, types) : b.slice()
  }
}
