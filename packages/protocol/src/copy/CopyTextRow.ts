/**
 * One row of COPY's text format, the payload of one CopyData message of `COPY ... TO STDOUT` (the default format):
 * fields separated by a tab, the row ended by a newline, `\N` for SQL NULL, and backslash escapes in the values
 * (`\b \f \n \r \t \v \\`, `\` and 1 to 3 octal digits, `\x` and 1 or 2 hex digits, any other escaped character
 * standing for itself, as PostgreSQL's `COPY FROM` reads them). A field unescaped is exactly the text the type's
 * output function printed, which is exactly what pgoutput sends for the same value as a 't' column: snapshot rows
 * and replicated rows go through the same value decoders.
 *
 * Two ways in:
 * - `decodeCopyTextRow(payload, fieldCount)` (a `Result`) or `unsafeDecodeCopyTextRow` (throws): the fields as
 *   `string | null`, strict UTF-8.
 * - `CopyTextCursor`, for a reader that decodes straight from the bytes into column values, without the strings in
 *   between (as `WalDecoder.readRow` does with pgoutput TupleData). A snapshot reader keeps one cursor and per
 *   column one `ColumnReader` (`(r: Reader, n: number) => value`, packages/replication/src/values/ColumnReaders.ts):
 *   ```ts
 *   const row = cursor.reset(payload, columns.length, start, end)  // checks the newline
 *   for (let i = 0; i < columns.length; i++) {
 *     row.next()                                                    // checks the field count
 *     values[i] = row.isNull ? null : readers[i](row.reader, row.length)
 *   }
 *   ```
 *   `row.reader` is positioned at the field's unescaped bytes and ends with them. A field without a backslash is read
 *   in place in the payload (the fast path: no copy); an escaped field is unescaped into the cursor's scratch buffer,
 *   which the next `next()` overwrites, so a reader must not keep a view of it (the column readers never do).
 *
 * Strictness: the row must end with its newline, hold exactly `fieldCount` fields, and contain no raw newline,
 * carriage return or NUL (PostgreSQL escapes the first two and text never holds the third); no escape may produce a
 * NUL, and a backslash may not escape the final newline. Text must be valid UTF-8 after unescaping: `text()` (and
 * `readTextValue`, which the column readers fall back to) checks it; `next()` alone does not look at bytes above
 * 0x7f, so a column reader that bypasses `readTextValue` for non-ASCII bytes must check them itself. Errors are
 * `ProtocolError`s of message "CopyData" with offsets from the start of the row.
 *
 * It deliberately knows nothing about column types (the replication package's value decoders do), the CSV and
 * binary formats, other delimiters or NULL strings (`COPY ... TO STDOUT` with default options only), or client
 * encodings other than UTF-8 (pgcdc sessions always use UTF8).
 */
import * as Result from "effect/Result"
import { readTextValue } from "../pgoutput/TupleData.ts"
import { ProtocolError, type ProtocolErrorReason } from "../ProtocolError.ts"
import { Reader } from "../Reader.ts"

const TAB = 0x09
const NL = 0x0a
const CR = 0x0d
const BACKSLASH = 0x5c
const N = 0x4e
const X = 0x78
const MESSAGE = "CopyData"
const EMPTY = new Uint8Array(0)

/** The value of a hex digit byte, or -1. */
const hexValue = (b: number): number =>
  b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1

const isOctal = (b: number): boolean => b >= 0x30 && b <= 0x37

/** The byte a one-letter escape stands for (`\t` is a tab), or the letter itself ("any other character"). */
const unescapeLetter = (c: number): number => {
  switch (c) {
    case 0x62: // b
      return 0x08
    case 0x66: // f
      return 0x0c
    case 0x6e: // n
      return NL
    case 0x72: // r
      return CR
    case 0x74: // t
      return TAB
    case 0x76: // v
      return 0x0b
    default:
      return c
  }
}

const rawByteName = (b: number): string => (b === NL ? "newline" : b === CR ? "carriage return" : "NUL byte")

