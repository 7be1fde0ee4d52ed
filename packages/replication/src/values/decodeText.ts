/**
 * Decodes a column value sent in text format ('t' in pgoutput tuple data) by its type OID.
 *
 * Throws `ValueError` (the relation decoder turns it into a `Result`); never returns a lossy value. Types it does
 * not know come back as their text unchanged, and so do enums, composites and ranges; a domain decodes as its base
 * type when the resolver knows it.
 */
import { arrayText } from "../internal/values/arrayDelimiter.ts"
import { smallInteger } from "../internal/values/FastText.ts"
import * as JsonValue from "./Json.ts"
import * as Numeric from "./Numeric.ts"
import type { PgValue } from "./PgValue.ts"
import {
  parseDate,
  parseInterval,
  parseTime,
  parseTimestamp,
  parseTimestampTz,
  parseTimeTz
} from "../internal/values/TextParsers.ts"
import { TypeOid } from "./TypeOid.ts"
import { builtinTypes, type TypeResolver } from "./TypeResolver.ts"
import { excerpt, ValueError } from "./ValueError.ts"

const intRe = /^-?\d+$/
const floatRe = /^(?:-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|-?Infinity|NaN)$/
const uuidRe = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

const fail = (typeOid: number, text: string, what: string): never => {
  throw new ValueError({ typeOid, format: "text", detail: `${excerpt(text)} is not ${what}` })
}

const integer = (typeOid: number, text: string, min: number, max: number, what: string): number => {
  const small = smallInteger(text)
  if (small !== undefined) return small >= min && small <= max ? small : fail(typeOid, text, what)
  if (!intRe.test(text)) return fail(typeOid, text, what)
  const n = Number(text)
  return n >= min && n <= max ? n : fail(typeOid, text, what)
}

const hexPairRe = /^(?:[0-9a-fA-F]{2})*$/

const bytea = (text: string): Uint8Array => {
  if (text.startsWith("\\x")) {
    const hex = text.slice(2)
    if (!hexPairRe.test(hex)) return fail(TypeOid.bytea, text, "hex-format bytea")
    const out = new Uint8Array(hex.length / 2)
    for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
    return out
  }
  // The older "escape" format: printable ASCII as is, `\\` for a backslash, `\ooo` for any other byte.
  const out: Array<number> = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x5c) {
      if (text[i + 1] === "\\") {
        out.push(0x5c)
        i++
      } else if (/^[0-3][0-7][0-7]$/.test(text.slice(i + 1, i + 4))) {
        out.push(Number.parseInt(text.slice(i + 1, i + 4), 8))
        i += 3
      } else return fail(TypeOid.bytea, text, "escape-format bytea")
    } else if (c > 0x7f) return fail(TypeOid.bytea, text, "escape-format bytea")
    else out.push(c)
  }
  return Uint8Array.from(out)
}

const orFail = <A>(typeOid: number, text: string, value: A | undefined, what: string): A =>
  value === undefined ? fail(typeOid, text, what) : value

export const decodeText = (typeOid: number, text: string, types: TypeResolver = builtinTypes): PgValue => {
  switch (typeOid) {
    case TypeOid.bool:
      return text === "t" ? true : text === "f" ? false : fail(typeOid, text, "a boolean (t or f)")
    case TypeOid.int2:
      return integer(typeOid, text, -32768, 32767, "an int2")
    case TypeOid.int4:
      return integer(typeOid, text, -2147483648, 2147483647, "an int4")
    case TypeOid.oid:
    case TypeOid.xid:
    case TypeOid.cid:
      return integer(typeOid, text, 0, 4294967295, "an unsigned 32-bit integer")
    case TypeOid.int8: {
      // Up to 15 digits is always an exact double and within int8: no need to parse the text as a bigint.
      const small = smallInteger(text)
      if (small !== undefined) return BigInt(small)
      if (!intRe.test(text)) return fail(typeOid, text, "an int8")
      const n = BigInt(text)
      return n >= -(2n ** 63n) && n < 2n ** 63n ? n : fail(typeOid, text, "an int8")
    }
    case TypeOid.float4:
      // The shortest text of a float4 names exactly one float4; fround recovers it, equal to the binary value.
      return floatRe.test(text) ? Math.fround(Number(text)) : fail(typeOid, text, "a float4")
    case TypeOid.float8:
      return floatRe.test(text) ? Number(text) : fail(typeOid, text, "a float8")
    case TypeOid.numeric: {
      const n = Numeric.fromString(text)
      return n._tag === "Some" ? n.value : fail(typeOid, text, "a numeric")
    }
    case TypeOid.bytea:
      return bytea(text)
    case TypeOid.uuid:
      return uuidRe.test(text) ? text.toLowerCase() : fail(typeOid, text, "a uuid")
    case TypeOid.json:
    case TypeOid.jsonb:
      try {
        return JsonValue.parse(text)
      } catch {
        return fail(typeOid, text, "valid JSON")
      }
    case TypeOid.date:
      return orFail(typeOid, text, parseDate(text), "an ISO date")
    case TypeOid.time:
      return orFail(typeOid, text, parseTime(text), "a time")
    case TypeOid.timetz:
      return orFail(typeOid, text, parseTimeTz(text), "a time with time zone")
    case TypeOid.timestamp:
      return orFail(typeOid, text, parseTimestamp(text), "an ISO timestamp (DateStyle ISO)")
    case TypeOid.timestamptz:
      return orFail(typeOid, text, parseTimestampTz(text), "an ISO timestamp with offset (DateStyle ISO)")
    case TypeOid.interval:
      return orFail(typeOid, text, parseInterval(text), "an interval (IntervalStyle postgres)")
    default: {
      const user = types.userType?.(typeOid)
      // A domain's text is its base type's (enums, composites and ranges are their text, as below).
      if (user?.kind === "domain") return decodeText(user.base, text, types)
      const element = types.elementOf(typeOid)
      if (element === undefined) return text
      const parts = arrayText(typeOid, element, text)
      return {
        _tag: "PgArray",
        dimensions: parts.dimensions,
        elements: parts.elements.map((e) => (e === null ? null : decodeText(element, e, types)))
      }
    }
  }
}
