/**
 * Effect Schemas for `Lsn` (validation, arbitraries, and the `X/Y` JSON form). They live apart from `Lsn.ts` so that
 * the codecs, which only need the branded bigint and its text form, do not load `effect/Schema`; users get them from
 * `@pgcdc/protocol/schema`.
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { format, type Lsn, parse } from "./Lsn.ts"

/** An LSN as a value: a bigint in the unsigned 64-bit range, branded. */
export const LsnSchema: Schema.brand<Schema.BigInt, "Lsn"> = Schema.BigInt.pipe(
  Schema.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffff_ffff_ffff_ffffn })),
  Schema.brand("Lsn"),
  Schema.annotate({ identifier: "Lsn", description: "A WAL position (unsigned 64-bit)" })
)

/** An LSN whose encoded (JSON) form is PostgreSQL's `X/Y` text, e.g. `"16/B374D848"`. */
export const LsnFromString: Schema.decodeTo<Schema.toType<typeof LsnSchema>, Schema.String> = Schema.String.pipe(
  Schema.decodeTo(
    Schema.toType(LsnSchema),
    SchemaTransformation.transformEffect({
      decode: (text: string) => {
        const r = parse(text)
        return Result.isSuccess(r)
          ? Effect.succeed(r.success)
          : Effect.fail(new SchemaIssue.InvalidValue({ message: r.failure.detail ?? "not an LSN" }, text))
      },
      encode: (lsn: Lsn) => Effect.succeed(format(lsn))
    })
  )
)
