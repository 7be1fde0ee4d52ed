/**
 * The bounds-checked cursor that every decoder reads through.
 *
 * One `Reader` walks one message: each read checks that its bytes lie before `end`, names the field it reads, and
 * throws a `ProtocolError` naming the message and field when they do not. `done()` rejects trailing bytes.
 * Strings are decoded as strict UTF-8. `bytes` copies (the connection reuses its buffers, docs/design.md, invariant 8);
 * `view` does not and is for callers that consume the bytes before the next read from the socket.
 *
 * It deliberately does not know any message layout, and it never grows or owns a buffer.
 */
import { ProtocolError, type ProtocolErrorReason } from "./ProtocolError.ts"

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const copy = Uint8Array.prototype.slice

export class Reader {
  buf: Uint8Array
  pos: number
  end: number
  /** Offset of the message start in `buf`, so errors report offsets relative to the message. */
  start: number
  messageName: string
  /** Created on first use: most messages need no DataView, and making one per message costs more than the reads. */
  private dataView: DataView | undefined
  private lastU64Hi = -1
  private lastU64Lo = -1
  private lastU64 = 0n

  constructor(buf: Uint8Array, messageName: string, start = 0, end = buf.length) {
    this.buf = buf
    this.dataView = undefined
    this.pos = start
    this.start = start
    this.end = end
    this.messageName = messageName
  }

  /** A DataView over the whole buffer. */
  get view(): DataView {
    if (this.dataView === undefined) {
      this.dataView = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength)
    }
    return this.dataView
  }

  /** Points this reader at another message without allocating a new one (the hot path reuses one reader). */
  reset(buf: Uint8Array, messageName: string, start = 0, end = buf.length): this {
    if (buf !== this.buf) {
      this.buf = buf
      this.dataView = undefined
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

  // Big-endian integers are assembled from the bytes: cheaper than a DataView call, and no DataView is needed.

  i16(field: string): number {
    this.need(2, field)
    const b = this.buf
    const p = this.pos
    this.pos = p + 2
    return (((b[p]! << 8) | b[p + 1]!) << 16) >> 16
  }

  u16(field: string): number {
    this.need(2, field)
    const b = this.buf
    const p = this.pos
    this.pos = p + 2
    return (b[p]! << 8) | b[p + 1]!
  }

  i32(field: string): number {
    this.need(4, field)
    const b = this.buf
    const p = this.pos
    this.pos = p + 4
    return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!
  }

  u32(field: string): number {
    this.need(4, field)
    const b = this.buf
    const p = this.pos
    this.pos = p + 4
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0
  }

  /**
   * 64-bit integers: when the high word is small (every LSN and timestamp in practice) the value is exact as a
   * double and one BigInt conversion suffices; otherwise it is assembled from both words.
   */
  i64(field: string): bigint {
    this.need(8, field)
    const b = this.buf
    const p = this.pos
    this.pos = p + 8
    const hi = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!
    const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0
    if (hi >= -0x200000 && hi < 0x200000) return BigInt(hi * 4294967296 + lo)
    return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo))
  }

  u64(field: string): bigint {
    this.need(8, field)
    const b = this.buf
    const p = this.pos
    this.pos = p + 8
    const hi = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0
    const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0
    // LSNs repeat (an XLogData's walStart and walEnd, the server's walEnd across a burst): reuse the last value.
    if (hi === this.lastU64Hi && lo === this.lastU64Lo) return this.lastU64
    const v = hi < 0x200000 ? BigInt(hi * 4294967296 + lo) : (BigInt(hi) << 32n) | BigInt(lo)
    this.lastU64Hi = hi
    this.lastU64Lo = lo
    this.lastU64 = v
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

  /**
   * A view of the next `n` bytes, valid only until the input buffer is reused. Always a plain `Uint8Array`:
   * `Buffer#subarray` (what sockets deliver) builds a Buffer through its species constructor, which costs more.
   */
  subarray(n: number, field: string): Uint8Array {
    this.need(n, field)
    const b = this.buf
    const out = new Uint8Array(b.buffer, b.byteOffset + this.pos, n)
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
    return utf8.decode(new Uint8Array(buf.buffer, buf.byteOffset + from, to - from))
  } catch {
    return r.fail("InvalidUtf8", field)
  }
}
