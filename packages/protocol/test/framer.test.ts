import { Result, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { BackendMessage } from "../src/backend/BackendMessage.ts"
import { unsafeDecodeBackend, unsafeDecodeBackendBody } from "../src/backend/decodeBackend.ts"
import { encodeBackend } from "../src/backend/encodeBackend.ts"
import { decodeStartup, unsafeDecodeFrontend } from "../src/frontend/decodeFrontend.ts"
import { encodeFrontend } from "../src/frontend/encodeFrontend.ts"
import type { FrontendMessage } from "../src/frontend/FrontendMessage.ts"
import { Framer } from "../src/Framer.ts"
import { ProtocolError } from "../src/ProtocolError.ts"
import { Writer } from "../src/Writer.ts"
import { backendMessage } from "./arbitraries/wireBackend.ts"
import { passwordContextOf, startupPhaseMessage, typedFrontendMessage } from "./arbitraries/wireFrontend.ts"
import { concat, cstr, frame, i32, packet, splitAt } from "./arbitraries/wireBytes.ts"

interface Frame {
  readonly type: number
  readonly buf: Uint8Array
  readonly start: number
  readonly bodyStart: number
  readonly end: number
}

/** Pushes every chunk, draining after each, and returns the frames as handed out (not yet decoded). */
const frames = (framer: Framer, chunks: ReadonlyArray<Uint8Array>, limit = Number.POSITIVE_INFINITY): Array<Frame> => {
  const out: Array<Frame> = []
  for (const chunk of chunks) {
    framer.push(chunk)
    while (framer.next()) {
      const { type, buf, start, bodyStart, end } = framer
      out.push({ type, buf, start, bodyStart, end })
    }
    expect(framer.unread).toBe(0)
    expect(framer.buffered).toBeLessThanOrEqual(limit)
  }
  return out
}

const backendStream = (messages: ReadonlyArray<BackendMessage>): Uint8Array => {
  const w = new Writer()
  for (const m of messages) encodeBackend(m, w)
  return w.toBytes()
}

const cuts = fc.array(fc.nat({ max: 4000 }), { maxLength: 40 })

const thrown = (f: () => unknown): ProtocolError => {
  try {
    f()
  } catch (e) {
    if (e instanceof ProtocolError) return e
    throw e
  }
  throw new Error("expected a ProtocolError")
}

describe("Framer: typed streams", () => {
  it("splits any chunking of a backend stream into the original messages", () => {
    fc.assert(
      fc.property(fc.array(backendMessage, { maxLength: 25 }), cuts, (messages, cutPoints) => {
        const bytes = backendStream(messages)
        const got = frames(new Framer(), splitAt(bytes, cutPoints), 0x4000_0000 + 5)
        // Decoded only now, after every chunk was pushed: a buffer handed out earlier was never reused.
        expect(got.map((f) => unsafeDecodeBackend(f.buf, f.start, f.end))).toStrictEqual(messages)
        expect(got.map((f) => unsafeDecodeBackendBody(f.type, f.buf, f.bodyStart, f.end))).toStrictEqual(messages)
      }),
      { numRuns: 300 }
    )
  })

  it("handles one-byte chunks", () => {
    fc.assert(
      fc.property(fc.array(backendMessage, { maxLength: 6 }), (messages) => {
        const bytes = backendStream(messages)
        const chunks = Array.from(bytes, (b) => Uint8Array.of(b))
        const got = frames(new Framer(), chunks)
        expect(got.map((f) => unsafeDecodeBackend(f.buf, f.start, f.end))).toStrictEqual(messages)
      }),
      { numRuns: 50 }
    )
  })

  it("is correct when the caller pushes without draining", () => {
    fc.assert(
      fc.property(fc.array(backendMessage, { maxLength: 10 }), cuts, (messages, cutPoints) => {
        const framer = new Framer()
        for (const c of splitAt(backendStream(messages), cutPoints)) framer.push(c)
        const got: Array<BackendMessage> = []
        while (framer.next()) got.push(unsafeDecodeBackend(framer.buf, framer.start, framer.end))
        expect(got).toStrictEqual(messages)
      }),
      { numRuns: 100 }
    )
  })

  it("hands out a view of the chunk for a message inside it (no copy)", () => {
    const chunk = concat(frame("Z", "I"), frame("d", [1, 2, 3]))
    const framer = new Framer()
    framer.push(chunk)
    expect(framer.next()).toBe(true)
    expect([framer.buf === chunk, framer.type, framer.start, framer.bodyStart, framer.end]).toEqual([
      true,
      0x5a,
      0,
      5,
      6
    ])
    expect(framer.next()).toBe(true)
    expect([framer.buf === chunk, framer.type, framer.start, framer.bodyStart, framer.end]).toEqual([
      true,
      0x64,
      6,
      11,
      14
    ])
    expect(framer.next()).toBe(false)
    // The chunk the caller gave was not written to.
    expect(chunk).toStrictEqual(concat(frame("Z", "I"), frame("d", [1, 2, 3])))
  })

  it("assembles a message that spans chunks in a fresh buffer of exactly its size", () => {
    const a = frame("d", new Uint8Array(100).fill(1))
    const b = frame("d", new Uint8Array(50).fill(2))
    const framer = new Framer()
    const [c1, c2, c3] = splitAt(concat(a, b), [60, 130])
    framer.push(c1!)
    expect(framer.next()).toBe(false)
    expect(framer.buffered).toBe(60)
    framer.push(c2!)
    expect(framer.next()).toBe(true)
    const first = framer.buf
    expect([first !== c1 && first !== c2, first.length, framer.start, framer.end]).toEqual([true, 105, 0, 105])
    expect(framer.next()).toBe(false)
    framer.push(c3!)
    expect(framer.next()).toBe(true)
    expect(framer.buf).not.toBe(first)
    expect(first).toStrictEqual(a)
    expect(framer.buf.subarray(framer.start, framer.end)).toStrictEqual(b)
  })
})

describe("Framer: limits", () => {
  it("fails with Oversize as soon as the length is read, before buffering the body", () => {
    const framer = new Framer({ maxMessageSize: 1000 })
    framer.push(concat("d", i32(1001)))
    const e = thrown(() => framer.next())
    expect([e.reason, e.field]).toEqual(["Oversize", "length"])
    expect(framer.buffered).toBe(0)
  })

  it("fails with Oversize when the header itself spans chunks", () => {
    const framer = new Framer({ maxMessageSize: 1000 })
    framer.push(Uint8Array.of(0x64, 0, 0))
    expect(framer.next()).toBe(false)
    framer.push(Uint8Array.of(0x10, 0, 1, 2, 3))
    expect(thrown(() => framer.next()).reason).toBe("Oversize")
  })

  it("accepts a message of exactly the maximum size", () => {
    const framer = new Framer({ maxMessageSize: 1000 })
    framer.push(frame("d", new Uint8Array(996)))
    expect(framer.next()).toBe(true)
  })

  it("fails with LengthOutOfRange for lengths below 4", () => {
    for (const len of [3, 0, -1, -0x8000_0000]) {
      const framer = new Framer()
      framer.push(concat("Z", i32(len), "I"))
      expect(thrown(() => framer.next()).reason).toBe("LengthOutOfRange")
    }
  })

  it("stays failed: later calls rethrow the same error", () => {
    const framer = new Framer()
    framer.push(concat("Z", i32(1)))
    const e = thrown(() => framer.next())
    expect(thrown(() => framer.next())).toBe(e)
    expect(thrown(() => framer.push(frame("Z", "I")))).toBe(e)
  })

  it("never buffers more than the limit plus a header, whatever the chunking", () => {
    // Frames with small random lengths (some over the limit, some below 4) and random bodies, then random tails.
    const rawFrame = fc
      .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: -2, max: 300 }), fc.uint8Array({ maxLength: 300 }))
      .map(([type, len, body]) => concat(type, i32(len), body.subarray(0, Math.max(0, len - 4))))
    fc.assert(
      fc.property(fc.array(rawFrame, { maxLength: 20 }), cuts, (parts, cutPoints) => {
        const framer = new Framer({ maxMessageSize: 256 })
        let seen = 0
        try {
          for (const chunk of splitAt(concat(...parts), cutPoints)) {
            framer.push(chunk)
            while (framer.next()) {
              seen++
              expect(framer.end - framer.start).toBeLessThanOrEqual(257)
            }
            expect(framer.buffered).toBeLessThanOrEqual(257)
          }
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError)
          expect(["Oversize", "LengthOutOfRange"]).toContain((e as ProtocolError).reason)
        }
        expect(seen).toBeLessThanOrEqual(parts.length)
      }),
      { numRuns: 500 }
    )
  })
})

