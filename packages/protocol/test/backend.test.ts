import { it as eit } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type { BackendMessage } from "../src/backend/BackendMessage.ts"
import {
  decodeBackend,
  decodeDataRowRaw,
  unsafeDecodeBackend,
  unsafeDecodeBackendBody
} from "../src/backend/decodeBackend.ts"
import { encodeBackend, encodeBackendToBytes, encodeDataRowRaw } from "../src/backend/encodeBackend.ts"
import { ProtocolError, type ProtocolErrorReason } from "../src/ProtocolError.ts"
import {
  BackendMessageFromBytes,
  BackendMessageJson,
  BackendMessage as BackendMessageSchema
} from "../src/schema/wireBackend.ts"
import { Writer } from "../src/Writer.ts"
import { backendMessage } from "./arbitraries/wireBackend.ts"
import { concat, cstr, frame, i16, i32 } from "./arbitraries/wireBytes.ts"

const ok = (bytes: Uint8Array): BackendMessage => {
  const r = decodeBackend(bytes)
  if (Result.isFailure(r)) throw new Error(`expected success, got ${r.failure.message}`)
  return r.success
}

const failure = (bytes: Uint8Array): ProtocolError => {
  const r = decodeBackend(bytes)
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)}`)
  return r.failure
}

const expectFailure = (bytes: Uint8Array, reason: ProtocolErrorReason, messageName: string, field: string) => {
  const e = failure(bytes)
  expect(e).toBeInstanceOf(ProtocolError)
  expect({ reason: e.reason, messageName: e.messageName, field: e.field }).toEqual({ reason, messageName, field })
}

describe("backend messages: round trip", () => {
  it("decode(encode(m)) equals m for every message type (fast-check, full Unicode)", () => {
    fc.assert(
      fc.property(backendMessage, (m) => {
        expect(ok(encodeBackendToBytes(m))).toStrictEqual(m)
      }),
      { numRuns: 1500 }
    )
  })

  // toEqual: the Schema arbitrary sometimes builds null-prototype objects, the decoder plain ones.
  eit.prop(
    "decode(encode(m)) equals m for values generated from the Schema",
    [BackendMessageSchema],
    ([m]) => {
      expect(ok(encodeBackendToBytes(m))).toEqual(m)
    },
    { arbitrary: { runs: 500 } }
  )

  it("the body decoder agrees with the frame decoder", () => {
    fc.assert(
      fc.property(backendMessage, (m) => {
        const bytes = encodeBackendToBytes(m)
        expect(unsafeDecodeBackendBody(bytes[0]!, bytes, 5, bytes.length)).toStrictEqual(unsafeDecodeBackend(bytes))
      }),
      { numRuns: 300 }
    )
  })

  it("decodes a frame in the middle of a larger buffer", () => {
    const w = new Writer()
    encodeBackend({ _tag: "ParameterStatus", name: "a", value: "b" }, w)
    const at = w.pos
    encodeBackend({ _tag: "CommandComplete", commandTag: "SELECT 1" }, w)
    const end = w.pos
    encodeBackend({ _tag: "CopyDone" }, w)
    const buf = w.toBytes()
    expect(Result.getOrThrow(decodeBackend(buf, at, end))).toStrictEqual({
      _tag: "CommandComplete",
      commandTag: "SELECT 1"
    })
  })
})

describe("backend messages: golden bytes from the documented layouts", () => {
  it.each<[string, Uint8Array, BackendMessage]>([
    ["AuthenticationOk", frame("R", i32(0)), { _tag: "AuthenticationOk" }],
    ["AuthenticationKerberosV5", frame("R", i32(2)), { _tag: "AuthenticationKerberosV5" }],
    ["AuthenticationCleartextPassword", frame("R", i32(3)), { _tag: "AuthenticationCleartextPassword" }],
    [
      "AuthenticationMD5Password",
      frame("R", i32(5), [1, 2, 3, 4]),
      { _tag: "AuthenticationMD5Password", salt: Uint8Array.of(1, 2, 3, 4) }
    ],
    ["AuthenticationGSS", frame("R", i32(7)), { _tag: "AuthenticationGSS" }],
    [
      "AuthenticationGSSContinue",
      frame("R", i32(8), [9, 8, 7]),
      { _tag: "AuthenticationGSSContinue", data: Uint8Array.of(9, 8, 7) }
    ],
    ["AuthenticationSSPI", frame("R", i32(9)), { _tag: "AuthenticationSSPI" }],
    [
      "AuthenticationSASL",
      frame("R", i32(10), cstr("SCRAM-SHA-256-PLUS"), cstr("SCRAM-SHA-256"), 0),
      { _tag: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"] }
    ],
    [
      "AuthenticationSASLContinue",
      frame("R", i32(11), "r=abc,s=xyz,i=4096"),
      { _tag: "AuthenticationSASLContinue", data: new TextEncoder().encode("r=abc,s=xyz,i=4096") }
    ],
    [
      "AuthenticationSASLFinal",
      frame("R", i32(12), "v=sig"),
      { _tag: "AuthenticationSASLFinal", data: new TextEncoder().encode("v=sig") }
    ],
    [
      "ParameterStatus",
      frame("S", cstr("server_version"), cstr("18.1")),
      { _tag: "ParameterStatus", name: "server_version", value: "18.1" }
    ],
    [
      "BackendKeyData (3.0)",
      frame("K", i32(4242), [0xde, 0xad, 0xbe, 0xef]),
      { _tag: "BackendKeyData", processId: 4242, secretKey: Uint8Array.of(0xde, 0xad, 0xbe, 0xef) }
    ],
    [
      "BackendKeyData (3.2, 32-byte key)",
      frame("K", i32(7), new Uint8Array(32).fill(5)),
      { _tag: "BackendKeyData", processId: 7, secretKey: new Uint8Array(32).fill(5) }
    ],
    ["ReadyForQuery", frame("Z", "T"), { _tag: "ReadyForQuery", status: "T" }],
    [
      "RowDescription",
      frame("T", i16(1), cstr("slot_name"), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(0)),
      {
        _tag: "RowDescription",
        fields: [
          {
            name: "slot_name",
            tableOid: 0,
            columnAttributeNumber: 0,
            dataTypeOid: 25,
            dataTypeSize: -1,
            typeModifier: -1,
            format: 0
          }
        ]
      }
    ],
    [
      "DataRow with NULL, empty and non-ASCII",
      frame("D", i16(3), i32(-1), i32(0), i32(7), "żółw"),
      { _tag: "DataRow", values: [null, "", "żółw"] }
    ],
    ["CommandComplete", frame("C", cstr("INSERT 0 1")), { _tag: "CommandComplete", commandTag: "INSERT 0 1" }],
    ["EmptyQueryResponse", frame("I"), { _tag: "EmptyQueryResponse" }],
    [
      "NegotiateProtocolVersion",
      frame("v", i32(0), i32(1), cstr("_pq_.foo")),
      { _tag: "NegotiateProtocolVersion", newestMinorVersion: 0, unrecognizedOptions: ["_pq_.foo"] }
    ],
    ["CopyBothResponse", frame("W", 0, i16(0)), { _tag: "CopyBothResponse", format: 0, columnFormats: [] }],
    [
      "CopyOutResponse",
      frame("H", 1, i16(2), i16(1), i16(1)),
      { _tag: "CopyOutResponse", format: 1, columnFormats: [1, 1] }
    ],
    ["CopyInResponse", frame("G", 0, i16(1), i16(0)), { _tag: "CopyInResponse", format: 0, columnFormats: [0] }],
    ["CopyData", frame("d", [0x77, 1, 2]), { _tag: "CopyData", data: Uint8Array.of(0x77, 1, 2) }],
    ["CopyDone", frame("c"), { _tag: "CopyDone" }],
    [
      "NotificationResponse",
      frame("A", i32(99), cstr("chan"), cstr("hello")),
      { _tag: "NotificationResponse", processId: 99, channel: "chan", payload: "hello" }
    ]
  ])("%s", (_name, bytes, message) => {
    expect(ok(bytes)).toStrictEqual(message)
    expect(encodeBackendToBytes(message)).toStrictEqual(bytes)
  })

  it("ErrorResponse keeps every documented field code and unknown ones", () => {
    const codes = "SVCMDHPpqWstcdnFLR"
    const bytes = frame("E", ...[...codes].map((c) => concat(c, cstr(`v${c}`))), concat("Z", cstr("future")), 0)
    expect(ok(bytes)).toStrictEqual({
      _tag: "ErrorResponse",
      severity: "vS",
      severityNonLocalized: "vV",
      code: "vC",
      message: "vM",
      detail: "vD",
      hint: "vH",
      position: "vP",
      internalPosition: "vp",
      internalQuery: "vq",
      where: "vW",
      schemaName: "vs",
      tableName: "vt",
      columnName: "vc",
      dataTypeName: "vd",
      constraintName: "vn",
      file: "vF",
      line: "vL",
      routine: "vR",
      unknown: [{ code: "Z", value: "future" }]
    })
    expect(encodeBackendToBytes(ok(bytes))).toStrictEqual(bytes)
  })

  it("NoticeResponse with only the always-present fields", () => {
    const bytes = frame("N", "S", cstr("NOTICE"), "C", cstr("00000"), "M", cstr("hi"), 0)
    expect(ok(bytes)).toStrictEqual({ _tag: "NoticeResponse", severity: "NOTICE", code: "00000", message: "hi" })
  })

  it("CopyData is a view of the input, not a copy", () => {
    const bytes = frame("d", [1, 2, 3])
    const m = ok(bytes)
    if (m._tag !== "CopyData") throw new Error(m._tag)
    expect(m.data.buffer).toBe(bytes.buffer)
    expect(m.data.byteOffset).toBe(5)
  })

  it("other byte fields are copies", () => {
    const bytes = frame("R", i32(5), [1, 2, 3, 4])
    const m = ok(bytes)
    if (m._tag !== "AuthenticationMD5Password") throw new Error(m._tag)
    bytes[5 + 4] = 0xff
    expect(m.salt).toStrictEqual(Uint8Array.of(1, 2, 3, 4))
  })
})

describe("byte fields from a Node Buffer (what sockets deliver)", () => {
  it("are plain Uint8Array copies, not views of the Buffer", () => {
    const input = Buffer.from(
      concat(frame("R", i32(5), [1, 2, 3, 4]), frame("K", i32(1), [5, 6, 7, 8]), frame("D", i16(1), i32(2), [9, 9]))
    )
    const salt = Result.getOrThrow(decodeBackend(input, 0, 13))
    const key = Result.getOrThrow(decodeBackend(input, 13, 26))
    const [raw] = Result.getOrThrow(decodeDataRowRaw(input, 26))
    input.fill(0)
    expect(salt).toStrictEqual({ _tag: "AuthenticationMD5Password", salt: Uint8Array.of(1, 2, 3, 4) })
    expect(key).toStrictEqual({ _tag: "BackendKeyData", processId: 1, secretKey: Uint8Array.of(5, 6, 7, 8) })
    expect(raw).toStrictEqual(Uint8Array.of(9, 9))
    if (salt._tag === "AuthenticationMD5Password") expect(Object.getPrototypeOf(salt.salt)).toBe(Uint8Array.prototype)
  })
})

describe("DataRow as raw bytes", () => {
  it("decodes binary columns as copies, NULL as null", () => {
    const bytes = frame("D", i16(3), i32(2), [0xff, 0xfe], i32(-1), i32(0))
    expect(Result.getOrThrow(decodeDataRowRaw(bytes))).toStrictEqual([
      Uint8Array.of(0xff, 0xfe),
      null,
      new Uint8Array(0)
    ])
    // The text decoder rejects the same bytes: they are not UTF-8.
    expectFailure(bytes, "InvalidUtf8", "DataRow", "columnValue")
  })

  it("round-trips through encodeDataRowRaw", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }), { maxLength: 6 }), (values) => {
        const bytes = encodeDataRowRaw(values, new Writer()).toBytes()
        expect(Result.getOrThrow(decodeDataRowRaw(bytes))).toStrictEqual(values)
      })
    )
  })

  it("rejects another message type", () => {
    const r = decodeDataRowRaw(frame("C", cstr("x")))
    expect(Result.isFailure(r) && r.failure.reason).toBe("UnknownType")
  })
})

describe("backend messages: every error reason", () => {
  it("Truncated: the frame is shorter than its length says", () => {
    const bytes = frame("S", cstr("a"), cstr("b"))
    expectFailure(bytes.subarray(0, bytes.length - 1), "Truncated", "BackendMessage", "length")
    expectFailure(bytes.subarray(0, 3), "Truncated", "BackendMessage", "length")
    expectFailure(new Uint8Array(0), "Truncated", "BackendMessage", "type")
  })

  it("Truncated: a field runs past the body", () => {
    expectFailure(frame("S", cstr("a"), "b"), "Truncated", "ParameterStatus", "value")
    expectFailure(frame("R", i32(5), [1, 2, 3]), "Truncated", "AuthenticationMD5Password", "salt")
    expectFailure(frame("D", i16(1), i32(10), "abc"), "Truncated", "DataRow", "columnValue")
    expectFailure(frame("R", i32(10), cstr("SCRAM-SHA-256")), "Truncated", "AuthenticationSASL", "mechanism")
    expectFailure(frame("K", i32(1).slice(0, 2)), "Truncated", "BackendKeyData", "processId")
    expectFailure(frame("Z"), "Truncated", "ReadyForQuery", "status")
    expectFailure(frame("E", "S", cstr("ERROR")), "Truncated", "ErrorResponse", "fieldType")
  })

  it("TrailingBytes: the frame is longer than its length says, or the body has bytes after the last field", () => {
    expectFailure(concat(frame("I"), 0), "TrailingBytes", "BackendMessage", "length")
    expectFailure(frame("I", 0), "TrailingBytes", "EmptyQueryResponse", "(end)")
    expectFailure(frame("R", i32(0), 0), "TrailingBytes", "AuthenticationOk", "(end)")
    expectFailure(frame("R", i32(5), [1, 2, 3, 4, 5]), "TrailingBytes", "AuthenticationMD5Password", "(end)")
    expectFailure(frame("C", cstr("x"), 1), "TrailingBytes", "CommandComplete", "(end)")
    expectFailure(frame("c", 1), "TrailingBytes", "CopyDone", "(end)")
    expectFailure(frame("N", "M", cstr("x"), 0, 0), "TrailingBytes", "NoticeResponse", "(end)")
  })

  it("UnknownType: unknown type byte or authentication code", () => {
    expectFailure(frame("X"), "UnknownType", "BackendMessage", "type")
    expectFailure(frame("1"), "UnknownType", "BackendMessage", "type") // ParseComplete: not supported
    expectFailure(frame("R", i32(6)), "UnknownType", "Authentication", "code")
    expectFailure(frame("R", i32(-1)), "UnknownType", "Authentication", "code")
  })

  it("LengthOutOfRange: frame length below 4, bad counts and column lengths, bad key sizes", () => {
    expectFailure(concat("Z", i32(3)), "LengthOutOfRange", "BackendMessage", "length")
    expectFailure(concat("Z", i32(-5)), "LengthOutOfRange", "BackendMessage", "length")
    expectFailure(frame("D", i16(1), i32(-2)), "LengthOutOfRange", "DataRow", "columnLength")
    expectFailure(frame("D", i16(-1)), "LengthOutOfRange", "DataRow", "columnCount")
    expectFailure(frame("T", i16(-3)), "LengthOutOfRange", "RowDescription", "fieldCount")
    expectFailure(frame("G", 0, i16(-1)), "LengthOutOfRange", "CopyInResponse", "columnCount")
    expectFailure(frame("v", i32(0), i32(-1)), "LengthOutOfRange", "NegotiateProtocolVersion", "optionCount")
    expectFailure(frame("v", i32(0), i32(1000)), "LengthOutOfRange", "NegotiateProtocolVersion", "optionCount")
    expectFailure(frame("K", i32(1), [1, 2, 3]), "LengthOutOfRange", "BackendKeyData", "secretKey")
    expectFailure(frame("K", i32(1), new Uint8Array(257)), "LengthOutOfRange", "BackendKeyData", "secretKey")
  })

  it("InvalidUtf8: strings are strict UTF-8", () => {
    expectFailure(frame("S", [0xc3, 0x28, 0], cstr("v")), "InvalidUtf8", "ParameterStatus", "name")
    expectFailure(frame("C", [0xff, 0]), "InvalidUtf8", "CommandComplete", "commandTag")
    expectFailure(frame("E", "M", [0xed, 0xa0, 0x80, 0], 0), "InvalidUtf8", "ErrorResponse", "message")
    expectFailure(frame("D", i16(1), i32(1), [0x80]), "InvalidUtf8", "DataRow", "columnValue")
  })

  it("InvalidValue: values the protocol does not define", () => {
    expectFailure(frame("Z", "X"), "InvalidValue", "ReadyForQuery", "status")
    expectFailure(frame("W", 2, i16(0)), "InvalidValue", "CopyBothResponse", "format")
    expectFailure(frame("H", 0, i16(1), i16(7)), "InvalidValue", "CopyOutResponse", "columnFormat")
    expectFailure(
      frame("T", i16(1), cstr("a"), i32(0), i16(0), i32(25), i16(-1), i32(-1), i16(2)),
      "InvalidValue",
      "RowDescription",
      "format"
    )
  })

  it("errors report the offset of the field within the body", () => {
    const e = failure(frame("D", i16(2), i32(-1), i32(-7)))
    expect(e.offset).toBe(6)
  })
})

describe("backend messages: the encoder refuses values the wire cannot carry", () => {
  const refuses = (m: BackendMessage, field: string) => {
    try {
      encodeBackendToBytes(m)
      expect.fail("expected a ProtocolError")
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError)
      expect((e as ProtocolError).reason).toBe("InvalidValue")
      expect((e as ProtocolError).field).toBe(field)
    }
  }
  it("NUL inside a NUL-terminated string", () => {
    refuses({ _tag: "ParameterStatus", name: "a\0b", value: "" }, "name")
    refuses({ _tag: "ErrorResponse", message: "x\0" }, "message")
  })
  it("wrong sizes and ranges", () => {
    refuses({ _tag: "AuthenticationMD5Password", salt: new Uint8Array(3) }, "salt")
    refuses({ _tag: "BackendKeyData", processId: 1, secretKey: new Uint8Array(2) }, "secretKey")
    refuses({ _tag: "BackendKeyData", processId: 2 ** 31, secretKey: new Uint8Array(4) }, "processId")
    refuses({ _tag: "AuthenticationSASL", mechanisms: [""] }, "mechanism")
  })
  it("an unknown notice field whose code is documented or NUL", () => {
    refuses({ _tag: "NoticeResponse", unknown: [{ code: "M", value: "x" }] }, "unknown")
    refuses({ _tag: "NoticeResponse", unknown: [{ code: "\0", value: "x" }] }, "unknown")
  })
})

describe("backend Schemas", () => {
  it("BackendMessageFromBytes decodes and encodes through the codec", () => {
    const bytes = frame("Z", "I")
    expect(Schema.decodeSync(BackendMessageFromBytes)(bytes)).toStrictEqual({ _tag: "ReadyForQuery", status: "I" })
    expect(Schema.encodeSync(BackendMessageFromBytes)({ _tag: "ReadyForQuery", status: "E" })).toStrictEqual(
      frame("Z", "E")
    )
  })

  it("BackendMessageFromBytes reports the ProtocolError's message as the issue", () => {
    const r = Schema.decodeUnknownResult(BackendMessageFromBytes)(frame("Z", "Q"))
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) expect(r.failure.message).toContain("InvalidValue in ReadyForQuery.status")
  })

  it("the JSON codec writes bytes as base64 strings and reads them back", () => {
    const m: BackendMessage = { _tag: "CopyData", data: Uint8Array.of(1, 2, 3) }
    const json = Schema.encodeSync(BackendMessageJson)(m)
    expect(json).toStrictEqual({ _tag: "CopyData", data: "AQID" })
    expect(Schema.decodeSync(BackendMessageJson)(json)).toStrictEqual(m)
  })

  it("the Schema accepts what the fast-check arbitrary generates", () => {
    const is = Schema.is(BackendMessageSchema)
    fc.assert(
      fc.property(backendMessage, (m) => is(m)),
      { numRuns: 300 }
    )
  })
})
