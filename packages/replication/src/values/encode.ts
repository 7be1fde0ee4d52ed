/**
 * The inverse of the decoders: a `PgValue` written in PostgreSQL's text form (as the server prints it with
 * `DateStyle=ISO`, `IntervalStyle=postgres`, `TimeZone=UTC`) and in its binary form. Used by the property tests and
 * by fake servers that must send values the way PostgreSQL does.
 *
 * Floats print in JavaScript's shortest form, which parses to the same value as the server's form but may be
 * spelled differently (`1e-07` from the server, `1e-7` from here). Throws `ValueError` when the value does not
 * belong to the type.
 */
import { formatArrayText } from "../internal/values/ArrayText.ts"
import { delimiterOf } from "../internal/values/arrayDelimiter.ts"
import * as Numeric from "./Numeric.ts"
import * as PgDate from "./PgDate.ts"
import * as PgInterval from "./PgInterval.ts"
import * as PgTime from "./PgTime.ts"
import * as PgTimestamp from "./PgTimestamp.ts"
import type { PgArray, PgValue } from "./PgValue.ts"
import { TypeOid } from "./TypeOid.ts"
import { builtinTypes, type TypeResolver } from "./TypeResolver.ts"
import { ValueError } from "./ValueError.ts"

const utf8 = new TextEncoder()

const mismatch = (typeOid: number, format: "text" | "binary", value: PgValue): never => {
  throw new ValueError({ typeOid, format, detail: `cannot encode a ${describe(value)} as this type` })
}

const describe = (value: PgValue): string =>
  typeof value === "object" ? (value instanceof Uint8Array ? "Uint8Array" : value._tag) : typeof value

const tagged = <T extends string>(value: PgValue, tag: T): value is Extract<PgValue, { readonly _tag: T }> =>
  typeof value === "object" && !(value instanceof Uint8Array) && value._tag === tag

const floatText = (n: number): string => (Object.is(n, -0) ? "-0" : String(n))

const hex = (b: Uint8Array): string => {
  let s = ""
  for (const x of b) s += x.toString(16).padStart(2, "0")
  return s
}

export const encodeText = (typeOid: number, value: PgValue, types: TypeResolver = builtinTypes): string => {
  const bad = (): never => mismatch(typeOid, "text", value)
  switch (typeOid) {
    case TypeOid.bool:
      return typeof value === "boolean" ? (value ? "t" : "f") : bad()
    case TypeOid.int2:
    case TypeOid.int4:
    case TypeOid.oid:
    case TypeOid.xid:
    case TypeOid.cid:
      return typeof value === "number" ? String(value) : bad()
    case TypeOid.int8:
      return typeof value === "bigint" ? String(value) : bad()
    case TypeOid.float4:
    case TypeOid.float8:
      return typeof value === "number" ? floatText(value) : bad()
    case TypeOid.numeric:
      return tagged(value, "Numeric") ? value.value : bad()
    case TypeOid.bytea:
      return value instanceof Uint8Array ? `\\x${hex(value)}` : bad()
    case TypeOid.json:
    case TypeOid.jsonb:
      return tagged(value, "Json") ? value.text : bad()
    case TypeOid.date:
      return tagged(value, "PgDate") ? PgDate.format(value) : bad()
    case TypeOid.time:
      return tagged(value, "PgTime") ? PgTime.format(value) : bad()
    case TypeOid.timetz:
      return tagged(value, "PgTimeTz") ? PgTime.formatTz(value) : bad()
    case TypeOid.timestamp:
      return tagged(value, "PgTimestamp") ? PgTimestamp.format(value) : bad()
    case TypeOid.timestamptz:
      return tagged(value, "PgTimestampTz") ? PgTimestamp.formatTz(value) : bad()
    case TypeOid.interval:
      return tagged(value, "PgInterval") ? PgInterval.format(value) : bad()
    default: {
      const user = types.userType?.(typeOid)
      if (user?.kind === "domain") return encodeText(user.base, value, types)
      const element = types.elementOf(typeOid)
      if (element !== undefined && tagged(value, "PgArray")) {
        const a: PgArray = value
        return formatArrayText(
          {
            dimensions: a.dimensions,
            elements: a.elements.map((e) => (e === null ? null : encodeText(element, e, types)))
          },
          delimiterOf(element)
        )
      }
      return textByShape(value) ?? bad()
    }
  }
}

/**
 * The text of a value of a type the resolver does not know, by the value's own kind: a domain's value is its base
 * type's (a number, a date, ...), and an array of a domain a `PgArray` of those, so a caller without the type catalog
 * (a sink writing rows back) can still write them. Bytes are not written: they are an unknown type's binary form.
 */
const textByShape = (value: PgValue): string | undefined => {
  switch (typeof value) {
    case "string":
      return value
    case "number":
      return floatText(value)
    case "bigint":
      return String(value)
    case "boolean":
      return value ? "t" : "f"
  }
  if (value instanceof Uint8Array) return undefined
  switch (value._tag) {
    case "Numeric":
      return value.value
    case "Json":
      return value.text
    case "PgDate":
      return PgDate.format(value)
    case "PgTime":
      return PgTime.format(value)
    case "PgTimeTz":
      return PgTime.formatTz(value)
    case "PgTimestamp":
      return PgTimestamp.format(value)
    case "PgTimestampTz":
      return PgTimestamp.formatTz(value)
    case "PgInterval":
      return PgInterval.format(value)
    case "PgArray": {
      const elements: Array<string | null> = []
      for (const e of value.elements) {
        const text = e === null ? null : textByShape(e)
        if (text === undefined) return undefined
        elements.push(text)
      }
      return formatArrayText({ dimensions: value.dimensions, elements }, ",")
    }
  }
}

