/**
 * Fuzzing the pgoutput and replication decoders with random and mutated inputs (bounded counts, fixed seeds).
 *
 * Properties: decoding returns a `Result` and never throws anything (a `ProtocolError` escaping the `Result`, a
 * TypeError or a RangeError all fail the test); it terminates (the test has a timeout and no decoder loop depends
 * on anything but the input length); and the layouts are canonical: whatever decodes successfully re-encodes to
 * exactly the input bytes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Result } from "effect"
import fc from "fast-check"
import { decodePgoutput, encodePgoutputToBytes } from "../src/pgoutput/PgoutputCodec.ts"
import type { PgoutputOptions } from "../src/pgoutput/PgoutputMessage.ts"
import { ProtocolError } from "../src/ProtocolError.ts"
import {
  decodeReplication,
  decodeReplicationFrontend,
  encodeReplicationToBytes
} from "../src/replication/ReplicationMessage.ts"
import { pgoutputCase } from "./arbitraries/pgoutput.ts"

const allOptions: ReadonlyArray<PgoutputOptions> = [1, 2, 3, 4].flatMap((v) =>
  [false, true].flatMap((inStream) =>
    (["off", "on", "parallel"] as const).map((streaming) => ({
      protoVersion: v as 1 | 2 | 3 | 4,
      inStream,
      streaming
    }))
  )
)

const pgoutputTypeBytes = [..."BMCORYIUDTSEcAbPKrp"].map((c) => c.charCodeAt(0))

/** Decodes under `options`; asserts the canonical-layout property on success and the error type on failure. */
const check = (bytes: Uint8Array, options: PgoutputOptions): "ok" | "error" => {
  const r = decodePgoutput(bytes, options)
  if (Result.isSuccess(r)) {
    assert.deepStrictEqual(encodePgoutputToBytes(r.success, options), bytes)
    return "ok"
  }
  assert.instanceOf(r.failure, ProtocolError)
  return "error"
}

const checkReplication = (bytes: Uint8Array): void => {
  const backend = decodeReplication(bytes)
  if (Result.isSuccess(backend)) assert.deepStrictEqual(encodeReplicationToBytes(backend.success), bytes)
  else assert.instanceOf(backend.failure, ProtocolError)
  const frontend = decodeReplicationFrontend(bytes)
  if (Result.isSuccess(frontend)) assert.deepStrictEqual(encodeReplicationToBytes(frontend.success), bytes)
  else assert.instanceOf(frontend.failure, ProtocolError)
}

describe("pgoutput fuzz", () => {
  it("random bytes behind every type byte, under every option set", () => {
    const outcomes = { ok: 0, error: 0 }
    fc.assert(
      fc.property(
        fc.constantFrom(...pgoutputTypeBytes, 0x00, 0x7a, 0xff),
        fc.uint8Array({ maxLength: 64 }),
        fc.constantFrom(...allOptions),
        (type, body, options) => {
          const bytes = new Uint8Array(body.length + 1)
          bytes[0] = type
          bytes.set(body, 1)
          outcomes[check(bytes, options)]++
        }
      ),
      { numRuns: 20_000, seed: 1 }
    )
    // Random bodies must reach both outcomes, or the fuzzer is not exercising the decoders.
    assert.isAbove(outcomes.ok, 0)
    assert.isAbove(outcomes.error, 0)
  })

  it.effect("mutated valid messages: bit flips, truncation, insertion, deletion", () =>
    Effect.gen(function* () {
      const cases = yield* Arbitrary.sampleEffect(pgoutputCase, { count: 1500, seed: 7 })
      const outcomes = { ok: 0, error: 0 }
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: cases.length - 1 }),
          fc.integer({ min: 0, max: 3 }),
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom(...allOptions),
          fc.boolean(),
          (i, op, at, value, otherOptions, keepOptions) => {
            const { message, options } = cases[i]!
            const valid = encodePgoutputToBytes(message, options)
            const pos = at % (valid.length + 1)
            let bytes: Uint8Array
            switch (op) {
              case 0:
                bytes = valid.slice()
                if (pos < bytes.length) bytes[pos]! ^= 1 << (value & 7)
                break
              case 1:
                bytes = valid.slice(0, pos)
                break
              case 2:
                bytes = new Uint8Array(valid.length + 1)
                bytes.set(valid.subarray(0, pos))
                bytes[pos] = value
                bytes.set(valid.subarray(pos), pos + 1)
                break
              default:
                bytes = new Uint8Array([...valid.subarray(0, pos), ...valid.subarray(pos + 1)])
            }
            outcomes[check(bytes, keepOptions ? options : otherOptions)]++
          }
        ),
        { numRuns: 20_000, seed: 2 }
      )
      assert.isAbove(outcomes.ok, 0)
      assert.isAbove(outcomes.error, 0)
    })
  )

  it("replication messages: random and mutated", () => {
    fc.assert(
      fc.property(fc.constantFrom(0x77, 0x6b, 0x72, 0x68, 0x00), fc.uint8Array({ maxLength: 48 }), (type, body) => {
        const bytes = new Uint8Array(body.length + 1)
        bytes[0] = type
        bytes.set(body, 1)
        checkReplication(bytes)
      }),
      { numRuns: 10_000, seed: 3 }
    )
  })
})
