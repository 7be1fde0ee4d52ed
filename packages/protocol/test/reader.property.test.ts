// The Reader assembles big-endian integers from bytes (no DataView): every read must equal DataView's.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { Reader } from "../src/Reader.ts"

type Width = "i16" | "u16" | "i32" | "u32" | "i64" | "u64"
const size: Record<Width, number> = { i16: 2, u16: 2, i32: 4, u32: 4, i64: 8, u64: 8 }

const viaDataView = (view: DataView, at: number, w: Width): number | bigint => {
  switch (w) {
    case "i16":
      return view.getInt16(at)
    case "u16":
      return view.getUint16(at)
    case "i32":
      return view.getInt32(at)
    case "u32":
      return view.getUint32(at)
    case "i64":
      return view.getBigInt64(at)
    case "u64":
      return view.getBigUint64(at)
  }
}

/** Bytes biased towards the edges: 0x00, 0xff, 0x7f, 0x80 and the 2^53 boundary of 64-bit values. */
const edgyByte = fc.oneof(
  fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x1f, 0x20, 0xe0, 0xdf),
  fc.integer({ min: 0, max: 255 })
)

describe("Reader integers", () => {
  it("equal DataView's big-endian reads at any offset, in a Buffer or a Uint8Array at a byte offset", () => {
    fc.assert(
      fc.property(
        fc.array(edgyByte, { minLength: 1, maxLength: 64 }),
        fc.array(fc.constantFrom<Width>("i16", "u16", "i32", "u32", "i64", "u64"), { maxLength: 12 }),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        (bytes, widths, pad, asBuffer) => {
          const backing = new Uint8Array(pad + bytes.length)
          backing.set(bytes, pad)
          const input = asBuffer ? Buffer.from(backing.buffer, pad, bytes.length) : backing.subarray(pad)
          const view = new DataView(input.buffer, input.byteOffset, input.byteLength)
          const r = new Reader(input, "Test")
          let at = 0
          for (const w of widths) {
            if (at + size[w] > bytes.length) {
              expect(() => r[w]("field")).toThrowError(/Truncated/)
              return
            }
            expect(r[w]("field")).toStrictEqual(viaDataView(view, at, w))
            at += size[w]
          }
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("64-bit reads are exact across the 2^53 boundary and at the extremes", () => {
    const cases = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), -1n, -(2n ** 53n)]
    for (const v of cases) {
      const buf = new Uint8Array(8)
      new DataView(buf.buffer).setBigInt64(0, v)
      expect(new Reader(buf, "Test").i64("x")).toBe(v)
      expect(new Reader(buf, "Test").u64("x")).toBe(BigInt.asUintN(64, v))
    }
  })

  it("u64 reuses the last value only when the bytes are the same, across messages", () => {
    const words = [5n, 5n, 2n ** 60n, 2n ** 60n, 5n, 0n, 2n ** 64n - 1n, 2n ** 64n - 1n]
    const r = new Reader(new Uint8Array(0), "Test")
    for (const w of words) {
      const buf = new Uint8Array(8)
      new DataView(buf.buffer).setBigUint64(0, w)
      expect(r.reset(buf, "Test").u64("x")).toBe(w)
    }
  })

  it("subarray is a plain Uint8Array view, also of a Buffer", () => {
    const input = Buffer.from([1, 2, 3, 4])
    const r = new Reader(input, "Test")
    r.u8("skip")
    const v = r.subarray(2, "view")
    expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype)
    expect(Array.from(v)).toEqual([2, 3])
    input[1] = 9
    expect(v[0]).toBe(9)
  })
})