const sized = (n: number, write: (v: DataView) => void): Uint8Array => {
  const out = new Uint8Array(n)
  write(new DataView(out.buffer))
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export const encodeBinary = (typeOid: number, value: PgValue, types: TypeResolver = builtinTypes): Uint8Array => {
  const bad = (): never => mismatch(typeOid, "binary", value)
  switch (typeOid) {
    case TypeOid.bool:
      return typeof value === "boolean" ? Uint8Array.of(value ? 1 : 0) : bad()
    case TypeOid.int2:
      return typeof value === "number" ? sized(2, (v) => v.setInt16(0, value)) : bad()
    case TypeOid.int4:
      return typeof value === "number" ? sized(4, (v) => v.setInt32(0, value)) : bad()
    case TypeOid.oid:
    case TypeOid.xid:
    case TypeOid.cid:
      return typeof value === "number" ? sized(4, (v) => v.setUint32(0, value)) : bad()
    case TypeOid.int8:
      return typeof value === "bigint" ? sized(8, (v) => v.setBigInt64(0, value)) : bad()
    case TypeOid.float4:
      return typeof value === "number" ? sized(4, (v) => v.setFloat32(0, value)) : bad()
    case TypeOid.float8:
      return typeof value === "number" ? sized(8, (v) => v.setFloat64(0, value)) : bad()
    case TypeOid.numeric: {
      if (!tagged(value, "Numeric")) return bad()
      const b = Numeric.binaryOfText(value.value)
      return sized(8 + 2 * b.digits.length, (v) => {
        v.setInt16(0, b.digits.length)
        v.setInt16(2, b.weight)
        v.setUint16(4, b.sign)
        v.setInt16(6, b.dscale)
        for (let i = 0; i < b.digits.length; i++) v.setInt16(8 + 2 * i, b.digits[i]!)
      })
    }
    case TypeOid.bytea:
      return value instanceof Uint8Array ? value.slice() : bad()
    case TypeOid.char:
      return typeof value === "string" ? (value === "" ? Uint8Array.of(0) : Uint8Array.of(value.charCodeAt(0))) : bad()
    case TypeOid.uuid:
      return typeof value === "string"
        ? Uint8Array.from(value.replace(/-/g, "").match(/../g) ?? [], (h) => Number.parseInt(h, 16))
        : bad()
    case TypeOid.json:
      return tagged(value, "Json") ? utf8.encode(value.text) : bad()
    case TypeOid.jsonb:
      return tagged(value, "Json") ? concat([Uint8Array.of(1), utf8.encode(value.text)]) : bad()
    case TypeOid.date:
      return tagged(value, "PgDate") ? sized(4, (v) => v.setInt32(0, value.days)) : bad()
    case TypeOid.time:
      return tagged(value, "PgTime") ? sized(8, (v) => v.setBigInt64(0, BigInt(value.micros))) : bad()
    case TypeOid.timetz:
      return tagged(value, "PgTimeTz")
        ? sized(12, (v) => {
            v.setBigInt64(0, BigInt(value.micros))
            v.setInt32(8, -value.offsetSeconds)
          })
        : bad()
    case TypeOid.timestamp:
      return tagged(value, "PgTimestamp") ? sized(8, (v) => v.setBigInt64(0, value.micros)) : bad()
    case TypeOid.timestamptz:
      return tagged(value, "PgTimestampTz") ? sized(8, (v) => v.setBigInt64(0, value.micros)) : bad()
    case TypeOid.interval:
      return tagged(value, "PgInterval")
        ? sized(16, (v) => {
            v.setBigInt64(0, value.micros)
            v.setInt32(8, value.days)
            v.setInt32(12, value.months)
          })
        : bad()
    default: {
      const element = types.elementOf(typeOid)
      if (element !== undefined && tagged(value, "PgArray")) {
        const a: PgArray = value
        const parts: Array<Uint8Array> = [
          sized(12 + 8 * a.dimensions.length, (v) => {
            v.setInt32(0, a.dimensions.length)
            v.setInt32(4, a.elements.includes(null) ? 1 : 0)
            v.setUint32(8, element)
            a.dimensions.forEach((d, i) => {
              v.setInt32(12 + 8 * i, d.length)
              v.setInt32(16 + 8 * i, d.lowerBound)
            })
          })
        ]
        for (const e of a.elements) {
          if (e === null) parts.push(sized(4, (v) => v.setInt32(0, -1)))
          else {
            const bytes = encodeBinary(element, e, types)
            parts.push(
              sized(4, (v) => v.setInt32(0, bytes.length)),
              bytes
            )
          }
        }
        return concat(parts)
      }
      if (typeof value === "string") return utf8.encode(value)
      return value instanceof Uint8Array ? value.slice() : bad()
    }
  }
}
