/**
 * Effect Schemas for protocol `Timestamp`s (int64 microseconds since 2000-01-01 UTC). They live apart from
 * `Timestamp.ts` so that the codecs do not load `effect/Schema`; users get them from `@pgcdc/protocol/schema`.
 */
import * as Schema from "effect/Schema"
import { infinity, negativeInfinity } from "./Timestamp.ts"

/**
 * A PostgreSQL timestamp value: a bigint in the int64 range. Its JSON form is the decimal string (bigints have no
 * JSON number form that survives a round trip).
 */
export const TimestampSchema = Schema.BigInt.pipe(
  Schema.check(Schema.isBetweenBigInt({ minimum: negativeInfinity, maximum: infinity })),
  Schema.annotate({ identifier: "Timestamp", description: "Microseconds since 2000-01-01 00:00:00 UTC (int64)" })
)

/** `TimestampSchema` with a decimal-string encoded side, for JSON. */
export const TimestampFromString = Schema.BigIntFromString.pipe(Schema.decodeTo(TimestampSchema))
