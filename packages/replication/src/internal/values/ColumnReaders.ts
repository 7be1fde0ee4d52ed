/**
 * Column value decoders that read a text-format value ('t' in pgoutput TupleData) straight from the message bytes,
 * chosen once per column when a Relation arrives instead of once per value. They skip what `decodeText` on a
 * TupleData string would do twice (an intermediate string for integers, a second pass over JSON text to prove that
 * plain `JSON.parse` is exact, the array text's element strings: ArrayReader.ts) and otherwise defer to `decodeText`, so each returns exactly what
 * `decodeText(typeOid, text)` returns for the same bytes; property tests check that.
 *
 * A reader consumes exactly `n` bytes at the reader's position. On anything unusual it may throw (a `ValueError`, a
 * `ProtocolError` for invalid UTF-8): the WalDecoder then decodes the message again on its general path, which
 * reports the error it always reported. They deliberately know nothing about rows or relations.
 */
import { type Reader, readTextValue } from "@pgcdc/protocol"
import { decodeText } from "../../values/decodeText.ts"
import { textOrArrayReader } from "./ArrayReader.ts"
import { timestampMicrosAt } from "./FastText.ts"
import type { Json, JsonValue } from "../../values/Json.ts"
import type { Numeric } from "../../values/Numeric.ts"
import type { PgValue } from "../../values/PgValue.ts"
import type { PgTimestamp, PgTimestampTz } from "../../values/PgTimestamp.ts"
import { TypeOid } from "../../values/TypeOid.ts"
import type { TypeResolver } from "../../values/TypeResolver.ts"

/** Decodes the `n`-byte text form at `r.pos` and advances past it. */
export type ColumnReader = (r: Reader, n: number) => PgValue

const C0 = 0x30
const MINUS = 0x2d

/**
 * The integer written in `buf[from, to)` when it is an optionally negative run of 1 to 15 ASCII digits (always an
 * exact double), else NaN.
 */
const smallIntegerAt = (buf: Uint8Array, from: number, to: number): number => {
  let i = from
  const negative = i < to && buf[i] === MINUS
  if (negative) i++
  if (i === to || to - i > 15) return Number.NaN
  let v = 0
  for (; i < to; i++) {
    const d = buf[i]! - C0
    if (d < 0 || d > 9) return Number.NaN
    v = v * 10 + d
  }
  return negative ? -v : v
}

const int8: (types: TypeResolver) => ColumnReader = (types) => (r, n) => {
  r.need(n, "columnValue")
  const v = smallIntegerAt(r.buf, r.pos, r.pos + n)
  if (!Number.isNaN(v)) {
    r.pos += n
    return BigInt(v)
  }
  return decodeText(TypeOid.int8, readTextValue(r, n), types)
}

const int32 =
  (typeOid: number, min: number, max: number, types: TypeResolver): ColumnReader =>
  (r, n) => {
    r.need(n, "columnValue")
    const v = smallIntegerAt(r.buf, r.pos, r.pos + n)
    if (v >= min && v <= max) {
      r.pos += n
      return v
    }
    return decodeText(typeOid, readTextValue(r, n), types)
  }

/** Whether `buf[from, to)` is `-?digits[.digits]`, the decimal form `numeric_out` prints. */
const isPlainDecimal = (buf: Uint8Array, from: number, to: number): boolean => {
  let i = from
  if (i < to && buf[i] === MINUS) i++
  const intStart = i
  while (i < to && buf[i]! - C0 >= 0 && buf[i]! - C0 <= 9) i++
  if (i === intStart) return false
  if (i === to) return true
  if (buf[i] !== 0x2e) return false
  const fracStart = ++i
  while (i < to && buf[i]! - C0 >= 0 && buf[i]! - C0 <= 9) i++
  return i === to && i > fracStart
}

const numeric: (types: TypeResolver) => ColumnReader = (types) => (r, n) => {
  r.need(n, "columnValue")
  if (isPlainDecimal(r.buf, r.pos, r.pos + n)) {
    const value: Numeric = { _tag: "Numeric", value: readTextValue(r, n) }
    return value
  }
  return decodeText(TypeOid.numeric, readTextValue(r, n), types)
}

/** A number that plain `JSON.parse` might not give exactly (exponent, > 15 significant digits, far magnitude). */
const RISKY = 0
const PLAIN = 1

