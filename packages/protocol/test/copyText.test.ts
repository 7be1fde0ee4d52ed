// COPY text rows: every escape PostgreSQL's COPY FROM reads, NULL against the literal text \N, and each way a row can
// be malformed failing as a ProtocolError that says what was wrong and where.
import * as Result from "effect/Result"
import { describe, expect, it } from "vitest"
import { CopyTextCursor, decodeCopyTextRow, unsafeDecodeCopyTextRow } from "../src/copy/CopyTextRow.ts"
import { ProtocolError } from "../src/ProtocolError.ts"

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (row: string, fieldCount: number) => unsafeDecodeCopyTextRow(bytes(row), fieldCount)

const failure = (row: Uint8Array | string, fieldCount: number): ProtocolError => {
  const r = decodeCopyTextRow(typeof row === "string" ? bytes(row) : row, fieldCount)
  if (Result.isSuccess(r)) throw new Error(`decoded ${JSON.stringify(r.success)}`)
  expect(r.failure).toBeInstanceOf(ProtocolError)
  return r.failure
}

describe("decodeCopyTextRow", () => {
  it("splits on tabs and reads \\N as NULL only when it is the whole field", () => {
    expect(decode("1\tabc\t\\N\n", 3)).toEqual(["1", "abc", null])
    expect(decode("\\N\t\\N\n", 2)).toEqual([null, null])
    expect(decode("\\Nx\tx\\N\t\\\\N\n", 3)).toEqual(["Nx", "xN", "\\N"])
    expect(decode("\t\n", 2)).toEqual(["", ""])
    expect(decode("\n", 1)).toEqual([""])
    expect(decode("\n", 0)).toEqual([])
  })

  it("reads every escape as COPY FROM does", () => {
    expect(decode("\\b\\f\\n\\r\\t\\v\\\\\n", 1)).toEqual(["\b\f\n\r\t\v\\"])
    // Octal: 1 to 3 digits, the value taken modulo 256; a fourth digit is text.
    expect(decode("\\101\\1012\\7\\53x\n", 1)).toEqual(["AA2\x07+x"])
    // Hex: 1 or 2 digits; \x without a hex digit is just x.
    expect(decode("\\x41\\x4\\x4aB\\xg\\x\n", 1)).toEqual(["A\x04JBxgx"])
    // Escaped bytes that form UTF-8 together, and with raw bytes around them.
    expect(decode("caf\\xc3\\xa9 \\303\\251\n", 1)).toEqual(["café é"])
    // Any other escaped character stands for itself, an escaped tab and an escaped raw newline included.
    expect(decode("\\.\\a\\N\\é\\\t\\\nz\t2\n", 2)).toEqual([".aNé\t\nz", "2"])
  })

  it("decodes unicode, astral characters and control characters PostgreSQL prints raw", () => {
    expect(decode("Grüße 😀\t\x01\x1f\x7f\t\u00a0\n", 3)).toEqual(["Grüße 😀", "\x01\x1f\x7f", "\u00a0"])
  })

  it("reads a row inside a larger buffer, in place", () => {
    const inner = bytes("7\t\\N\thé\\tllo\n")
    const whole = Buffer.concat([Buffer.from("junk\t"), inner, Buffer.from("\tmore\n")])
    expect(unsafeDecodeCopyTextRow(whole, 3, 5, 5 + inner.length)).toEqual(["7", null, "hé\tllo"])
  })

  it("fails without the final newline", () => {
    const e = failure("a\tb", 2)
    expect(e.reason).toBe("Truncated")
    expect(e.message).toContain("CopyData.newline")
    expect(failure("", 0).reason).toBe("Truncated")
  })

  it("fails when the row has fewer or more fields than expected", () => {
    const fewer = failure("a\tb\n", 3)
    expect(fewer.reason).toBe("Truncated")
    expect(fewer.field).toBe("columnCount")
    expect(fewer.message).toContain("the row has 2 field(s), 3 expected")
    const more = failure("a\tb\tc\n", 2)
    expect(more.reason).toBe("TrailingBytes")
    expect(more.message).toContain("more than 2 field(s)")
    expect(more.offset).toBe(3)
    expect(failure("\\N\tx\n", 1).reason).toBe("TrailingBytes")
    expect(failure("a\\tb\tc\n", 1).reason).toBe("TrailingBytes")
    expect(failure("a\n", 0).reason).toBe("TrailingBytes")
  })

  it("fails on a raw newline, carriage return or NUL, and on an escape that stands for NUL", () => {
    for (const row of ["a\nb\n", "a\rb\n", "a\x00b\n", "\\ta\nb\n", "\\ta\rb\n", "\\ta\x00b\n"]) {
      const e = failure(row, 1)
      expect(e.reason, JSON.stringify(row)).toBe("InvalidValue")
      expect(e.message).toMatch(/column 1 of 1: a raw (newline|carriage return|NUL byte)/)
    }
    for (const row of ["x\\0\n", "x\\000\n", "x\\x00\n", "x\\400\n"]) {
      const e = failure(row, 1)
      expect(e.reason, JSON.stringify(row)).toBe("InvalidValue")
      expect(e.message).toContain("an escape stands for a NUL byte")
      expect(e.offset).toBe(1)
    }
  })

  it("fails when a backslash escapes the row's newline", () => {
    const e = failure("a\tb\\\n", 2)
    expect(e.reason).toBe("InvalidValue")
    expect(e.message).toContain("column 2 of 2: a backslash escapes the row's newline")
  })

  it("fails on invalid UTF-8, raw or produced by escapes, naming the column", () => {
    const raw = failure(Uint8Array.from([0x61, 0x09, 0x62, 0xff, 0x0a]), 2)
    expect(raw.reason).toBe("InvalidUtf8")
    expect(raw.offset).toBe(2)
    const escaped = failure("ok\tx\\xff\n", 2)
    expect(escaped.reason).toBe("InvalidUtf8")
    expect(escaped.offset).toBe(3)
    expect(escaped.message).toContain("column 2 of 2: after unescaping")
    expect(failure("\\xc3\n", 1).reason).toBe("InvalidUtf8")
    expect(failure("\\355\\240\\200\n", 1).reason).toBe("InvalidUtf8")
  })
})

