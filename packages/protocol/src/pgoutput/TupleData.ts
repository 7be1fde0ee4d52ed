/**
 * pgoutput TupleData: the column values of one row as PostgreSQL sent them, before any type decoding.
 *
 * Each column is one of four kinds: 'n' SQL NULL, 'u' an unchanged TOASTed value that PostgreSQL did not send,
 * 't' the text form, 'b' the binary form (only with the `binary` option). The values keep that distinction exactly:
 * unchanged TOAST is a marker, never null; text is strict UTF-8; binary is a COPY that stays valid after the input
 * buffer is reused (docs/design.md, invariant 8).
 *
 * This is the hottest loop of the whole library (one call per row), so it reads through the caller's `Reader`
 * with constant field names and allocates only the values and one array.
 *
 * It deliberately does not know column types or relations: the replication package resolves those.
 */
import { ProtocolError } from "../ProtocolError.ts"
import type { Reader } from "../Reader.ts"
import type { Writer } from "../Writer.ts"

/** Marker for an unchanged TOASTed column ('u'): PostgreSQL did not send the value. Never turned into null. */
export const UnchangedToast: unique symbol = Symbol.for("@pgcdc/protocol/UnchangedToast")
export type UnchangedToast = typeof UnchangedToast
/** 'n' → null, 'u' → UnchangedToast, 't' → string (strict UTF-8 decode of the text form), 'b' → Uint8Array (a COPY, never a view) */
export type TupleValue = string | Uint8Array | null | UnchangedToast
export type TupleData = ReadonlyArray<TupleValue>

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const fromCharCode = String.fromCharCode

/**
 * The ASCII bytes `buf[i, to)` as a string, in as few `fromCharCode` calls as the length allows: eight characters per
 * call, then one call of exactly the arity left. Each call and each `+=` allocates a string, so a 15-character
 * value costs three strings here where one call per leftover character cost nine (measured on Node 24: a name of
 * 10 to 15 characters about 2 to 3 times faster, `customer 123456` in the snapshot benchmark).
 */
const asciiString = (b: Uint8Array, i: number, to: number): string => {
  let s = ""
  for (; to - i > 8; i += 8)
    s += fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!, b[i + 4]!, b[i + 5]!, b[i + 6]!, b[i + 7]!)
  switch (to - i) {
    case 8:
      return s + fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!, b[i + 4]!, b[i + 5]!, b[i + 6]!, b[i + 7]!)
    case 7:
      return s + fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!, b[i + 4]!, b[i + 5]!, b[i + 6]!)
    case 6:
      return s + fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!, b[i + 4]!, b[i + 5]!)
    case 5:
      return s + fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!, b[i + 4]!)
    case 4:
      return s + fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!, b[i + 3]!)
    case 3:
      return s + fromCharCode(b[i]!, b[i + 1]!, b[i + 2]!)
    case 2:
      return s + fromCharCode(b[i]!, b[i + 1]!)
    case 1:
      return s + fromCharCode(b[i]!)
    default:
      return s
  }
}

/**
 * The `n`-byte text form of a column value at the reader's position, strictly UTF-8 decoded (field "columnValue").
 *
 * Text column values are decoded here rather than through `Reader.string`: TextDecoder costs a constant ~100 ns per
 * call, while an ASCII string of up to 32 bytes built by `asciiString` costs less (measured on Node 24 with
 * timestamps and short names: about 20% of the whole protocol decode).
 */
export const readTextValue = (r: Reader, n: number): string => {
  r.need(n, "columnValue")
  const buf = r.buf
  const from = r.pos
  const to = from + n
  r.pos = to
  if (n <= 32) {
    let i = from
    while (i < to && buf[i]! <= 0x7f) i++
    if (i === to) return asciiString(buf, from, to)
  }
  try {
    // A plain Uint8Array view: `Buffer#subarray` goes through Buffer's species constructor and costs more.
    return utf8.decode(new Uint8Array(buf.buffer, buf.byteOffset + from, n))
  } catch {
    r.pos = from
    return r.fail("InvalidUtf8", "columnValue")
  }
}

const NULL = 0x6e
const TOAST = 0x75
const TEXT = 0x74
const BINARY = 0x62

/** Reads one TupleData (Int16 column count, then each column) at the reader's position. */
export const readTupleData = (r: Reader): TupleData => {
  const n = r.i16("columnCount")
  // Every column takes at least its kind byte: a count beyond the bytes left is corrupt, not a reason to allocate.
  if (n < 0 || n > r.end - r.pos) r.fail("LengthOutOfRange", "columnCount", `${n} columns in ${r.end - r.pos} bytes`)
  const out = new Array<TupleValue>(n)
  for (let i = 0; i < n; i++) {
    const kind = r.u8("columnKind")
    switch (kind) {
      case TEXT:
        out[i] = readTextValue(r, r.length("columnLength"))
        break
      case NULL:
        out[i] = null
        break
      case TOAST:
        out[i] = UnchangedToast
        break
      case BINARY:
        out[i] = r.bytes(r.length("columnLength"), "columnValue")
        break
      default:
        r.pos--
        r.fail("UnknownType", "columnKind", `column ${i}: 0x${kind.toString(16)} is not 'n', 'u', 't' or 'b'`)
    }
  }
  return out
}

const loneSurrogate = /\p{Cs}/u

/**
 * Writes one TupleData. Throws `ProtocolError` for a text value that is not well-formed Unicode (it has no UTF-8
 * form; TextEncoder would silently replace it).
 */
export const writeTupleData = (w: Writer, tuple: TupleData, messageName: string): void => {
  w.i16(tuple.length)
  for (const value of tuple) {
    if (value === null) w.u8(NULL)
    else if (value === UnchangedToast) w.u8(TOAST)
    else if (typeof value === "string") {
      if (loneSurrogate.test(value)) {
        throw new ProtocolError({
          reason: "InvalidValue",
          messageName,
          field: "columnValue",
          detail: "a text value with a lone surrogate has no UTF-8 form"
        })
      }
      w.u8(TEXT)
      const at = w.pos
      w.i32(0).string(value)
      w.view.setInt32(at, w.pos - at - 4)
    } else w.u8(BINARY).i32(value.length).bytes(value)
  }
}
