import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as fc from "fast-check"
import * as Lsn from "../src/Lsn.ts"
import {
  type BackendReplicationMessage,
  decodeReplication,
  decodeReplicationFrontend,
  encodeReplicationToBytes,
  type FrontendReplicationMessage,
  unsafeDecodeReplication,
  unsafeDecodeXLogDataHeader,
  type XLogDataHeader
} from "../src/replication/ReplicationMessage.ts"
import {
  BackendReplicationFromBytes,
  BackendReplicationMessageSchema,
  FrontendReplicationFromBytes,
  FrontendReplicationMessageSchema
} from "../src/replication/ReplicationSchema.ts"

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (b) => parseInt(b, 16))
const Backend = Schema.toType(BackendReplicationMessageSchema)
const Frontend = Schema.toType(FrontendReplicationMessageSchema)

describe("replication messages round trip", () => {
  it.prop("backend: decode(encode(m)) equals m", [Backend], ([m]) => {
    const bytes = encodeReplicationToBytes(m)
    const r = decodeReplication(bytes)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) assert.deepStrictEqual(r.success, m)
    assert.deepStrictEqual(Schema.decodeSync(BackendReplicationFromBytes)(bytes), m)
    assert.deepStrictEqual(Schema.encodeSync(BackendReplicationFromBytes)(m), bytes)
  })

  it.prop("frontend: decode(encode(m)) equals m", [Frontend], ([m]) => {
    const bytes = encodeReplicationToBytes(m)
    const r = decodeReplicationFrontend(bytes)
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) assert.deepStrictEqual(r.success, m)
    assert.deepStrictEqual(Schema.decodeSync(FrontendReplicationFromBytes)(bytes), m)
  })

  it.prop("JSON form round trips", [Backend, Frontend], ([b, f]) => {
    const b2 = Schema.decodeUnknownSync(BackendReplicationMessageSchema)(
      JSON.parse(JSON.stringify(Schema.encodeSync(BackendReplicationMessageSchema)(b)))
    )
    const f2 = Schema.decodeUnknownSync(FrontendReplicationMessageSchema)(
      JSON.parse(JSON.stringify(Schema.encodeSync(FrontendReplicationMessageSchema)(f)))
    )
    assert.deepStrictEqual(b2, b)
    assert.deepStrictEqual(f2, f)
  })
})

describe("the XLogData header decoder of the hot path", () => {
  const outcome = (f: () => unknown): unknown => {
    try {
      return f()
    } catch (e) {
      return { error: String(e) }
    }
  }
  const header: XLogDataHeader = { walStart: Lsn.zero, walEnd: Lsn.zero, dataStart: -1 }

  it("reads what unsafeDecodeReplication reads, or fails the same way, on any bytes inside a larger buffer", () => {
    const payload = fc.oneof(
      fc
        .record({
          walStart: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          walEnd: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
          serverTime: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
          data: fc.uint8Array({ maxLength: 12 })
        })
        .map(({ walStart, walEnd, serverTime, data }) =>
          encodeReplicationToBytes({
            _tag: "XLogData",
            walStart: Lsn.unsafeMake(walStart),
            walEnd: Lsn.unsafeMake(walEnd),
            serverTime,
            data
          })
        ),
      fc
        .record({ walEnd: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), replyRequested: fc.boolean() })
        .map(({ walEnd, replyRequested }) =>
          encodeReplicationToBytes({
            _tag: "PrimaryKeepalive",
            walEnd: Lsn.unsafeMake(walEnd),
            serverTime: 0n,
            replyRequested
          })
        ),
      fc.uint8Array({ maxLength: 40 }),
      fc.uint8Array({ maxLength: 30 }).map((b) => Uint8Array.of(0x77, ...b))
    )
    fc.assert(
      fc.property(payload, fc.nat({ max: 5 }), fc.nat({ max: 5 }), (payload, before, after) => {
        const bytes = new Uint8Array(before + payload.length + after).fill(0x77)
        bytes.set(payload, before)
        const end = before + payload.length
        const full = outcome(() => {
          const m = unsafeDecodeReplication(bytes, before, end)
          if (m._tag !== "XLogData") return { notXLogData: true }
          return { walStart: m.walStart, walEnd: m.walEnd, data: Array.from(m.data) }
        })
        const fast = outcome(() => {
          const h = unsafeDecodeXLogDataHeader(bytes, before, end, header)
          return { walStart: h.walStart, walEnd: h.walEnd, data: Array.from(bytes.subarray(h.dataStart, end)) }
        })
        if (payload.length > 0 && payload[0] !== 0x77) {
          // Not an XLogData (a keepalive, whole or not, or garbage): refused by its type byte.
          const type = payload[0]!.toString(16).padStart(2, "0")
          assert.deepStrictEqual(fast, {
            error: `ProtocolError: UnknownType in ReplicationMessage.type at byte 1: 0x${type} is not XLogData 'w'`
          })
        } else assert.deepStrictEqual(fast, full)
      }),
      { numRuns: 2000 }
    )
  })
})

