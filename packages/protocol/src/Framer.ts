/**
 * The incremental message splitter: socket chunks in, whole protocol messages out, in either direction.
 *
 * A PostgreSQL message is a type byte, an int32 length (counting itself and the body, not the type byte) and the
 * body. The server side first sees untyped startup-phase packets (StartupMessage, SSLRequest, CancelRequest,
 * GSSENCRequest: an int32 length and then the body, no type byte), so a server-side framer starts in `"startup"`
 * mode and its owner calls `setTyped()` once the StartupMessage has arrived; a client-side framer starts typed.
 *
 * Usage (one framer per connection and direction):
 * ```ts
 * const framer = new Framer({ maxMessageSize: 64 * 1024 * 1024 })
 * framer.push(chunk)                 // any split: half a header, many messages, a slice of a large one
 * while (framer.next()) {            // true once per complete message; throws ProtocolError on a bad length
 *   handle(framer.type, framer.buf, framer.bodyStart, framer.end)  // or decode framer.buf[framer.start, end)
 * }
 * ```
 * After `next()` returns true, `type` is the type byte (0 for untyped startup packets), `buf[start, end)` is the
 * whole frame (type byte, length and body: the input of `decodeBackend`/`decodeFrontend`/`decodeStartup`) and
 * `buf[bodyStart, end)` is the body alone (the input of the `...Body` decoders). The fields stay valid until the next
 * call to `next()` or `push()`; the bytes they point at stay valid for as long as the caller keeps its chunks intact:
 *
 * - A message that lies wholly inside the pushed chunk is handed out as a view of that chunk: no copy. The framer
 *   never writes into a chunk it was given, so those views are only invalidated if the caller reuses its own chunk.
 * - A message that spans chunks is assembled into a fresh buffer of exactly its size, allocated once its length is
 *   known and never reused afterwards, so views of it can be kept.
 *
 * Limits: the length field is checked as soon as it is read, before any body byte is buffered. A length below the
 * minimum (4, or 8 for a startup packet, which needs its request code) fails with `LengthOutOfRange`, a length above
 * `maxMessageSize` (or `maxStartupMessageSize` in startup mode) with `Oversize`. The framer then stays failed and
 * rethrows the same error, so a caller that ignores it cannot loop on garbage. Memory held by the framer itself is at
 * most one message of the allowed size plus a 5-byte header.
 *
 * TLS: after an SSLRequest or GSSENCRequest a server must see `unread === 0 && buffered === 0` before it starts the
 * handshake; bytes sent ahead of the handshake would otherwise be read as if they had been encrypted (the
 * CVE-2021-23214 class of injection). The framer keeps those bytes; rejecting them is the caller's decision.
 *
 * Hot path: `next()` allocates nothing for a message inside the chunk (no result object, no closure); the caller
 * reads plain fields. Call `next()` until it returns false before the next `push()`; if it did not, the unread rest
 * is copied in front of the new chunk (correct, just slower).
 *
 * It deliberately does not decode bodies or check type bytes (the decoders report unknown types) and does no I/O.
 */
import { ProtocolError, type ProtocolErrorReason } from "./ProtocolError.ts"

export type FramerMode = "typed" | "startup"

export interface FramerOptions {
  /** Largest accepted value of a typed message's length field (length + body). Default 1 GiB, like PostgreSQL. */
  readonly maxMessageSize?: number | undefined
  /** Largest accepted startup packet; default 10000, PostgreSQL's own limit for the startup packet. */
  readonly maxStartupMessageSize?: number | undefined
  /** `"typed"` (default) for message streams, `"startup"` for the first packets a server reads. */
  readonly mode?: FramerMode | undefined
}

export const defaultMaxMessageSize = 0x4000_0000
export const defaultMaxStartupMessageSize = 10_000

const EMPTY = new Uint8Array(0)

export class Framer {
  /** Type byte of the current message; 0 for an untyped startup packet. */
  type = 0
  /** Buffer holding the current message. */
  buf: Uint8Array = EMPTY
  /** Offset of the current frame's first byte (the type byte, or the length of a startup packet). */
  start = 0
  /** Offset of the current message's body (after the length). */
  bodyStart = 0
  /** Offset just past the current message. */
  end = 0

  readonly maxMessageSize: number
  readonly maxStartupMessageSize: number
  private headerSize: 4 | 5
  // The chunk being split and how far it has been consumed.
  private cur: Uint8Array = EMPTY
  private curPos = 0
  // A header split across chunks; never handed out, so it can be reused.
  private readonly hdr = new Uint8Array(5)
  private hdrLen = 0
  // A message split across chunks, assembled in its own fresh buffer.
  private asm: Uint8Array | undefined = undefined
  private asmFilled = 0
  private failure: ProtocolError | undefined = undefined

  constructor(options?: FramerOptions) {
    this.maxMessageSize = options?.maxMessageSize ?? defaultMaxMessageSize
    this.maxStartupMessageSize = options?.maxStartupMessageSize ?? defaultMaxStartupMessageSize
    this.headerSize = options?.mode === "startup" ? 4 : 5
  }

