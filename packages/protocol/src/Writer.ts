/**
 * The growable byte writer that every encoder writes through.
 *
 * Big-endian integers, NUL-terminated UTF-8 strings, raw bytes, and framing: `begin(type)` reserves the type byte and
 * the int32 length, `finish()` patches the length once the body is written. One writer can hold many messages
 * (a fake server batches a whole transaction into one chunk). `toBytes()` returns a copy; `view()` does not.
 *
 * It deliberately knows no message layout.
 */
const utf8 = new TextEncoder()

export class Writer {
  buf: Uint8Array
  view: DataView
  pos = 0
  private frames: Array<number> = []

  constructor(initialSize = 256) {
    this.buf = new Uint8Array(initialSize)
    this.view = new DataView(this.buf.buffer)
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.pos + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
    this.view = new DataView(next.buffer)
  }

  u8(v: number): this {
    this.ensure(1)
    this.buf[this.pos++] = v
    return this
  }

  i16(v: number): this {
    this.ensure(2)
    this.view.setInt16(this.pos, v)
    this.pos += 2
    return this
  }

  u16(v: number): this {
    this.ensure(2)
    this.view.setUint16(this.pos, v)
    this.pos += 2
    return this
  }

  i32(v: number): this {
    this.ensure(4)
    this.view.setInt32(this.pos, v)
    this.pos += 4
    return this
  }

  u32(v: number): this {
    this.ensure(4)
    this.view.setUint32(this.pos, v)
    this.pos += 4
    return this
  }

  i64(v: bigint): this {
    this.ensure(8)
    this.view.setBigInt64(this.pos, v)
    this.pos += 8
    return this
  }

  u64(v: bigint): this {
    this.ensure(8)
    this.view.setBigUint64(this.pos, v)
    this.pos += 8
    return this
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
    return this
  }

  /** UTF-8 bytes without a terminator. */
  string(s: string): this {
    this.ensure(s.length * 3)
    this.pos += utf8.encodeInto(s, this.buf.subarray(this.pos)).written
    return this
  }

  /** UTF-8 bytes followed by NUL. */
  cstring(s: string): this {
    return this.string(s).u8(0)
  }

  /** Byte length `s` will occupy as UTF-8 (used where a length prefix precedes the string). */
  static byteLength(s: string): number {
    return utf8.encode(s).length
  }

  /** Starts a framed message: the type byte (omit it for untyped startup messages) and a length placeholder. */
  begin(type?: number): this {
    if (type !== undefined) this.u8(type)
    this.frames.push(this.pos)
    return this.i32(0)
  }

  /** Ends the innermost framed message, writing its length (which counts itself but not the type byte). */
  finish(): this {
    const at = this.frames.pop()
    if (at === undefined) throw new Error("Writer.finish without begin")
    this.view.setInt32(at, this.pos - at)
    return this
  }

  /** A copy of everything written. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.pos)
  }

  /** Empties the writer, keeping its buffer. */
  clear(): this {
    this.pos = 0
    this.frames.length = 0
    return this
  }
}