describe("replication message layouts (protocol-replication page)", () => {
  it("XLogData: start, end, time, then the payload as a view", () => {
    const bytes = hex(`77 0000000100000010 0000000100000020 0000000000000003 424344`)
    const m = unsafeDecodeReplication(bytes)
    assert.strictEqual(m._tag, "XLogData")
    if (m._tag !== "XLogData") return
    assert.strictEqual(Lsn.format(m.walStart), "1/10")
    assert.strictEqual(Lsn.format(m.walEnd), "1/20")
    assert.strictEqual(m.serverTime, 3n)
    assert.deepStrictEqual(m.data, new Uint8Array([0x42, 0x43, 0x44]))
    assert.strictEqual(m.data.buffer, bytes.buffer, "the payload is a view, the pgoutput decoder copies")
    // The Schema edge keeps values, so it copies.
    const viaSchema = Schema.decodeSync(BackendReplicationFromBytes)(bytes)
    assert.notStrictEqual(viaSchema._tag === "XLogData" ? viaSchema.data.buffer : undefined, bytes.buffer)
  })

  it("XLogData inside a larger buffer", () => {
    const bytes = hex(`FFFF 77 0000000000000001 0000000000000002 0000000000000003 AA BB`)
    const m = unsafeDecodeReplication(bytes, 2, bytes.length - 1)
    assert.deepStrictEqual(m._tag === "XLogData" ? m.data : undefined, new Uint8Array([0xaa]))
  })

  it("primary keepalive and its reply-requested flag", () => {
    const m: BackendReplicationMessage = unsafeDecodeReplication(hex(`6B 00000002000000FF 0000000000000009 01`))
    assert.deepStrictEqual(m, {
      _tag: "PrimaryKeepalive",
      walEnd: Lsn.unsafeParse("2/FF"),
      serverTime: 9n,
      replyRequested: true
    })
  })

  it("standby status update: written, flushed, applied, time, reply flag", () => {
    const update: FrontendReplicationMessage = {
      _tag: "StandbyStatusUpdate",
      written: Lsn.unsafeParse("0/30"),
      flushed: Lsn.unsafeParse("0/20"),
      applied: Lsn.unsafeParse("0/10"),
      clientTime: -1n,
      replyRequested: false
    }
    assert.deepStrictEqual(
      encodeReplicationToBytes(update),
      hex(`72 0000000000000030 0000000000000020 0000000000000010 FFFFFFFFFFFFFFFF 00`)
    )
  })

  it("hot standby feedback", () => {
    const bytes = hex(`68 0000000000000001 00000002 00000003 00000004 00000005`)
    const r = decodeReplicationFrontend(bytes)
    assert.deepStrictEqual(Result.getOrThrow(r), {
      _tag: "HotStandbyFeedback",
      clientTime: 1n,
      xmin: 2,
      xminEpoch: 3,
      catalogXmin: 4,
      catalogXminEpoch: 5
    })
  })
})

describe("replication message errors", () => {
  const fails = (r: Result.Result<unknown, { readonly reason: string; readonly field: string }>) => {
    if (Result.isSuccess(r)) throw new Error("expected a failure")
    return r.failure
  }

  it("unknown type, in each direction", () => {
    assert.strictEqual(fails(decodeReplication(hex(`72`))).reason, "UnknownType")
    assert.strictEqual(fails(decodeReplicationFrontend(hex(`77`))).reason, "UnknownType")
    assert.strictEqual(fails(decodeReplication(new Uint8Array(0))).reason, "Truncated")
  })

  it("truncated header fields name the field", () => {
    const e = fails(decodeReplication(hex(`77 0000000000000001 00000000`)))
    assert.strictEqual(e.reason, "Truncated")
    assert.strictEqual(e.field, "walEnd")
  })

  it("the Schema edges reject what the codec rejects", () => {
    assert.throws(() => Schema.decodeSync(BackendReplicationFromBytes)(hex(`72`)), /UnknownType/)
    assert.throws(() => Schema.decodeSync(FrontendReplicationFromBytes)(hex(`68 00`)), /Truncated/)
  })

  it("trailing bytes after a keepalive, and a reply flag that is not 0 or 1", () => {
    assert.strictEqual(
      fails(decodeReplication(hex(`6B 0000000000000001 0000000000000002 00 00`))).reason,
      "TrailingBytes"
    )
    const e = fails(decodeReplication(hex(`6B 0000000000000001 0000000000000002 02`)))
    assert.strictEqual(e.reason, "InvalidValue")
    assert.strictEqual(e.field, "replyRequested")
  })
})
