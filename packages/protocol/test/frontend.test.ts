import { it as eit } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import {
  decodeFrontend,
  decodePasswordMessage,
  decodeSASLInitialResponse,
  decodeSASLResponse,
  decodeStartup,
  unsafeDecodeFrontendBody
} from "../src/frontend/decodeFrontend.ts"
import { encodeFrontend, encodeFrontendToBytes } from "../src/frontend/encodeFrontend.ts"
import {
  type FrontendMessage,
  type PasswordContext,
  type StartupPhaseMessage,
  startupParameter,
  type TypedFrontendMessage
} from "../src/frontend/FrontendMessage.ts"
import { ProtocolError, type ProtocolErrorReason } from "../src/ProtocolError.ts"
import {
  FrontendMessage as FrontendMessageSchema,
  FrontendMessageJson,
  StartupPhaseMessageFromBytes,
  TypedFrontendMessageFromBytes
} from "../src/schema/wireFrontend.ts"
import { Writer } from "../src/Writer.ts"
import { passwordContextOf, startupPhaseMessage, typedFrontendMessage } from "./arbitraries/wireFrontend.ts"
import { concat, cstr, frame, i32, packet } from "./arbitraries/wireBytes.ts"

const isStartupPhase = (m: FrontendMessage): m is StartupPhaseMessage =>
  m._tag === "StartupMessage" || m._tag === "SSLRequest" || m._tag === "GSSENCRequest" || m._tag === "CancelRequest"

/** Decodes bytes the way a server would: startup packets by code, typed frames with the 'p' context of `m`. */
const roundTrip = (m: FrontendMessage): FrontendMessage => {
  const bytes = encodeFrontendToBytes(m)
  if (isStartupPhase(m)) return Result.getOrThrow(decodeStartup(bytes))
  return Result.getOrThrow(decodeFrontend(bytes, 0, bytes.length, passwordContextOf(m)))
}

