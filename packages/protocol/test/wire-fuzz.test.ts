/**
 * Fuzzing of the frontend/backend codecs and the framer: random and mutated bytes never make them throw anything but
 * a ProtocolError (the Result edges never throw at all), never hang, and whatever they accept re-encodes to bytes
 * that decode to the same message.
 */
import { Result } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { decodeBackend, decodeDataRowRaw, unsafeDecodeBackend } from "../src/backend/decodeBackend.ts"
import { encodeBackend, encodeBackendToBytes } from "../src/backend/encodeBackend.ts"
import { decodeFrontend, decodeStartup, unsafeDecodeStartup } from "../src/frontend/decodeFrontend.ts"
import { encodeFrontendToBytes } from "../src/frontend/encodeFrontend.ts"
import type { PasswordContext } from "../src/frontend/FrontendMessage.ts"
import { Framer } from "../src/Framer.ts"
import { ProtocolError } from "../src/ProtocolError.ts"
import { Writer } from "../src/Writer.ts"
import { backendMessage } from "./arbitraries/wireBackend.ts"
import { startupPhaseMessage, typedFrontendMessage } from "./arbitraries/wireFrontend.ts"
import { splitAt } from "./arbitraries/wireBytes.ts"

const contexts: ReadonlyArray<PasswordContext | undefined> = [
  undefined,
  "PasswordMessage",
  "SASLInitialResponse",
  "SASLResponse"
]

/** Flips, overwrites, inserts and deletes bytes, and truncates. */
const mutated = (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc
    .tuple(
      valid,
      fc.array(
        fc.tuple(
          fc.constantFrom("set", "flip", "insert", "delete", "truncate"),
          fc.nat(),
          fc.integer({ min: 0, max: 255 })
        ),
        { minLength: 1, maxLength: 4 }
      )
    )
    .map(([bytes, edits]) => {
      let b = Array.from(bytes)
      for (const [op, at, v] of edits) {
        const i = b.length === 0 ? 0 : at % b.length
        if (op === "set") b[i] = v
        else if (op === "flip") b[i] = (b[i] ?? 0) ^ (1 << (v % 8))
        else if (op === "insert") b.splice(i, 0, v)
        else if (op === "delete") b.splice(i, 1)
        else b = b.slice(0, i)
      }
      return Uint8Array.from(b)
    })

// Lengths and type bytes are where decoders go wrong: bias random input towards plausible headers.
const plausible = fc
  .tuple(
    fc.constantFrom(...Array.from("RSKZTDCIENvGHWdcApQfX\0", (c) => c.charCodeAt(0))),
    fc.uint8Array({ maxLength: 120 })
  )
  .map(([type, body]) => {
    const out = new Uint8Array(body.length + 5)
    out[0] = type
    new DataView(out.buffer).setInt32(1, body.length + 4)
    out.set(body, 5)
    return out
  })

const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), plausible)

const checkBackend = (bytes: Uint8Array) => {
  const r = decodeBackend(bytes)
  if (Result.isSuccess(r)) {
    // Accepted input is canonical enough to re-encode to the same message.
    expect(Result.getOrThrow(decodeBackend(encodeBackendToBytes(r.success)))).toStrictEqual(r.success)
  } else {
    expect(r.failure).toBeInstanceOf(ProtocolError)
  }
  Result.isFailure(decodeDataRowRaw(bytes)) // must not throw
}

const checkFrontend = (bytes: Uint8Array) => {
  for (const ctx of contexts) {
    const r = decodeFrontend(bytes, 0, bytes.length, ctx)
    if (Result.isSuccess(r)) {
      expect(Result.getOrThrow(decodeFrontend(encodeFrontendToBytes(r.success), 0, undefined, ctx))).toStrictEqual(
        r.success
      )
    } else {
      expect(r.failure).toBeInstanceOf(ProtocolError)
    }
  }
  const s = decodeStartup(bytes)
  if (Result.isSuccess(s))
    expect(Result.getOrThrow(decodeStartup(encodeFrontendToBytes(s.success)))).toStrictEqual(s.success)
}

describe("wire fuzz: decoders", () => {
  it("random bytes: only ProtocolError, and what is accepted round-trips", () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        checkBackend(bytes)
        checkFrontend(bytes)
      }),
      { numRuns: 3000 }
    )
  })

  it("mutated backend messages", () => {
    fc.assert(fc.property(mutated(backendMessage.map(encodeBackendToBytes)), checkBackend), { numRuns: 3000 })
  })

  it("mutated frontend messages", () => {
    fc.assert(
      fc.property(
        mutated(fc.oneof(typedFrontendMessage, startupPhaseMessage).map(encodeFrontendToBytes)),
        checkFrontend
      ),
      { numRuns: 2000 }
    )
  })

  it("the throwing variants throw only ProtocolError", () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        for (const f of [() => unsafeDecodeBackend(bytes), () => unsafeDecodeStartup(bytes)]) {
          try {
            f()
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError)
          }
        }
      }),
      { numRuns: 1000 }
    )
  })
})

describe("wire fuzz: framer", () => {
  it("random and mutated streams: only ProtocolError, bounded buffering, always terminates", () => {
    const stream = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.array(backendMessage, { maxLength: 8 }).map((ms) => {
        const w = new Writer()
        for (const m of ms) encodeBackend(m, w)
        return w.toBytes()
      })
    )
    fc.assert(
      fc.property(
        mutated(stream),
        fc.array(fc.nat({ max: 700 }), { maxLength: 10 }),
        fc.boolean(),
        (bytes, cuts, startup) => {
          const framer = new Framer({ maxMessageSize: 512, mode: startup ? "startup" : "typed" })
          let frames = 0
          try {
            for (const chunk of splitAt(bytes, cuts)) {
              framer.push(chunk)
              while (framer.next()) {
                frames++
                expect(framer.end - framer.start).toBeLessThanOrEqual(513)
                const error = startup
                  ? Result.getFailure(decodeStartup(framer.buf, framer.start, framer.end))
                  : Result.getFailure(decodeBackend(framer.buf, framer.start, framer.end))
                if (error._tag === "Some") expect(error.value).toBeInstanceOf(ProtocolError)
              }
              expect(framer.buffered).toBeLessThanOrEqual(513)
            }
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError)
          }
          // Every frame consumes at least 5 bytes (4 in startup mode), so the loop cannot spin.
          expect(frames).toBeLessThanOrEqual(Math.floor(bytes.length / 4))
        }
      ),
      { numRuns: 2000 }
    )
  })
})
