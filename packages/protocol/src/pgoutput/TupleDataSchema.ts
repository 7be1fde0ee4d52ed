/**
 * Effect Schemas for pgoutput TupleData values.
 *
 * Type side: exactly the contract types (`string | Uint8Array | null | UnchangedToast`). JSON side: text stays a
 * string, SQL NULL stays `null`, binary becomes `{ "binary": "<base64>" }` and unchanged TOAST
 * `{ "unchangedToast": true }`, so the four kinds stay distinguishable after a JSON round trip.
 *
 * It deliberately does not decode column types.
 */
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { Bytes, WireString } from "./SchemaFields.ts"
import { UnchangedToast } from "./TupleData.ts"

export const UnchangedToastSchema = Schema.Struct({ unchangedToast: Schema.Literal(true) }).pipe(
  Schema.decodeTo(
    Schema.UniqueSymbol(UnchangedToast),
    SchemaTransformation.transform({
      decode: (): UnchangedToast => UnchangedToast,
      encode: () => ({ unchangedToast: true as const })
    })
  )
)

export const BinaryValueSchema = Schema.Struct({ binary: Bytes }).pipe(
  Schema.decodeTo(
    Schema.Uint8Array,
    SchemaTransformation.transform({
      decode: (o: { readonly binary: Uint8Array }): Uint8Array => o.binary,
      encode: (b: Uint8Array) => ({ binary: b })
    })
  )
)

export const TupleValueSchema = Schema.Union([WireString, Schema.Null, BinaryValueSchema, UnchangedToastSchema])

export const TupleDataSchema = Schema.Array(TupleValueSchema).pipe(
  Schema.check(Schema.isMaxLength(0x7fff)),
  Schema.annotate({ identifier: "TupleData" })
)
