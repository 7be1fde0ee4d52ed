// COPY text rows, property-based: any row of any text (tabs, newlines, backslashes, the literal text \N, unicode,
// astral characters; no NUL, which PostgreSQL text cannot hold) and NULLs, written as PostgreSQL's COPY TO writes it,
// or with any other escape COPY FROM accepts for the same characters, decodes to the same fields.
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CopyTextCursor, unsafeDecodeCopyTextRow } from "../src/copy/CopyTextRow.ts"

type Field = string | null

const utf8 = new TextEncoder()

/**
 * What PostgreSQL's CopyAttributeOutText writes (src/backend/commands/copyto.c): the six control characters and the
 * backslash as letter escapes, the delimiter (tab) as `\t`, everything else raw. NULL is `\N`.
 */
const pgEscape = (value: string): string => {
  let out = ""
  for (const ch of value) {
    switch (ch) {
      case "\b":
        out += "\\b"
        break
      case "\f":
        out += "\\f"
        break
      case "\n":
        out += "\\n"
        break
      case "\r":
        out += "\\r"
        break
      case "\t":
        out += "\\t"
        break
      case "\v":
        out += "\\v"
        break
      case "\\":
        out += "\\\\"
        break
      default:
        out += ch
    }
  }
  return out
}

const encodeRow = (fields: ReadonlyArray<Field>, spell: (value: string, seed: number) => string, seed = 0) =>
  utf8.encode(`${fields.map((f, i) => (f === null ? "\\N" : spell(f, seed + i))).join("\t")}\n`)

const hex = (b: number) => b.toString(16).padStart(2, "0")
const octal = (b: number) => b.toString(8).padStart(3, "0")
const isOctalDigit = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "7"
const isHexDigit = (ch: string | undefined) => ch !== undefined && /^[0-9a-fA-F]$/.test(ch)

/**
 * The other spellings COPY FROM reads: each character as PostgreSQL writes it, as octal or hex escapes of its UTF-8
 * bytes (short forms where the next character cannot be taken for another digit), or as `\` and itself (for
 * characters that are not escape letters or digits). Which spelling is picked follows `seed`, deterministically.
 */
const altEscape = (value: string, seed: number): string => {
  const chars = Array.from(value)
  let out = ""
  let s = seed * 7919 + 17
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!
    const next = chars[i + 1]
    s = (s * 1103515245 + 12345) & 0x7fffffff
    const bytes = utf8.encode(ch)
    switch (s % 5) {
      case 0:
        out += pgEscape(ch)
        break
      case 1:
        for (let k = 0; k < bytes.length; k++) {
          const last = k === bytes.length - 1
          out += `\\${last && !isOctalDigit(next) ? bytes[k]!.toString(8) : octal(bytes[k]!)}`
        }
        break
      case 2:
        for (let k = 0; k < bytes.length; k++) {
          const last = k === bytes.length - 1
          out += `\\x${last && !isHexDigit(next) ? bytes[k]!.toString(16) : hex(bytes[k]!)}`
        }
        break
      case 3:
        // `\N` alone is NULL and `\x`, `\0`..`\7` and the letters start other escapes: those keep their own form.
        out += /^[bfnrtvxN0-7]$/.test(ch) || (ch === "N" && value === "N") ? pgEscape(ch) : `\\${ch}`
        break
      default:
        out += pgEscape(ch)
    }
  }
  return out
}

/** Text biased towards what COPY escapes, with the full range of code points (astral included, NUL excluded). */
const text = fc
  .array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom("\t", "\n", "\r", "\\", "\\N", "N", "\b", "\f", "\v", "x", "7", ".") },
      { weight: 1, arbitrary: fc.constantFrom("é", "😀", "\u{10FFFF}", "\u00a0", "\u0001", "\u007f", "\u2028") },
      { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 6 }) }
    ),
    { maxLength: 8 }
  )
  .map((parts) => parts.join("").replaceAll("\0", ""))

const field: fc.Arbitrary<Field> = fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: text })
const row = fc.array(field, { maxLength: 8 })

describe("COPY text rows (property)", () => {
  it("decode(PostgreSQL's encoding of a row) gives the row back", () => {
    fc.assert(
      fc.property(row, (fields) => {
        expect(unsafeDecodeCopyTextRow(encodeRow(fields, pgEscape), fields.length)).toEqual(fields)
      }),
      { numRuns: 3000 }
    )
  })

  it("decode(any other spelling COPY FROM accepts) gives the row back", () => {
    fc.assert(
      fc.property(row, fc.nat(), (fields, seed) => {
        expect(unsafeDecodeCopyTextRow(encodeRow(fields, altEscape, seed), fields.length)).toEqual(fields)
      }),
      { numRuns: 3000 }
    )
  })

  it("the cursor's reader sees each field's UTF-8 bytes, inside a larger Buffer", () => {
    const cursor = new CopyTextCursor()
    fc.assert(
      fc.property(row, fc.nat({ max: 9 }), (fields, pad) => {
        const encoded = encodeRow(fields, pgEscape)
        const whole = Buffer.alloc(encoded.length + 2 * pad, 0x09)
        whole.set(encoded, pad)
        cursor.reset(whole, fields.length, pad, pad + encoded.length)
        for (const f of fields) {
          cursor.next()
          expect(cursor.isNull).toBe(f === null)
          if (f !== null) {
            const r = cursor.reader
            expect(r.end - r.pos).toBe(cursor.length)
            expect(Buffer.from(r.buf.subarray(r.pos, r.end))).toEqual(Buffer.from(utf8.encode(f)))
          }
        }
      }),
      { numRuns: 2000 }
    )
  })

  it("a row with one field too many or too few fails", () => {
    fc.assert(
      fc.property(row, (fields) => {
        const encoded = encodeRow(fields, pgEscape)
        // No fields and one empty field are the same empty line: only the expected count tells them apart.
        if (fields.length > 0) {
          expect(() => unsafeDecodeCopyTextRow(encoded, fields.length + 1)).toThrowError(/Truncated in CopyData/)
        }
        if (fields.length > 0 && !(fields.length === 1 && fields[0] === "")) {
          expect(() => unsafeDecodeCopyTextRow(encoded, fields.length - 1)).toThrowError(/TrailingBytes in CopyData/)
        }
      }),
      { numRuns: 1000 }
    )
  })
})
