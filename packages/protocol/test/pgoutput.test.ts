import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Result, Schema } from "effect"
import * as Lsn from "../src/Lsn.ts"
import {
  decodePgoutput,
  encodePgoutput,
  encodePgoutputToBytes,
  unsafeDecodePgoutput
} from "../src/pgoutput/PgoutputCodec.ts"
import { minProtoVersion, type PgoutputMessage, type PgoutputOptions } from "../src/pgoutput/PgoutputMessage.ts"
import { PgoutputFromBytes, PgoutputMessageSchema } from "../src/pgoutput/PgoutputSchema.ts"
import { UnchangedToast } from "../src/pgoutput/TupleData.ts"
import { ProtocolError } from "../src/ProtocolError.ts"
import { Writer } from "../src/Writer.ts"
import { pgoutputCase } from "./arbitraries/pgoutput.ts"

const v1: PgoutputOptions = { protoVersion: 1, inStream: false }
const v4: PgoutputOptions = { protoVersion: 4, inStream: false, streaming: "on" }
const v4Stream: PgoutputOptions = { protoVersion: 4, inStream: true, streaming: "on" }
const v4Parallel: PgoutputOptions = { protoVersion: 4, inStream: false, streaming: "parallel" }

const hex = (s: string): Uint8Array => Uint8Array.from(s.replace(/\s+/g, "").match(/../g) ?? [], (b) => parseInt(b, 16))
const ascii = (s: string): string =>
  Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("")

const decodeOk = (bytes: Uint8Array, options: PgoutputOptions): PgoutputMessage => {
  const r = decodePgoutput(bytes, options)
  if (Result.isFailure(r)) throw new Error(`unexpected failure: ${r.failure.message}`)
  return r.success
}

const decodeErr = (bytes: Uint8Array, options: PgoutputOptions): ProtocolError => {
  const r = decodePgoutput(bytes, options)
  if (Result.isSuccess(r)) throw new Error(`unexpected success: ${JSON.stringify(r.success, (_, v) => String(v))}`)
  return r.failure
}

describe("pgoutput round trip", () => {
  it.effect("the generated cases cover every message type, protocol version and stream context", () =>
    Effect.gen(function* () {
      const cases = yield* Arbitrary.sampleEffect(pgoutputCase, { count: 3000, seed: 42 })
      const seen = new Set(cases.map((c) => c.message._tag))
      assert.deepStrictEqual([...seen].sort(), Object.keys(minProtoVersion).sort())
      const contexts = new Set(cases.map((c) => `${c.options.protoVersion}/${c.options.inStream}`))
      assert.deepStrictEqual([...contexts].sort(), [
        "1/false",
        "2/false",
        "2/true",
        "3/false",
        "3/true",
        "4/false",
        "4/true"
      ])
      assert.isTrue(cases.some((c) => c.message._tag === "StreamAbort" && c.message.abortLsn !== undefined))
      assert.isTrue(cases.some((c) => c.message._tag === "Update" && c.message.old !== undefined))
      assert.isTrue(cases.some((c) => c.message._tag === "Update" && c.message.key !== undefined))
    })
  )

  it.prop(
    "decode(encode(m)) equals m for every message, protocol version and stream context",
    [pgoutputCase],
    ([{ message, options }]) => {
      const bytes = encodePgoutputToBytes(message, options)
      assert.deepStrictEqual(unsafeDecodePgoutput(bytes, options), message)
      // The same bytes decoded in the middle of a larger buffer (the XLogData case) give the same message.
      const padded = new Uint8Array(bytes.length + 7)
      padded.set(bytes, 3)
      assert.deepStrictEqual(unsafeDecodePgoutput(padded, options, 3, 3 + bytes.length), message)
    },
    { arbitrary: { runs: 2000 } }
  )

  it.prop("JSON form round trips through the Schema", [pgoutputCase], ([{ message }]) => {
    const json = JSON.parse(JSON.stringify(Schema.encodeSync(PgoutputMessageSchema)(message)))
    assert.deepStrictEqual(Schema.decodeUnknownSync(PgoutputMessageSchema)(json), message)
  })

  it.prop("PgoutputFromBytes is the codec as a Schema", [pgoutputCase], ([{ message, options }]) => {
    const schema = PgoutputFromBytes(options)
    const bytes = Schema.encodeSync(schema)(message)
    assert.deepStrictEqual(bytes, encodePgoutputToBytes(message, options))
    assert.deepStrictEqual(Schema.decodeSync(schema)(bytes), message)
  })
})