export class CopyTextCursor {
  /** After `next()`: whether the field is SQL NULL (`\N`). */
  isNull = false
  /** After `next()`: how many unescaped bytes the field has (0 for NULL). */
  length = 0
  /** After `next()`: the field's index, from 0; -1 after `reset`. */
  index = -1
  /**
   * After `next()`: positioned at the field's unescaped bytes, `reader.end` just past them. Offsets in its errors
   * count from the start of the row for a field read in place, from the start of the field for an escaped one.
   */
  readonly reader = new Reader(EMPTY, MESSAGE)

  private buf: Uint8Array = EMPTY
  private rowStart = 0
  /** Offset of the row's final newline: fields lie before it. */
  private limit = 0
  /** Where the next field starts in `buf`. */
  private pos = 0
  /** Where the current field starts in `buf` (escaped or not), for error offsets. */
  private fieldStart = 0
  /** Where the current field's unescaped bytes start in `reader.buf`. */
  private valueStart = 0
  private escaped = false
  private fieldCount = 0
  private scratch = new Uint8Array(256)

  /**
   * Points the cursor at the row in `payload[start, end)` that must hold `fieldCount` fields. Throws `ProtocolError`
   * when the row does not end with a newline (or, for zero fields, holds anything else).
   */
  reset(payload: Uint8Array, fieldCount: number, start = 0, end = payload.length): this {
    this.buf = payload
    this.rowStart = start
    this.index = -1
    this.isNull = false
    this.length = 0
    if (!Number.isInteger(fieldCount) || fieldCount < 0) {
      this.fail("InvalidValue", "columnCount", start, `${fieldCount} is not a field count`)
    }
    this.fieldCount = fieldCount
    if (end <= start || payload[end - 1] !== NL) {
      this.fail("Truncated", "newline", end, "the row does not end with a newline")
    }
    this.limit = end - 1
    this.pos = start
    // A row of no fields is an empty line; one empty field looks the same, so only the expected count tells them apart.
    if (fieldCount === 0 && this.limit !== start) {
      this.fail("TrailingBytes", "columnCount", start, "the row has fields, none expected")
    }
    return this
  }

  /**
   * Moves to the next field and sets `isNull`, `length` and `reader`. Throws `ProtocolError` when the row has fewer
   * fields than expected (at the first missing one) or more (at the last expected one), or holds bytes the format
   * does not allow.
   */
  next(): void {
    const index = this.index + 1
    const fieldCount = this.fieldCount
    const from = this.pos
    const limit = this.limit
    if (index >= fieldCount) {
      this.fail("InvalidValue", "columnCount", from, `next() called after the last of ${fieldCount} field(s)`)
    }
    if (from > limit) {
      this.fail("Truncated", "columnCount", limit, `the row has ${index} field(s), ${fieldCount} expected`)
    }
    this.index = index
    this.fieldStart = from
    const buf = this.buf
    if (
      buf[from] === BACKSLASH &&
      from + 1 < limit &&
      buf[from + 1] === N &&
      (from + 2 === limit || buf[from + 2] === TAB)
    ) {
      this.isNull = true
      this.length = 0
      this.escaped = false
      this.endField(from + 2)
      return
    }
    // The hot loop: one comparison for almost every byte (everything above 0x0d except the backslash is data).
    let i = from
    for (; i < limit; i++) {
      const b = buf[i]!
      if (b <= CR || b === BACKSLASH) {
        if (b === TAB) break
        if (b === BACKSLASH) {
          this.unescape(from, i)
          return
        }
        if (b === NL || b === CR || b === 0) this.fail("InvalidValue", "columnValue", i, `a raw ${rawByteName(b)}`)
      }
    }
    this.isNull = false
    this.escaped = false
    this.length = i - from
    this.reader.reset(buf, MESSAGE, this.rowStart, i)
    this.reader.pos = from
    this.valueStart = from
    this.endField(i)
  }