  get mode(): FramerMode {
    return this.headerSize === 5 ? "typed" : "startup"
  }

  /** Switches a server-side framer to typed messages (after the StartupMessage). Bytes already pushed stay queued. */
  setTyped(): void {
    if (this.headerSize === 5) return
    if (this.hdrLen > 0 || this.asm !== undefined) {
      // A partly read packet would be reinterpreted with another header layout; the caller switched too late.
      this.fail("InvalidValue", "mode", "cannot switch to typed mode in the middle of a startup packet")
    }
    this.headerSize = 5
  }

  /** Bytes the framer holds for an incomplete message (bounded by the size limit plus the header). */
  get buffered(): number {
    return this.hdrLen + (this.asm === undefined ? 0 : this.asmFilled)
  }

  /** Bytes pushed but not yet examined by `next()` (0 after `next()` returned false). */
  get unread(): number {
    return this.cur.length - this.curPos
  }

  /** Adds a chunk. The framer keeps a reference to it and never modifies it. */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure
    const rest = this.cur.length - this.curPos
    if (rest === 0) {
      this.cur = chunk
    } else {
      // The caller did not drain: keep the unread tail in front, in a fresh buffer (views of `cur` stay valid).
      const merged = new Uint8Array(rest + chunk.length)
      merged.set(this.cur.subarray(this.curPos))
      merged.set(chunk, rest)
      this.cur = merged
    }
    this.curPos = 0
  }

  /** Advances to the next complete message; false when more input is needed. Throws `ProtocolError`. */
  next(): boolean {
    if (this.failure !== undefined) throw this.failure
    const cur = this.cur
    if (this.asm !== undefined) return this.fillAssembly()
    const headerSize = this.headerSize
    if (this.hdrLen > 0) {
      const hdr = this.hdr
      while (this.hdrLen < headerSize && this.curPos < cur.length) hdr[this.hdrLen++] = cur[this.curPos++]!
      if (this.hdrLen < headerSize) return false
      const total = this.checkLength(readInt32(hdr, headerSize - 4), hdr[0]!) + headerSize - 4
      const asm = new Uint8Array(total)
      asm.set(hdr.subarray(0, headerSize))
      this.asm = asm
      this.asmFilled = headerSize
      this.hdrLen = 0
      return this.fillAssembly()
    }
    const pos = this.curPos
    const avail = cur.length - pos
    if (avail < headerSize) {
      for (let i = 0; i < avail; i++) this.hdr[i] = cur[pos + i]!
      this.hdrLen = avail
      this.curPos = cur.length
      return false
    }
    const total = this.checkLength(readInt32(cur, pos + headerSize - 4), cur[pos]!) + headerSize - 4
    if (avail >= total) {
      this.curPos = pos + total
      this.emit(cur, pos, pos + total)
      return true
    }
    const asm = new Uint8Array(total)
    asm.set(cur.subarray(pos))
    this.asm = asm
    this.asmFilled = avail
    this.curPos = cur.length
    return false
  }

  private fillAssembly(): boolean {
    const asm = this.asm!
    const cur = this.cur
    const want = asm.length - this.asmFilled
    const avail = cur.length - this.curPos
    if (avail < want) {
      asm.set(cur.subarray(this.curPos), this.asmFilled)
      this.asmFilled += avail
      this.curPos = cur.length
      return false
    }
    asm.set(cur.subarray(this.curPos, this.curPos + want), this.asmFilled)
    this.curPos += want
    this.asm = undefined
    this.asmFilled = 0
    this.emit(asm, 0, asm.length)
    return true
  }

  private emit(buf: Uint8Array, start: number, end: number): void {
    this.buf = buf
    this.start = start
    this.end = end
    if (this.headerSize === 5) {
      this.type = buf[start]!
      this.bodyStart = start + 5
    } else {
      this.type = 0
      this.bodyStart = start + 4
    }
  }

  /** `first` is the frame's first byte: the type byte of a typed message, named in the error. */
  private checkLength(len: number, first: number): number {
    const typed = this.headerSize === 5
    const min = typed ? 4 : 8
    const max = typed ? this.maxMessageSize : this.maxStartupMessageSize
    if (len < min || len > max) {
      const what = typed ? `message type ${JSON.stringify(String.fromCharCode(first))}: ` : ""
      if (len < min) this.fail("LengthOutOfRange", "length", `${what}${len} is below the minimum ${min}`)
      this.fail("Oversize", "length", `${what}${len} bytes exceeds the limit of ${max}`)
    }
    return len
  }

  private fail(reason: ProtocolErrorReason, field: string, detail: string): never {
    this.failure = new ProtocolError({
      reason,
      messageName: this.headerSize === 5 ? "Message" : "StartupPacket",
      field,
      detail
    })
    throw this.failure
  }
}

const readInt32 = (b: Uint8Array, at: number): number =>
  (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!