describe("Framer: startup mode (server side)", () => {
  const startup = packet(i32(196608), cstr("user"), cstr("postgres"), cstr("replication"), cstr("database"), 0)

  it("reads untyped packets, then typed messages after setTyped()", () => {
    fc.assert(
      fc.property(
        fc.array(
          startupPhaseMessage.filter((m) => m._tag !== "StartupMessage"),
          { maxLength: 3 }
        ),
        fc.array(typedFrontendMessage, { maxLength: 10 }),
        cuts,
        (before, typed, cutPoints) => {
          const messages: Array<FrontendMessage> = [
            ...before,
            { _tag: "StartupMessage", protocolVersion: 196608, parameters: [["user", "u"]] },
            ...typed
          ]
          const w = new Writer()
          for (const m of messages) encodeFrontend(m, w)
          const framer = new Framer({ mode: "startup" })
          const got: Array<FrontendMessage> = []
          for (const chunk of splitAt(w.toBytes(), cutPoints)) {
            framer.push(chunk)
            while (framer.next()) {
              if (framer.mode === "startup") {
                expect(framer.type).toBe(0)
                const m = Result.getOrThrow(decodeStartup(framer.buf, framer.start, framer.end))
                if (m._tag === "StartupMessage") framer.setTyped()
                got.push(m)
              } else {
                const i = got.length - before.length - 1
                got.push(unsafeDecodeFrontend(framer.buf, framer.start, framer.end, passwordContextOf(typed[i]!)))
              }
            }
          }
          expect(got).toStrictEqual(messages)
        }
      ),
      { numRuns: 200 }
    )
  })

  it("gives startup packets type 0 and a body after the length", () => {
    const framer = new Framer({ mode: "startup" })
    framer.push(startup)
    expect(framer.next()).toBe(true)
    expect([framer.type, framer.start, framer.bodyStart, framer.end]).toEqual([0, 0, 4, startup.length])
  })

  it("limits startup packets to 10000 bytes by default", () => {
    const framer = new Framer({ mode: "startup" })
    framer.push(Uint8Array.from(i32(10_001)))
    expect(thrown(() => framer.next()).reason).toBe("Oversize")
    const custom = new Framer({ mode: "startup", maxStartupMessageSize: 20 })
    custom.push(Uint8Array.from(i32(21)))
    expect(thrown(() => custom.next()).reason).toBe("Oversize")
  })

  it("rejects startup lengths below 8 (no room for the request code)", () => {
    const framer = new Framer({ mode: "startup" })
    framer.push(concat(i32(7), [0, 0, 0]))
    expect(thrown(() => framer.next()).reason).toBe("LengthOutOfRange")
  })

  it("refuses to switch modes in the middle of a packet", () => {
    const framer = new Framer({ mode: "startup" })
    framer.push(startup.subarray(0, 6))
    expect(framer.next()).toBe(false)
    expect(thrown(() => framer.setTyped()).reason).toBe("InvalidValue")
  })
})