  /** The current field as text (strict UTF-8), or null for SQL NULL. Reads from the field's start each time. */
  text(): string | null {
    if (this.isNull) return null
    this.reader.pos = this.valueStart
    if (!this.escaped) return readTextValue(this.reader, this.length)
    try {
      return readTextValue(this.reader, this.length)
    } catch {
      // The scratch offset means nothing to the caller: point at the escaped field in the row instead.
      return this.fail("InvalidUtf8", "columnValue", this.fieldStart, "after unescaping")
    }
  }

  /** The slow path: unescapes the field starting at `from` (its first backslash at `at`) into the scratch buffer. */
  private unescape(from: number, at: number): void {
    const buf = this.buf
    const limit = this.limit
    // The field is at most the rest of the row; unescaping never makes it longer.
    if (this.scratch.length < limit - from) this.scratch = new Uint8Array(Math.max(2 * (limit - from), 256))
    const out = this.scratch
    let o = at - from
    out.set(buf.subarray(from, at))
    let i = at
    while (i < limit) {
      let c = buf[i]!
      if (c === TAB) break
      if (c === BACKSLASH) {
        const backslash = i
        if (i + 1 >= limit) this.fail("InvalidValue", "columnValue", i, "a backslash escapes the row's newline")
        c = buf[i + 1]!
        i += 2
        if (isOctal(c)) {
          let v = c - 0x30
          if (i < limit && isOctal(buf[i]!)) {
            v = v * 8 + buf[i++]! - 0x30
            if (i < limit && isOctal(buf[i]!)) v = v * 8 + buf[i++]! - 0x30
          }
          c = v & 0xff
        } else if (c === X && i < limit && hexValue(buf[i]!) >= 0) {
          let v = hexValue(buf[i++]!)
          if (i < limit && hexValue(buf[i]!) >= 0) v = v * 16 + hexValue(buf[i++]!)
          c = v
        } else {
          c = unescapeLetter(c)
        }
        if (c === 0) this.fail("InvalidValue", "columnValue", backslash, "an escape stands for a NUL byte")
      } else {
        if (c === NL || c === CR || c === 0) this.fail("InvalidValue", "columnValue", i, `a raw ${rawByteName(c)}`)
        i++
      }
      out[o++] = c
    }
    this.isNull = false
    this.escaped = true
    this.length = o
    this.reader.reset(out, MESSAGE, 0, o)
    this.valueStart = 0
    this.endField(i)
  }

  /** `at` is the tab or the newline after the field. */
  private endField(at: number): void {
    if (this.index === this.fieldCount - 1 && at !== this.limit) {
      this.fail("TrailingBytes", "columnCount", at, `the row has more than ${this.fieldCount} field(s)`)
    }
    this.pos = at + 1
  }

  private fail(reason: ProtocolErrorReason, field: string, at: number, detail: string): never {
    const where = field === "columnValue" ? `column ${this.index + 1} of ${this.fieldCount}: ` : ""
    throw new ProtocolError({
      reason,
      messageName: MESSAGE,
      field,
      offset: at - this.rowStart,
      detail: `${where}${detail}`
    })
  }
}

// One cursor for the array decoders: they never call back into user code, so they cannot be re-entered.
const shared = new CopyTextCursor()

/**
 * The `fieldCount` fields of the COPY text row in `payload[start, end)`, each the text PostgreSQL printed (strict
 * UTF-8) or null. Throws `ProtocolError`.
 */
export const unsafeDecodeCopyTextRow = (
  payload: Uint8Array,
  fieldCount: number,
  start = 0,
  end = payload.length
): Array<string | null> => {
  const row = shared.reset(payload, fieldCount, start, end)
  const out = new Array<string | null>(fieldCount)
  for (let i = 0; i < fieldCount; i++) {
    row.next()
    out[i] = row.text()
  }
  return out
}

/** `unsafeDecodeCopyTextRow` with the failure as a `Result`. */
export const decodeCopyTextRow = (
  payload: Uint8Array,
  fieldCount: number,
  start = 0,
  end = payload.length
): Result.Result<Array<string | null>, ProtocolError> => {
  try {
    return Result.succeed(unsafeDecodeCopyTextRow(payload, fieldCount, start, end))
  } catch (e) {
    if (e instanceof ProtocolError) return Result.fail(e)
    throw e
  }
}