describe("CopyTextCursor", () => {
  it("positions a Reader at each field's unescaped bytes, in place when the field has no escape", () => {
    const payload = bytes("12\t\\N\ta\\tb\t\n")
    const row = new CopyTextCursor().reset(payload, 4)
    const seen: Array<unknown> = []
    for (let i = 0; i < 4; i++) {
      row.next()
      seen.push(
        row.isNull
          ? null
          : {
              inPlace: row.reader.buf === payload,
              bytes: Array.from(row.reader.buf.subarray(row.reader.pos, row.reader.pos + row.length)),
              end: row.reader.end - row.reader.pos
            }
      )
    }
    expect(seen).toEqual([
      { inPlace: true, bytes: [0x31, 0x32], end: 2 },
      null,
      { inPlace: false, bytes: [0x61, 0x09, 0x62], end: 3 },
      { inPlace: true, bytes: [], end: 0 }
    ])
    // text() reads the field again even after a column reader consumed it.
    const again = new CopyTextCursor().reset(bytes("x\\ty\n"), 1)
    again.next()
    again.reader.pos = again.reader.end
    expect(again.text()).toBe("x\ty")
    expect(again.text()).toBe("x\ty")
    expect(() => row.next()).toThrowError(/after the last of 4 field/)
  })

  it("reports too few fields at the first missing one, after the fields that are there", () => {
    const row = new CopyTextCursor().reset(bytes("a\n"), 2)
    row.next()
    expect(row.text()).toBe("a")
    expect(row.text()).toBe("a")
    expect(() => row.next()).toThrowError(/Truncated in CopyData.columnCount/)
  })

  it("rejects a field count that is not a count", () => {
    expect(() => new CopyTextCursor().reset(bytes("\n"), -1)).toThrowError(/not a field count/)
  })
})
