/**
 * Conversions between protocol `Timestamp`s and Effect `DateTime`s. They live apart from `Timestamp.ts` because
 * `effect/DateTime` loads Effect's runtime core (about 45 more modules), which the pure codecs never need; users get
 * them from `@pgcdc/protocol/schema`, next to the Schemas.
 */
import * as DateTime from "effect/DateTime"
import * as Result from "effect/Result"
import type { ProtocolError } from "./ProtocolError.ts"
import { type Timestamp, toDateLossy, unixEpochOffsetMicros } from "./Timestamp.ts"

/**
 * An Effect `DateTime.Utc` (lossy: millisecond precision, truncated toward the past). Fails on infinity and outside
 * the `Date` range, which is also `DateTime`'s.
 */
export const timestampToDateTimeLossy = (t: Timestamp): Result.Result<DateTime.Utc, ProtocolError> =>
  Result.map(toDateLossy(t), (date) => DateTime.makeUnsafe(date.getTime()))

/** From any Effect `DateTime` (exact: whole milliseconds; the zone does not matter, the instant does). */
export const timestampFromDateTime = (dt: DateTime.DateTime): Timestamp =>
  BigInt(DateTime.toEpochMillis(dt)) * 1000n - unixEpochOffsetMicros