const failure = (r: Result.Result<unknown, ProtocolError>): ProtocolError => {
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)}`)
  return r.failure
}

const expectFailure = (
  r: Result.Result<unknown, ProtocolError>,
  reason: ProtocolErrorReason,
  messageName: string,
  field: string
) => {
  const e = failure(r)
  expect(e).toBeInstanceOf(ProtocolError)
  expect({ reason: e.reason, messageName: e.messageName, field: e.field }).toEqual({ reason, messageName, field })
}

describe("frontend messages: round trip", () => {
  it("typed messages: decode(encode(m)) equals m (fast-check, full Unicode)", () => {
    fc.assert(
      fc.property(typedFrontendMessage, (m) => {
        expect(roundTrip(m)).toStrictEqual(m)
      }),
      { numRuns: 1000 }
    )
  })

  it("startup-phase messages: decode(encode(m)) equals m", () => {
    fc.assert(
      fc.property(startupPhaseMessage, (m) => {
        expect(roundTrip(m)).toStrictEqual(m)
      }),
      { numRuns: 500 }
    )
  })

  // toEqual: the Schema arbitrary sometimes builds null-prototype objects, the decoder plain ones.
  eit.prop(
    "values generated from the Schema round-trip",
    [FrontendMessageSchema],
    ([m]) => {
      expect(roundTrip(m)).toEqual(m)
    },
    { arbitrary: { runs: 400 } }
  )

  it("the body decoder agrees with the frame decoder", () => {
    fc.assert(
      fc.property(typedFrontendMessage, (m) => {
        const bytes = encodeFrontendToBytes(m)
        const ctx = passwordContextOf(m)
        expect(unsafeDecodeFrontendBody(bytes[0]!, bytes, 5, bytes.length, ctx)).toStrictEqual(
          Result.getOrThrow(decodeFrontend(bytes, 0, bytes.length, ctx))
        )
      }),
      { numRuns: 200 }
    )
  })
})

describe("frontend messages: golden bytes from the documented layouts", () => {
  it.each<[string, Uint8Array, FrontendMessage]>([
    [
      "StartupMessage for a walsender",
      packet(
        i32(196608),
        cstr("user"),
        cstr("postgres"),
        cstr("database"),
        cstr("db"),
        cstr("replication"),
        cstr("database"),
        0
      ),
      {
        _tag: "StartupMessage",
        protocolVersion: 196608,
        parameters: [
          ["user", "postgres"],
          ["database", "db"],
          ["replication", "database"]
        ]
      }
    ],
    ["SSLRequest", Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f), { _tag: "SSLRequest" }],
    ["GSSENCRequest", Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30), { _tag: "GSSENCRequest" }],
    [
      "CancelRequest (3.0)",
      Uint8Array.of(0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0x10, 0x92, 1, 2, 3, 4),
      { _tag: "CancelRequest", processId: 4242, secretKey: Uint8Array.of(1, 2, 3, 4) }
    ]
  ])("%s", (_name, bytes, message) => {
    expect(Result.getOrThrow(decodeStartup(bytes))).toStrictEqual(message)
    expect(encodeFrontendToBytes(message)).toStrictEqual(bytes)
  })

  it.each<[string, Uint8Array, TypedFrontendMessage, PasswordContext | undefined]>([
    ["PasswordMessage", frame("p", cstr("md5abc")), { _tag: "PasswordMessage", password: "md5abc" }, "PasswordMessage"],
    [
      "SASLInitialResponse with data",
      frame("p", cstr("SCRAM-SHA-256"), i32(3), "n,,"),
      { _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: new TextEncoder().encode("n,,") },
      "SASLInitialResponse"
    ],
    [
      "SASLInitialResponse without data (-1)",
      frame("p", cstr("X"), i32(-1)),
      { _tag: "SASLInitialResponse", mechanism: "X", data: null },
      "SASLInitialResponse"
    ],
    [
      "SASLInitialResponse with empty data (0)",
      frame("p", cstr("X"), i32(0)),
      { _tag: "SASLInitialResponse", mechanism: "X", data: new Uint8Array(0) },
      "SASLInitialResponse"
    ],
    [
      "SASLResponse",
      frame("p", "c=biws"),
      { _tag: "SASLResponse", data: new TextEncoder().encode("c=biws") },
      "SASLResponse"
    ],
    ["Query", frame("Q", cstr("IDENTIFY_SYSTEM")), { _tag: "Query", sql: "IDENTIFY_SYSTEM" }, undefined],
    ["CopyData", frame("d", [0x72, 0]), { _tag: "CopyData", data: Uint8Array.of(0x72, 0) }, undefined],
    ["CopyDone", frame("c"), { _tag: "CopyDone" }, undefined],
    ["CopyFail", frame("f", cstr("stop")), { _tag: "CopyFail", message: "stop" }, undefined],
    ["Terminate", frame("X"), { _tag: "Terminate" }, undefined]
  ])("%s", (_name, bytes, message, context) => {
    expect(Result.getOrThrow(decodeFrontend(bytes, 0, bytes.length, context))).toStrictEqual(message)
    expect(encodeFrontendToBytes(message)).toStrictEqual(bytes)
  })

  it("startupParameter returns the last value of a name", () => {
    expect(
      startupParameter(
        {
          _tag: "StartupMessage",
          protocolVersion: 196608,
          parameters: [
            ["replication", "true"],
            ["replication", "database"]
          ]
        },
        "replication"
      )
    ).toBe("database")
  })

  it("keeps a parameter named __proto__ as data", () => {
    const bytes = packet(i32(196608), cstr("__proto__"), cstr("x"), 0)
    expect(Result.getOrThrow(decodeStartup(bytes))).toStrictEqual({
      _tag: "StartupMessage",
      protocolVersion: 196608,
      parameters: [["__proto__", "x"]]
    })
  })
})

describe("the ambiguous 'p' message", () => {
  const sasl = frame("p", cstr("SCRAM-SHA-256"), i32(-1))
  it("is refused without a context", () => {
    expectFailure(decodeFrontend(sasl), "InvalidValue", "PasswordMessage", "type")
  })
  it("is read as the message the exchange expects", () => {
    expect(Result.getOrThrow(decodeSASLInitialResponse(sasl))).toStrictEqual({
      _tag: "SASLInitialResponse",
      mechanism: "SCRAM-SHA-256",
      data: null
    })
    // The same bytes as a SASLResponse: all of the body is data.
    expect(Result.getOrThrow(decodeSASLResponse(sasl))).toStrictEqual({
      _tag: "SASLResponse",
      data: sasl.slice(5)
    })
    // As a PasswordMessage: the password ends at the first NUL and the rest is trailing.
    expectFailure(decodePasswordMessage(sasl), "TrailingBytes", "PasswordMessage", "(end)")
    expect(Result.getOrThrow(decodePasswordMessage(frame("p", cstr("secret"))))).toStrictEqual({
      _tag: "PasswordMessage",
      password: "secret"
    })
  })
  it("context decoders refuse another type byte", () => {
    expectFailure(decodePasswordMessage(frame("Q", cstr("x"))), "UnknownType", "PasswordMessage", "type")
    expectFailure(decodeSASLResponse(frame("d", "x")), "UnknownType", "SASLResponse", "type")
  })
})

describe("frontend messages: every error reason", () => {
  it("Truncated", () => {
    const startup = packet(i32(196608), cstr("user"), cstr("u"), 0)
    expectFailure(decodeStartup(startup.subarray(0, startup.length - 1)), "Truncated", "StartupPacket", "length")
    expectFailure(decodeStartup(packet(i32(196608), cstr("user"), cstr("u"))), "Truncated", "StartupMessage", "name")
    expectFailure(decodeStartup(packet(i32(196608), cstr("user"), "u")), "Truncated", "StartupMessage", "value")
    expectFailure(decodeStartup(Uint8Array.of(0, 0)), "Truncated", "StartupPacket", "length")
    expectFailure(decodeStartup(packet(i32(80877102), i32(1).slice(0, 3))), "Truncated", "CancelRequest", "processId")
    expectFailure(decodeFrontend(frame("Q", "SELECT 1")), "Truncated", "Query", "sql")
    expectFailure(
      decodeFrontend(frame("p", cstr("m"), i32(5), "abc"), 0, undefined, "SASLInitialResponse"),
      "LengthOutOfRange",
      "SASLInitialResponse",
      "dataLength"
    )
    expectFailure(
      decodeFrontend(frame("p", cstr("m"), [0, 0]), 0, undefined, "SASLInitialResponse"),
      "Truncated",
      "SASLInitialResponse",
      "dataLength"
    )
  })

  it("TrailingBytes", () => {
    expectFailure(decodeStartup(concat(packet(i32(80877103)), 0)), "TrailingBytes", "StartupPacket", "length")
    expectFailure(decodeStartup(packet(i32(80877103), 0)), "TrailingBytes", "SSLRequest", "(end)")
    expectFailure(decodeStartup(packet(i32(80877104), 0)), "TrailingBytes", "GSSENCRequest", "(end)")
    expectFailure(
      decodeStartup(packet(i32(196608), cstr("a"), cstr("b"), 0, 0)),
      "TrailingBytes",
      "StartupMessage",
      "(end)"
    )
    expectFailure(decodeFrontend(frame("X", 0)), "TrailingBytes", "Terminate", "(end)")
    expectFailure(decodeFrontend(frame("c", 0)), "TrailingBytes", "CopyDone", "(end)")
    expectFailure(decodeFrontend(frame("Q", cstr("a"), "b")), "TrailingBytes", "Query", "(end)")
    expectFailure(decodeFrontend(concat(frame("X"), 1)), "TrailingBytes", "FrontendMessage", "length")
  })

  it("UnknownType", () => {
    expectFailure(decodeFrontend(frame("P", cstr(""))), "UnknownType", "FrontendMessage", "type") // Parse: not supported
    expectFailure(decodeFrontend(frame("\u0000")), "UnknownType", "FrontendMessage", "type")
  })

  it("LengthOutOfRange", () => {
    expectFailure(
      decodeStartup(concat(i32(7), i32(80877103).slice(0, 3))),
      "LengthOutOfRange",
      "StartupPacket",
      "length"
    )
    expectFailure(decodeStartup(Uint8Array.from(i32(-1))), "LengthOutOfRange", "StartupPacket", "length")
    expectFailure(decodeFrontend(concat("X", i32(2))), "LengthOutOfRange", "FrontendMessage", "length")
    expectFailure(
      decodeStartup(packet(i32(80877102), i32(1), [1, 2, 3])),
      "LengthOutOfRange",
      "CancelRequest",
      "secretKey"
    )
    expectFailure(
      decodeStartup(packet(i32(80877102), i32(1), new Uint8Array(257))),
      "LengthOutOfRange",
      "CancelRequest",
      "secretKey"
    )
    expectFailure(
      decodeFrontend(frame("p", cstr("m"), i32(-2)), 0, undefined, "SASLInitialResponse"),
      "LengthOutOfRange",
      "SASLInitialResponse",
      "dataLength"
    )
  })

  it("InvalidUtf8", () => {
    expectFailure(decodeFrontend(frame("Q", [0xf8, 0x88, 0x80, 0x80, 0x80, 0])), "InvalidUtf8", "Query", "sql")
    expectFailure(
      decodeStartup(packet(i32(196608), cstr("user"), [0xc0, 0xaf, 0], 0)),
      "InvalidUtf8",
      "StartupMessage",
      "value"
    )
    expectFailure(decodeFrontend(frame("f", [0xe2, 0x82, 0])), "InvalidUtf8", "CopyFail", "message")
  })

  it("InvalidValue: a protocol other than 3.x", () => {
    expectFailure(decodeStartup(packet(i32(0x20000), 0)), "InvalidValue", "StartupPacket", "protocolVersion")
    expectFailure(decodeStartup(packet(i32(1234), 0)), "InvalidValue", "StartupPacket", "protocolVersion")
    expect(failure(decodeStartup(packet(i32(0x40000), 0))).detail).toBe("unsupported protocol 4.0")
  })
})

describe("frontend messages: the encoder refuses values the wire cannot carry", () => {
  const refuses = (m: FrontendMessage, field: string) => {
    try {
      encodeFrontend(m, new Writer())
      expect.fail("expected a ProtocolError")
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError)
      expect((e as ProtocolError).reason).toBe("InvalidValue")
      expect((e as ProtocolError).field).toBe(field)
    }
  }
  it("rejects bad startup messages", () => {
    refuses({ _tag: "StartupMessage", protocolVersion: 196608, parameters: [["", "x"]] }, "parameters")
    refuses({ _tag: "StartupMessage", protocolVersion: 196608, parameters: [["a\0", "x"]] }, "parameters")
    refuses({ _tag: "StartupMessage", protocolVersion: 196608, parameters: [["user", "x\0"]] }, "user")
    refuses({ _tag: "StartupMessage", protocolVersion: 0x20000, parameters: [] }, "protocolVersion")
  })
  it("rejects NULs and bad key sizes", () => {
    refuses({ _tag: "Query", sql: "SELECT '\0'" }, "sql")
    refuses({ _tag: "PasswordMessage", password: "a\0b" }, "password")
    refuses({ _tag: "CancelRequest", processId: 1, secretKey: new Uint8Array(3) }, "secretKey")
  })
})

describe("frontend Schemas", () => {
  it("StartupPhaseMessageFromBytes decodes and encodes through the codec", () => {
    const bytes = Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f)
    expect(Schema.decodeSync(StartupPhaseMessageFromBytes)(bytes)).toStrictEqual({ _tag: "SSLRequest" })
    expect(Schema.encodeSync(StartupPhaseMessageFromBytes)({ _tag: "SSLRequest" })).toStrictEqual(bytes)
  })

  it("TypedFrontendMessageFromBytes takes the 'p' context", () => {
    const bytes = frame("p", "abc")
    expect(Schema.decodeSync(TypedFrontendMessageFromBytes("SASLResponse"))(bytes)).toStrictEqual({
      _tag: "SASLResponse",
      data: new TextEncoder().encode("abc")
    })
    expect(Result.isFailure(Schema.decodeUnknownResult(TypedFrontendMessageFromBytes())(bytes))).toBe(true)
  })

  it("the JSON codec round-trips a message with null and bytes", () => {
    const m: FrontendMessage = { _tag: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: null }
    const json = Schema.encodeSync(FrontendMessageJson)(m)
    expect(Schema.decodeSync(FrontendMessageJson)(json)).toStrictEqual(m)
    const c: FrontendMessage = { _tag: "CancelRequest", processId: 5, secretKey: Uint8Array.of(1, 2, 3, 4) }
    expect(Schema.encodeSync(FrontendMessageJson)(c)).toStrictEqual({
      _tag: "CancelRequest",
      processId: 5,
      secretKey: "AQIDBA=="
    })
  })

  it("the Schema accepts what the fast-check arbitraries generate", () => {
    const is = Schema.is(FrontendMessageSchema)
    fc.assert(
      fc.property(fc.oneof(typedFrontendMessage, startupPhaseMessage), (m) => is(m)),
      { numRuns: 300 }
    )
  })
})
