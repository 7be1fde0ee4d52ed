/**
 * Field schemas shared by the message Schemas of the replication and pgoutput families: unsigned 32-bit integers
 * (xids, OIDs), bytes, and "absent" values.
 *
 * Every schema here has the message's field type on its Type side and a JSON-safe Encoded side: bigints become
 * decimal strings (Timestamp), LSNs `X/Y` strings (Lsn), byte arrays base64 strings, and an absent value (`undefined`
 * in the TypeScript shape) becomes JSON `null`, so that a JSON round trip keeps every key.
 *
 * It deliberately holds no message layout.
 */
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"

export const Uint8 = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xff })))
export const Int16 = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: -0x8000, maximum: 0x7fff })))
export const Int32 = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: -0x8000_0000, maximum: 0x7fff_ffff })))
export const Uint32 = Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: 0xffff_ffff })))

/** Bytes, base64 in JSON. */
export const Bytes = Schema.Uint8ArrayFromBase64

const loneSurrogate = /\p{Cs}/u

/** A string that survives UTF-8: well-formed UTF-16 (no lone surrogate), as PostgreSQL text always is. */
export const WireString = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((s: string) => !loneSurrogate.test(s), {
      expected: "a well-formed Unicode string (no lone surrogate)",
      arbitraryConstraint: { patterns: [{ source: "^[^\\uD800-\\uDFFF]*$", flags: "u" }] }
    })
  )
)

/** A string that can travel as a C string: well-formed, without NUL. */
export const CString = Schema.String.pipe(
  Schema.check(
    Schema.makeFilter((s: string) => !s.includes("\u0000") && !loneSurrogate.test(s), {
      expected: "a well-formed Unicode string without NUL characters",
      arbitraryConstraint: { patterns: [{ source: "^[^\\u0000\\uD800-\\uDFFF]*$", flags: "u" }] }
    })
  )
)

/** `A | undefined` on the Type side, `A | null` on the Encoded side (JSON has no undefined). */
export const UndefinedAsNull = <S extends Schema.Top>(schema: S) =>
  Schema.NullOr(schema).pipe(
    Schema.decodeTo(
      Schema.UndefinedOr(Schema.toType(schema)),
      SchemaTransformation.transform({
        decode: (v: S["Type"] | null): S["Type"] | undefined => (v === null ? undefined : v),
        encode: (v: S["Type"] | undefined): S["Type"] | null => (v === undefined ? null : v)
      })
    )
  )