describe("pgoutput layouts (from the protocol-logicalrep-message-formats page)", () => {
  it("Begin: final LSN, commit time, xid", () => {
    const m = decodeOk(hex(`42 00000001 0000A000 0002B3C4D5E6F708 000004D2`), v1)
    assert.deepStrictEqual(m, {
      _tag: "Begin",
      finalLsn: Lsn.unsafeParse("1/A000"),
      commitTime: 0x0002b3c4d5e6f708n,
      xid: 1234
    })
  })

  it("Insert with every column kind; text is UTF-8 and binary a copy", () => {
    const w = new Writer()
    w.u8(0x49)
      .u32(0x4000)
      .u8(0x4e)
      .i16(4)
      .u8(0x6e)
      .u8(0x75)
      .u8(0x74)
      .i32(4)
      .string("h€")
      .u8(0x62)
      .i32(2)
      .u8(0xde)
      .u8(0xad)
    const good = w.toBytes()
    const m = decodeOk(good, v1)
    assert.strictEqual(m._tag, "Insert")
    if (m._tag !== "Insert") return
    assert.strictEqual(m.xid, undefined)
    assert.strictEqual(m.relationId, 0x4000)
    assert.strictEqual(m.newTuple[0], null)
    assert.strictEqual(m.newTuple[1], UnchangedToast)
    assert.strictEqual(m.newTuple[2], "h€")
    const binary = m.newTuple[3]
    assert.instanceOf(binary, Uint8Array)
    assert.deepStrictEqual(binary, new Uint8Array([0xde, 0xad]))
    good[good.length - 1] = 0
    assert.deepStrictEqual(binary, new Uint8Array([0xde, 0xad]), "binary values must not be views of the input")
  })

  it("xid comes first inside a stream, and only there", () => {
    const outside = hex(`49 00000010 4E 0001 6E`)
    const inside = hex(`49 0000002A 00000010 4E 0001 6E`)
    assert.deepStrictEqual(decodeOk(outside, v4), { _tag: "Insert", xid: undefined, relationId: 16, newTuple: [null] })
    assert.deepStrictEqual(decodeOk(inside, v4Stream), { _tag: "Insert", xid: 42, relationId: 16, newTuple: [null] })
    // Read without the stream context, the xid is taken for the relation id and the layout falls apart.
    assert.isTrue(Result.isFailure(decodePgoutput(inside, v4)))
  })

  it("Relation: replica identity and columns with flags, type OID and modifier", () => {
    const w = new Writer()
    w.u8(0x52).u32(16384).cstring("public").cstring("t").u8(0x66).i16(2)
    w.u8(1).cstring("id").u32(23).i32(-1)
    w.u8(0).cstring("name").u32(1043).i32(54)
    assert.deepStrictEqual(decodeOk(w.toBytes(), v1), {
      _tag: "Relation",
      xid: undefined,
      relationId: 16384,
      namespace: "public",
      relationName: "t",
      replicaIdentity: "f",
      columns: [
        { flags: 1, name: "id", typeOid: 23, typeModifier: -1 },
        { flags: 0, name: "name", typeOid: 1043, typeModifier: 54 }
      ]
    })
  })

  it("Update with 'O' old tuple and Delete with 'K' key", () => {
    const u = decodeOk(hex(`55 00000010 4F 0001 74 00000001 31 4E 0001 74 00000001 32`), v1)
    assert.deepStrictEqual(u, {
      _tag: "Update",
      xid: undefined,
      relationId: 16,
      key: undefined,
      old: ["1"],
      newTuple: ["2"]
    })
    const d = decodeOk(hex(`44 00000010 4B 0001 74 00000001 31`), v1)
    assert.deepStrictEqual(d, { _tag: "Delete", xid: undefined, relationId: 16, key: ["1"], old: undefined })
  })

  it("Truncate: option bits and several relations", () => {
    const m = decodeOk(hex(`54 00000002 03 00000010 00000011`), v1)
    assert.deepStrictEqual(m, {
      _tag: "Truncate",
      xid: undefined,
      cascade: true,
      restartIdentity: true,
      relationIds: [16, 17]
    })
    assert.strictEqual(decodeErr(hex(`54 00000001 04 00000010`), v1).field, "options")
  })

  it("Message: xid only in stream, flags, LSN, prefix, content copied", () => {
    const bytes = hex(`4D 00000007 01 0000000100000002 ${ascii("pfx")}00 00000002 CAFE`)
    const m = decodeOk(bytes, v4Stream)
    assert.deepStrictEqual(m, {
      _tag: "Message",
      xid: 7,
      transactional: true,
      lsn: Lsn.unsafeParse("1/2"),
      prefix: "pfx",
      content: new Uint8Array([0xca, 0xfe])
    })
  })

  it("StreamAbort carries abort LSN and time only under protocol 4 with streaming=parallel", () => {
    const short = hex(`41 00000005 00000006`)
    const long = hex(`41 00000005 00000006 0000000000000100 0000000000000200`)
    assert.deepStrictEqual(decodeOk(short, v4), {
      _tag: "StreamAbort",
      xid: 5,
      subXid: 6,
      abortLsn: undefined,
      abortTime: undefined
    })
    assert.deepStrictEqual(decodeOk(long, v4Parallel), {
      _tag: "StreamAbort",
      xid: 5,
      subXid: 6,
      abortLsn: Lsn.unsafeMake(0x100n),
      abortTime: 0x200n
    })
    assert.strictEqual(decodeErr(long, v4).reason, "TrailingBytes")
    assert.strictEqual(decodeErr(short, v4Parallel).reason, "Truncated")
    // Protocol 3 never sends them, whatever the streaming option says.
    assert.strictEqual(decodeOk(short, { protoVersion: 3, inStream: false, streaming: "parallel" })._tag, "StreamAbort")
  })

  it("RollbackPrepared: both end LSNs, both times, xid, gid", () => {
    const bytes = hex(
      `72 00 0000000000000010 0000000000000020 0000000000000030 0000000000000040 00000009 ${ascii("g1")}00`
    )
    assert.deepStrictEqual(decodeOk(bytes, { protoVersion: 3, inStream: false }), {
      _tag: "RollbackPrepared",
      flags: 0,
      prepareEndLsn: Lsn.unsafeMake(0x10n),
      rollbackEndLsn: Lsn.unsafeMake(0x20n),
      prepareTime: 0x30n,
      rollbackTime: 0x40n,
      xid: 9,
      gid: "g1"
    })
  })
})

