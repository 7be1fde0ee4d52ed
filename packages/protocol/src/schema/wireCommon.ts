/**
 * Field Schemas shared by the frontend and backend message Schemas: what a value must satisfy to survive an
 * encode/decode round trip (well-formed UTF-16 so UTF-8 encoding is lossless, no NUL inside a NUL-terminated string,
 * integers within their wire width). The Schemas describe messages; the codecs never call them.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type { ProtocolError } from "../ProtocolError.ts"
import type * as Result from "effect/Result"

// A lone surrogate cannot be encoded as UTF-8 (TextEncoder would replace it with U+FFFD).
const loneSurrogate = /\p{Cs}/u

/** A string that survives UTF-8 encoding unchanged (length-prefixed fields, e.g. DataRow values). */
export const Utf8String = Schema.String.check(
  Schema.makeFilter((s: string) => !loneSurrogate.test(s) || "contains a lone UTF-16 surrogate")
)

/** A string that can be written NUL-terminated. */
export const CString = Utf8String.check(
  Schema.makeFilter((s: string) => !s.includes("\0") || "contains a NUL character")
)

/** A NUL-terminated string that must not be empty (an empty one would end a list). */
export const NonEmptyCString = CString.check(Schema.isNonEmpty())

export const Int16 = Schema.Int.check(Schema.isBetween({ minimum: -0x8000, maximum: 0x7fff }))
export const Int32 = Schema.Int.check(Schema.isInt32())
export const Uint32 = Schema.Int.check(Schema.isUint32())

/** 0 = text, 1 = binary. */
export const FormatCode = Schema.Literals([0, 1])

/** A cancel key: 4 bytes in protocol 3.0, up to 256 in 3.2. */
export const SecretKey = Schema.Uint8Array.check(Schema.isBetweenLength(4, 256))

/**
 * Wraps a codec as a bytes → message transformation: decoding runs the decoder (a `ProtocolError` becomes an
 * `InvalidValue` issue carrying the error's message), encoding runs the encoder.
 */
export const bytesTransformation = <A>(
  decode: (bytes: Uint8Array) => Result.Result<A, ProtocolError>,
  encode: (a: A) => Uint8Array
) =>
  SchemaTransformation.transformEffect<A, Uint8Array>({
    decode: (bytes) => {
      const r = decode(bytes)
      return r._tag === "Success"
        ? Effect.succeed(r.success)
        : Effect.fail(new SchemaIssue.InvalidValue({ message: r.failure.message }, bytes))
    },
    encode: (a) => {
      try {
        return Effect.succeed(encode(a))
      } catch (e) {
        return Effect.fail(new SchemaIssue.InvalidValue({ message: e instanceof Error ? e.message : String(e) }, a))
      }
    }
  })
