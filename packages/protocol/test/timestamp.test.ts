import { assert, describe, it } from "@effect/vitest"
import { DateTime, Result, Schema } from "effect"
import * as Timestamp from "../src/Timestamp.ts"
import { timestampFromDateTime, timestampToDateTimeLossy } from "../src/TimestampDateTime.ts"
import { TimestampFromString } from "../src/TimestampSchema.ts"

describe("Timestamp", () => {
  it("the PostgreSQL epoch is 2000-01-01 UTC", () => {
    assert.strictEqual(Result.getOrThrow(Timestamp.toDateLossy(0n)).toISOString(), "2000-01-01T00:00:00.000Z")
    assert.strictEqual(Timestamp.toEpochMicros(0n), 946_684_800_000_000n)
    assert.strictEqual(Result.getOrThrow(Timestamp.fromEpochMicros(0n)), -946_684_800_000_000n)
  })

  it("Date conversion truncates microseconds toward the past", () => {
    assert.strictEqual(Result.getOrThrow(Timestamp.toDateLossy(1_999n)).toISOString(), "2000-01-01T00:00:00.001Z")
    assert.strictEqual(Result.getOrThrow(Timestamp.toDateLossy(-1n)).toISOString(), "1999-12-31T23:59:59.999Z")
    const d = new Date("2026-11-21T09:15:11.123Z")
    assert.strictEqual(
      Result.getOrThrow(Timestamp.toDateLossy(Result.getOrThrow(Timestamp.fromDate(d)))).getTime(),
      d.getTime()
    )
    assert.isTrue(Result.isFailure(Timestamp.fromDate(new Date(Number.NaN))))
  })

  it("DateTime.Utc conversion", () => {
    const t = 817_000_000_123_456n
    const dt = Result.getOrThrow(timestampToDateTimeLossy(t))
    assert.strictEqual(DateTime.formatIso(dt), "2025-11-21T00:26:40.123Z")
    assert.strictEqual(timestampFromDateTime(dt), 817_000_000_123_000n)
  })

  it("infinity and -infinity are recognised and never become a Date", () => {
    assert.isTrue(Timestamp.isInfinity(9_223_372_036_854_775_807n))
    assert.isTrue(Timestamp.isNegativeInfinity(-9_223_372_036_854_775_808n))
    assert.isFalse(Timestamp.isFiniteTime(Timestamp.infinity))
    assert.isTrue(Timestamp.isFiniteTime(0n))
    const e = Timestamp.toDateLossy(Timestamp.infinity)
    assert.isTrue(Result.isFailure(e))
    if (Result.isFailure(e)) assert.include(e.failure.message, "infinity")
    assert.isTrue(Result.isFailure(timestampToDateTimeLossy(Timestamp.negativeInfinity)))
    assert.strictEqual(Timestamp.toEpochMicros(Timestamp.infinity), Timestamp.infinity)
    assert.strictEqual(Timestamp.format(Timestamp.infinity), "infinity")
    assert.strictEqual(Timestamp.format(Timestamp.negativeInfinity), "-infinity")
  })

  it("values past the Date range fail instead of giving an invalid Date", () => {
    // 294276-12-31, the largest PostgreSQL timestamp, is beyond the ECMAScript Date range.
    const last = 9_224_318_015_999_999_999n - 946_684_800_000_000n
    assert.isTrue(Result.isFailure(Timestamp.toDateLossy(last)))
    assert.strictEqual(Timestamp.format(last), "+294276-12-31T23:59:59.999999Z")
  })

  it("format is exact to the microsecond, before and after the epoch", () => {
    assert.strictEqual(Timestamp.format(0n), "2000-01-01T00:00:00.000000Z")
    assert.strictEqual(Timestamp.format(-1n), "1999-12-31T23:59:59.999999Z")
    assert.strictEqual(Timestamp.format(660_000_000_000_001n), "2020-11-29T21:20:00.000001Z")
    // 4714-11-24 BC (ISO year -4713), the first PostgreSQL timestamp.
    assert.strictEqual(Timestamp.format(-211_813_488_000_000_000n), "-004713-11-24T00:00:00.000000Z")
  })

  it.prop(
    "format agrees with Date in the Date range",
    [Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: -8e15, maximum: 8e15 })))],
    ([ms]) => {
      const t = BigInt(ms) * 1000n - Timestamp.unixEpochOffsetMicros
      const iso = new Date(ms).toISOString()
      assert.strictEqual(Timestamp.format(t), iso.replace("Z", "000Z"))
    }
  )

  it("the Schema accepts int64 and has a decimal-string JSON form", () => {
    assert.strictEqual(
      Schema.decodeUnknownSync(TimestampFromString)("-9223372036854775808"),
      Timestamp.negativeInfinity
    )
    assert.strictEqual(Schema.encodeSync(TimestampFromString)(Timestamp.infinity), "9223372036854775807")
    assert.throws(() => Schema.decodeUnknownSync(TimestampFromString)("9223372036854775808"))
  })
})
