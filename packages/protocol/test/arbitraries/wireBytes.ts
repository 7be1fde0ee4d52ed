/**
 * Hand-built wire bytes for golden and error tests, written straight from the "Message Formats" tables so that a test
 * does not depend on the encoder it checks.
 */
export type Part = number | string | Uint8Array | ReadonlyArray<number>

const enc = new TextEncoder()

/** int32 big-endian. */
export const i32 = (n: number): Array<number> => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
/** int16 big-endian. */
export const i16 = (n: number): Array<number> => [(n >>> 8) & 0xff, n & 0xff]
/** NUL-terminated UTF-8. */
export const cstr = (s: string): Uint8Array => {
  const b = enc.encode(s)
  const out = new Uint8Array(b.length + 1)
  out.set(b)
  return out
}

/** Concatenates parts: a number is one byte, a string is its UTF-8 bytes without terminator. */
export const concat = (...parts: ReadonlyArray<Part>): Uint8Array => {
  const arrays = parts.map((p) =>
    typeof p === "number" ? Uint8Array.of(p) : typeof p === "string" ? enc.encode(p) : Uint8Array.from(p)
  )
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0))
  let at = 0
  for (const a of arrays) {
    out.set(a, at)
    at += a.length
  }
  return out
}

/** A typed frame: type byte, correct int32 length, body. */
export const frame = (type: string, ...body: ReadonlyArray<Part>): Uint8Array => {
  const b = concat(...body)
  return concat(type.charCodeAt(0), i32(b.length + 4), b)
}

/** An untyped startup packet: correct int32 length, body. */
export const packet = (...body: ReadonlyArray<Part>): Uint8Array => {
  const b = concat(...body)
  return concat(i32(b.length + 4), b)
}

/** Splits `bytes` at the given cut points (sorted, deduplicated, clamped). */
export const splitAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(prev, p))
    prev = p
  }
  return out
}
