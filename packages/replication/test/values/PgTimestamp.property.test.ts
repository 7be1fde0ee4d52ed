// `toDate` computes in doubles near 2000 and in BigInt elsewhere: both must give the floored millisecond.
import * as fc from "fast-check"
import * as Option from "effect/Option"
import { describe, expect, it } from "vitest"
import { PgTimestamp } from "../../src/values/index.ts"

/** The definition: floor((micros + 2000-01-01 in Unix µs) / 1000), none outside ±8.64e15 ms and for ±infinity. */
const reference = (micros: bigint): number | undefined => {
  if (micros === 2n ** 63n - 1n || micros === -(2n ** 63n)) return undefined
  const unix = micros + PgTimestamp.UNIX_TO_POSTGRES_MICROS
  let ms = unix / 1000n
  if (unix < 0n && unix % 1000n !== 0n) ms -= 1n
  return ms >= -8_640_000_000_000_000n && ms <= 8_640_000_000_000_000n ? Number(ms) : undefined
}

const safe = BigInt(Number.MAX_SAFE_INTEGER)
const micros = fc.oneof(
  fc.bigInt({ min: -safe - 5000n, max: safe + 5000n }),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(-safe, safe, -safe - 1n, safe + 1n, -1n, 0n, 1n, -999n, -1000n, -1001n, 2n ** 63n - 1n, -(2n ** 63n))
)

describe("PgTimestamp.toDate", () => {
  it("is the floored millisecond of the instant on both sides of ±2^53 µs, and none where a Date cannot hold it", () => {
    fc.assert(
      fc.property(micros, (m) => {
        const expected = reference(m)
        const date = PgTimestamp.toDate(PgTimestamp.makeTz(m))
        expect(Option.isSome(date) ? date.value.getTime() : undefined).toBe(expected)
        expect(PgTimestamp.toDateOrUndefined(PgTimestamp.make(m))?.getTime()).toBe(expected)
      }),
      { numRuns: 5000 }
    )
  })
})
