/**
 * The column reader of array types and of the types that decode to their text (text, varchar, name, enums...): the
 * common array text straight from the bytes, without the intermediate string, the per-character element strings and
 * the closures of `parseArrayText`, each element read by its own type's column reader.
 *
 * Handled here: a one-dimensional array without bounds decoration (`{a,"b c",NULL}`, what `array_out` prints for
 * almost every array), whose unquoted elements are printable ASCII without spaces, braces, quotes or backslashes, and
 * whose quoted elements hold no backslash. Anything else (more dimensions, explicit bounds, escapes, spaces, other
 * bytes in an unquoted element, malformed text, an element its reader rejects) goes to `decodeText` on the whole text,
 * which has the last word on values and errors: so this returns exactly what `decodeText` returns for the same bytes
 * (property tests compare them). The element type is looked up on each value, as `decodeText` does, because a
 * relation cache may learn a user array type after the reader was made.
 *
 * It deliberately builds no other array shape and parses no element text itself.
 */
import { type Reader, readTextValue } from "@pgcdc/protocol"
import { decodeText } from "../../values/decodeText.ts"
import type { PgValue } from "../../values/PgValue.ts"
import type { TypeResolver } from "../../values/TypeResolver.ts"
import { delimiterOf } from "./arrayDelimiter.ts"

/** Decodes the `n`-byte text form at `r.pos` and advances past it (ColumnReaders.ts). */
type ColumnReader = (r: Reader, n: number) => PgValue

const LBRACE = 0x7b
const RBRACE = 0x7d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Whether the 4 bytes at `i` spell NULL in any case (what `parseArrayText` takes for SQL NULL, unquoted). */
const isNull = (b: Uint8Array, i: number): boolean =>
  (b[i]! | 0x20) === 0x6e && (b[i + 1]! | 0x20) === 0x75 && (b[i + 2]! | 0x20) === 0x6c && (b[i + 3]! | 0x20) === 0x6c

/**
 * The reader for a column of type `typeOid`, which `decodeText` handles in its default case (arrays through `types`,
 * any other type as its text). `elementReader` gives the column reader of an element type.
 */
/** The first OID PostgreSQL gives to objects created after initdb: no built-in type has one as large. */
const firstNormalObjectId = 16384

export const textOrArrayReader = (
  typeOid: number,
  types: TypeResolver,
  elementReader: (elementOid: number) => ColumnReader
): ColumnReader => {
  let element: number | undefined
  let read: ColumnReader | undefined
  let delimiter = 0
  const general = (r: Reader, from: number, n: number): PgValue => {
    r.pos = from
    return decodeText(typeOid, readTextValue(r, n), types)
  }
  /** Reads the elements of `{...}` in `buf[from, to)` into `elements`; false when this shape is not handled. */
  const split = (r: Reader, from: number, to: number, elements: Array<PgValue | null>): boolean => {
    const buf = r.buf
    const end = to - 1
    let i = from + 1
    for (;;) {
      let next: number
      if (buf[i] === QUOTE) {
        let j = i + 1
        while (j < end && buf[j] !== QUOTE) {
          if (buf[j] === BACKSLASH) return false
          j++
        }
        if (j >= end) return false
        r.pos = i + 1
        elements.push(read!(r, j - i - 1))
        next = j + 1
      } else {
        let j = i
        for (; j < end; j++) {
          const c = buf[j]!
          if (c === delimiter) break
          if (c <= 0x20 || c >= 0x7f || c === QUOTE || c === BACKSLASH || c === LBRACE || c === RBRACE) return false
        }
        if (j === i) return false
        if (j - i === 4 && isNull(buf, i)) elements.push(null)
        else {
          r.pos = i
          elements.push(read!(r, j - i))
        }
        next = j
      }
      if (next === end) return true
      if (buf[next] !== delimiter) return false
      i = next + 1
    }
  }

  return (r, n) => {
    const el = types.elementOf(typeOid)
    if (el === undefined) {
      // Not an array: its text, unless the catalog knows it (a domain decodes as its base type). User types have OIDs
      // from 16384 (FirstNormalObjectId), so built-in text types never pay for the lookup.
      return typeOid >= firstNormalObjectId && types.userType?.(typeOid) !== undefined
        ? general(r, r.pos, n)
        : readTextValue(r, n)
    }
    r.need(n, "columnValue")
    if (el !== element) {
      element = el
      read = elementReader(el)
      delimiter = delimiterOf(el).charCodeAt(0)
    }
    const buf = r.buf
    const from = r.pos
    const to = from + n
    if (n < 2 || buf[from] !== LBRACE || buf[to - 1] !== RBRACE) return general(r, from, n)
    if (n === 2) {
      r.pos = to
      return { _tag: "PgArray", dimensions: [], elements: [] }
    }
    const elements: Array<PgValue | null> = []
    let handled: boolean
    try {
      handled = split(r, from, to, elements)
    } catch {
      // An element its reader rejects: decodeText reports it (or decodes what the reader gave up on).
      handled = false
    }
    if (!handled) return general(r, from, n)
    r.pos = to
    return { _tag: "PgArray", dimensions: [{ length: elements.length, lowerBound: 1 }], elements }
  }
}