describe("package entry point", () => {
  it("exposes the framer and codecs", async () => {
    const P = await import("../src/index.ts")
    const framer = new P.Framer()
    framer.push(P.encodeBackendToBytes({ _tag: "ReadyForQuery", status: "I" }))
    expect(framer.next()).toBe(true)
    expect(P.unsafeDecodeBackendBody(framer.type, framer.buf, framer.bodyStart, framer.end)).toStrictEqual({
      _tag: "ReadyForQuery",
      status: "I"
    })
    expect(P.BackendType.ReadyForQuery).toBe(framer.type)
    expect(Result.getOrThrow(P.decodeStartup(P.encodeFrontendToBytes({ _tag: "SSLRequest" })))).toStrictEqual({
      _tag: "SSLRequest"
    })
  })

  it("the Schemas are in the schema entry", async () => {
    const S = await import("../src/schema/index.ts")
    expect(Schema.is(S.BackendSchema.ErrorResponse)({ _tag: "ErrorResponse" })).toBe(true)
  })
})

describe("Framer: error details", () => {
  it("names the message type whose length was wrong", () => {
    const framer = new Framer({ maxMessageSize: 100 })
    framer.push(concat("d", i32(101)))
    expect(thrown(() => framer.next()).detail).toBe('message type "d": 101 bytes exceeds the limit of 100')
  })

  it("shows bytes pushed after an SSLRequest, which a server must refuse before a TLS handshake", () => {
    const framer = new Framer({ mode: "startup" })
    framer.push(concat(packet(i32(80877103)), frame("Q", cstr("injected"))))
    expect(framer.next()).toBe(true)
    expect([framer.unread, framer.buffered]).toEqual([14, 0])
  })
})