/**
 * One pass over JSON bytes: whether every number literal (outside strings) is one that plain `JSON.parse` reads
 * exactly: an integer of at most 15 digits, or a decimal without exponent with at most 15 significant digits and at
 * most 300 characters. Conservative: RISKY may be exact too; invalid JSON may get any answer (the parse rejects it
 * either way). Bytes above 0x7f need no attention: in UTF-8 they never stand for a quote, a backslash or a digit,
 * and the text itself is decoded strictly apart from this scan.
 */
export const scanJson = (buf: Uint8Array, from: number, to: number): number => {
  for (let i = from; i < to; i++) {
    let c = buf[i]!
    if (c === 0x22) {
      for (i++; i < to; i++) {
        c = buf[i]!
        if (c === 0x5c) i++
        else if (c === 0x22) break
      }
      continue
    }
    if (c <= 0x39 && (c >= C0 || c === MINUS)) {
      if (c === MINUS) i++
      const start = i
      let first = -1
      let last = -1
      let dot = -1
      for (; i < to; i++) {
        c = buf[i]!
        if (c > C0 && c <= 0x39) {
          if (first < 0) first = i
          last = i
        } else if (c === 0x2e) dot = i
        else if (c !== C0) break
      }
      if (c === 0x65 || c === 0x45 || i - start > 300) return RISKY
      if (dot < 0) {
        if (i - start > 15) return RISKY
      } else if (first >= 0 && last - first + 1 - (dot > first && dot < last ? 1 : 0) > 15) return RISKY
      i--
    }
  }
  return PLAIN
}

const json =
  (typeOid: number, types: TypeResolver): ColumnReader =>
  (r, n) => {
    r.need(n, "columnValue")
    const scan = scanJson(r.buf, r.pos, r.pos + n)
    const text = readTextValue(r, n)
    if (scan === PLAIN) {
      const value: Json = { _tag: "Json", text, value: JSON.parse(text) as JsonValue }
      return value
    }
    return decodeText(typeOid, text, types)
  }

const timestamp =
  (typeOid: number, types: TypeResolver): ColumnReader =>
  (r, n) => {
    r.need(n, "columnValue")
    const micros = timestampMicrosAt(r.buf, r.pos, r.pos + n, false)
    if (micros === undefined) return decodeText(typeOid, readTextValue(r, n), types)
    r.pos += n
    const value: PgTimestamp = { _tag: "PgTimestamp", micros }
    return value
  }

const timestamptz =
  (typeOid: number, types: TypeResolver): ColumnReader =>
  (r, n) => {
    r.need(n, "columnValue")
    const micros = timestampMicrosAt(r.buf, r.pos, r.pos + n, true)
    if (micros === undefined) return decodeText(typeOid, readTextValue(r, n), types)
    r.pos += n
    const value: PgTimestampTz = { _tag: "PgTimestampTz", micros }
    return value
  }

const bool: (types: TypeResolver) => ColumnReader = (types) => (r, n) => {
  if (n === 1) {
    r.need(1, "columnValue")
    const b = r.buf[r.pos]
    if (b === 0x74 || b === 0x66) {
      r.pos++
      return b === 0x74
    }
  }
  return decodeText(TypeOid.bool, readTextValue(r, n), types)
}

/** The reader for a column of type `typeOid`; `types` resolves user-defined array types at decode time. */
export const columnReaderFor = (typeOid: number, types: TypeResolver): ColumnReader => {
  switch (typeOid) {
    case TypeOid.int8:
      return int8(types)
    case TypeOid.int4:
      return int32(typeOid, -2147483648, 2147483647, types)
    case TypeOid.int2:
      return int32(typeOid, -32768, 32767, types)
    case TypeOid.numeric:
      return numeric(types)
    case TypeOid.json:
    case TypeOid.jsonb:
      return json(typeOid, types)
    case TypeOid.timestamp:
      return timestamp(typeOid, types)
    case TypeOid.timestamptz:
      return timestamptz(typeOid, types)
    case TypeOid.bool:
      return bool(types)
    // The other types decodeText parses.
    case TypeOid.oid:
    case TypeOid.xid:
    case TypeOid.cid:
    case TypeOid.float4:
    case TypeOid.float8:
    case TypeOid.bytea:
    case TypeOid.uuid:
    case TypeOid.date:
    case TypeOid.time:
    case TypeOid.timetz:
    case TypeOid.interval:
      return (r, n) => decodeText(typeOid, readTextValue(r, n), types)
    // What decodeText's default case decodes: arrays, and every other type as its text.
    default:
      return textOrArrayReader(typeOid, types, (element) => columnReaderFor(element, types))
  }
}