describe("pgoutput errors", () => {
  it("unknown type byte", () => {
    const e = decodeErr(hex(`7A 00`), v4)
    assert.strictEqual(e.reason, "UnknownType")
    assert.strictEqual(e.field, "type")
  })

  it("messages the negotiated protocol version does not have", () => {
    assert.strictEqual(decodeErr(hex(`53 00000001 01`), v1).reason, "InvalidValue")
    assert.strictEqual(decodeErr(hex(`45`), v1).reason, "InvalidValue")
    const prepare = encodePgoutputToBytes(
      {
        _tag: "Prepare",
        flags: 0,
        prepareLsn: Lsn.zero,
        endLsn: Lsn.zero,
        prepareTime: 0n,
        xid: 1,
        gid: "g"
      },
      { protoVersion: 3, inStream: false }
    )
    const e = decodeErr(prepare, { protoVersion: 2, inStream: false })
    assert.strictEqual(e.messageName, "Prepare")
    assert.include(e.message, "protocol version 3")
  })

  it("stream context under protocol 1", () => {
    assert.strictEqual(decodeErr(hex(`49 00000001 00000010 4E 0000`), { protoVersion: 1, inStream: true }).field, "xid")
  })

  it("truncated tuple, bad column kind, bad tuple kind, bad replica identity", () => {
    const truncated = decodeErr(hex(`49 00000010 4E 0001 74 00000005 3132`), v1)
    assert.strictEqual(truncated.reason, "Truncated")
    assert.strictEqual(truncated.messageName, "Insert")
    assert.strictEqual(truncated.field, "columnValue")
    assert.strictEqual(decodeErr(hex(`49 00000010 4E 0001 78`), v1).field, "columnKind")
    assert.strictEqual(decodeErr(hex(`49 00000010 58 0000`), v1).field, "newTupleKind")
    assert.strictEqual(decodeErr(hex(`44 00000010 4E 0000`), v1).field, "tupleKind")
    assert.strictEqual(decodeErr(hex(`52 00000010 00 7400 78 0000`), v1).field, "replicaIdentity")
  })

  it("absurd counts fail before allocating", () => {
    assert.strictEqual(decodeErr(hex(`49 00000010 4E 7FFF 6E`), v1).reason, "LengthOutOfRange")
    assert.strictEqual(decodeErr(hex(`49 00000010 4E FFFF`), v1).reason, "LengthOutOfRange")
    assert.strictEqual(decodeErr(hex(`54 7FFFFFFF 00`), v1).reason, "LengthOutOfRange")
    assert.strictEqual(decodeErr(hex(`49 00000010 4E 0001 74 FFFFFFFF`), v1).reason, "LengthOutOfRange")
  })

  it("invalid UTF-8 in a text column", () => {
    const e = decodeErr(hex(`49 00000010 4E 0001 74 00000002 C328`), v1)
    assert.strictEqual(e.reason, "InvalidUtf8")
  })

  it("trailing bytes", () => {
    assert.strictEqual(decodeErr(hex(`45 00`), v4).reason, "TrailingBytes")
  })

  it("encoding a message that contradicts the options throws a ProtocolError", () => {
    const insert: PgoutputMessage = { _tag: "Insert", xid: undefined, relationId: 1, newTuple: [] }
    assert.throws(() => encodePgoutput(insert, new Writer(), v4Stream), ProtocolError)
    assert.throws(() => encodePgoutput({ ...insert, xid: 3 }, new Writer(), v4), ProtocolError)
    const abort: PgoutputMessage = { _tag: "StreamAbort", xid: 1, subXid: 1, abortLsn: undefined, abortTime: undefined }
    assert.throws(() => encodePgoutput(abort, new Writer(), v4Parallel), ProtocolError)
    assert.throws(() => encodePgoutput({ _tag: "StreamStop" }, new Writer(), v1), ProtocolError)
    assert.throws(
      () => encodePgoutput({ _tag: "Origin", commitLsn: Lsn.zero, name: "a\u0000b" }, new Writer(), v1),
      ProtocolError
    )
    assert.throws(
      () => encodePgoutput({ ...insert, newTuple: ["\ud800"] }, new Writer(), v1),
      ProtocolError,
      /lone surrogate/
    )
  })

  it("the Schema rejects bytes the codec rejects, with the codec's message", () => {
    const r = Schema.decodeUnknownExit(PgoutputFromBytes(v1))(hex(`7A`))
    assert.strictEqual(r._tag, "Failure")
    assert.include(String(r), "UnknownType")
  })
})
