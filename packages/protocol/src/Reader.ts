/**
 * The bounds-checked cursor that every decoder reads through.
 *
 * One `Reader` walks one message: each read checks that its bytes lie before `end`, names the field it reads, and
 * throws a `ProtocolError` naming the message and field when they do not. `done()` rejects trailing bytes.
 * Strings are decoded as strict UTF-8. `bytes` copies (the connection reuses its buffers, DESIGN.md invariant 8);
 * `view` does not and is for callers that consume the bytes before the next read from the socket.
 *
 * It deliberately does not know any message layout, and it never grows or owns a buffer.
 */
import { ProtocolError, type ProtocolErrorReason } from "./ProtocolError.ts"

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const copy = Uint8Array.prototype.slice

export class Reader {
  buf: Uint8Array
  view: DataView
  pos: number
  end: number
  /** Offset of the message start in `buf`, so errors report offsets relative to the message. */
  start: number
  messageName: string

  constructor(buf: Uint8Array, messageName: string, start = 0, end = buf.length) {
    this.buf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.pos = start
    this.start = start
    this.end = end
    this.messageName = messageName
  }

  /** Points this reader at another message without allocating a new one (the hot path reuses one reader). */
  reset(buf: Uint8Array, messageName: string, start = 0, end = buf.length): this {
    if (buf !== this.buf) {
      this.buf = buf
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    }
    this.pos = start
    this.start = start
    this.end = end
    this.messageName = messageName
    return this
  }

  get remaining(): number {
    return this.end - this.pos
  }

  fail(reason: ProtocolErrorReason, field: string, detail?: string): never {
    throw new ProtocolError({ reason, messageName: this.messageName, field, offset: this.pos - this.start, detail })
  }

  need(n: number, field: string): void {
    if (this.end - this.pos < n) {
      this.fail("Truncated", field, `needs ${n} byte(s), ${this.end - this.pos} left`)
    }
  }

  u8(field: string): number {
    this.need(1, field)
    return this.buf[this.pos++]!
  }

  i16(field: string): number {
    this.need(2, field)
    const v = this.view.getInt16(this.pos)
    this.pos += 2
    return v
  }

  u16(field: string): number {
    this.need(2, field)
    const v = this.view.getUint16(this.pos)
    this.pos += 2
    return v
  }

  i32(field: string): number {
    this.need(4, field)
    const v = this.view.getInt32(this.pos)
    this.pos += 4
    return v
  }

  u32(field: string): number {
    this.need(4, field)
    const v = this.view.getUint32(this.pos)
    this.pos += 4
    return v
  }

  i64(field: string): bigint {
    this.need(8, field)
    const v = this.view.getBigInt64(this.pos)
    this.pos += 8
    return v
  }

  u64(field: string): bigint {
    this.need(8, field)
    const v = this.view.getBigUint64(this.pos)
    this.pos += 8
    return v
  }

  /** A length or count that must be in `[min, max]`, read as int32. */
  length(field: string, min = 0, max = this.end - this.pos): number {
    const n = this.i32(field)
    if (n < min || n > max) this.fail("LengthOutOfRange", field, `${n} is outside [${min}, ${max}]`)
    return n
  }

  /** A copy of the next `n` bytes: safe to keep after the input buffer is reused. */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field)
    // Uint8Array's own slice: on a Node Buffer (what sockets deliver) `Buffer#slice` is a view, not a copy.
    const out = copy.call(this.buf, this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /** A view of the next `n` bytes, valid only until the input buffer is reused. */
  subarray(n: number, field: string): Uint8Array {
    this.need(n, field)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  /** The rest of the message, copied. */
  rest(field: string): Uint8Array {
    return this.bytes(this.end - this.pos, field)
  }

  /** `n` bytes of strict UTF-8. */
  string(n: number, field: string): string {
    this.need(n, field)
    const s = decodeUtf8(this, this.pos, this.pos + n, field)
    this.pos += n
    return s
  }

  /** A NUL-terminated UTF-8 string (the terminator is consumed, not returned). */
  cstring(field: string): string {
    const buf = this.buf
    const end = this.end
    let i = this.pos
    while (i < end && buf[i] !== 0) i++
    if (i >= end) this.fail("Truncated", field, "missing NUL terminator")
    const s = decodeUtf8(this, this.pos, i, field)
    this.pos = i + 1
    return s
  }

  /** Fails with `TrailingBytes` unless the whole message was read. */
  done(): void {
    if (this.pos !== this.end) {
      this.fail("TrailingBytes", "(end)", `${this.end - this.pos} byte(s) left after the last field`)
    }
  }
}

/**
 * Pure-ASCII strings (identifiers, command tags, almost every name PostgreSQL sends) are built without
 * TextDecoder, which costs more than the loop for the short strings that dominate the stream.
 */
const decodeUtf8 = (r: Reader, from: number, to: number, field: string): string => {
  const buf = r.buf
  if (to - from <= 32) {
    let ascii = true
    for (let i = from; i < to; i++) {
      if (buf[i]! > 0x7f) {
        ascii = false
        break
      }
    }
    if (ascii) {
      let s = ""
      for (let i = from; i < to; i++) s += String.fromCharCode(buf[i]!)
      return s
    }
  }
  try {
    return utf8.decode(buf.subarray(from, to))
  } catch {
    return r.fail("InvalidUtf8", field)
  }
}
