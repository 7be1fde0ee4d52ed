process.env.TZ = "America/St_Johns"

import { encodePgoutputToBytes, Lsn, type PgoutputMessage, UnchangedToast, type XLogData } from "@pgcdc/protocol"
import { Result } from "effect"
import { assert, describe, it } from "vitest"
import { WalDecoder } from "../src/internal/decoder/WalDecoder.ts"
import * as WalMessage from "../src/WalMessage.ts"

const L = (n: number): Lsn.Lsn => Lsn.unsafeMake(BigInt(n))
const options = { protoVersion: 2, inStream: false } as const

const xlog = (m: PgoutputMessage, at: number, inStream = false): XLogData => ({
  _tag: "XLogData",
  walStart: L(at),
  walEnd: L(at),
  serverTime: 0n,
  data: encodePgoutputToBytes(m, { ...options, inStream })
})

const relation: PgoutputMessage = {
  _tag: "Relation",
  xid: undefined,
  relationId: 16384,
  namespace: "public",
  relationName: "items",
  replicaIdentity: "d",
  columns: [
    { flags: 1, name: "id", typeOid: 20, typeModifier: -1 },
    { flags: 0, name: "body", typeOid: 25, typeModifier: -1 },
    { flags: 0, name: "at", typeOid: 1184, typeModifier: -1 },
    { flags: 0, name: "__proto__", typeOid: 3802, typeModifier: -1 }
  ]
}

const decodeAll = (d: WalDecoder, xs: ReadonlyArray<XLogData>) => xs.map((x) => Result.getOrThrow(d.decode(x)))

describe("WalDecoder", () => {
  it("resolves rows by column name, keeps unchanged TOAST and SQL NULL apart, positions from XLogData", () => {
    const d = new WalDecoder({ protoVersion: 2 })
    const [begin, rel, ins, upd, del, commit] = decodeAll(d, [
      xlog({ _tag: "Begin", finalLsn: L(500), commitTime: 1n, xid: 7 }, 100),
      xlog(relation, 110),
      xlog(
        {
          _tag: "Insert",
          xid: undefined,
          relationId: 16384,
          newTuple: ["9223372036854775807", null, "2000-01-01 00:00:00+00", '{"a": 12345678901234567890}']
        },
        110
      ),
      xlog(
        {
          _tag: "Update",
          xid: undefined,
          relationId: 16384,
          key: ["1", null, null, null],
          old: undefined,
          newTuple: ["2", UnchangedToast, "infinity", "null"]
        },
        120
      ),
      xlog({ _tag: "Delete", xid: undefined, relationId: 16384, key: ["2", null, null, null], old: undefined }, 130),
      xlog({ _tag: "Commit", flags: 0, commitLsn: L(490), endLsn: L(500), commitTime: 1n }, 500)
    ])
    assert.strictEqual(begin!._tag, "Begin")
    assert.isTrue(d.inTransaction === false)
    assert.deepStrictEqual(rel, {
      _tag: "Relation",
      walStart: L(110),
      walEnd: L(110),
      xid: undefined,
      table: {
        relationId: 16384,
        schema: "public",
        name: "items",
        replicaIdentity: "d",
        columns: [
          { name: "id", typeOid: 20, typeModifier: -1, isKey: true },
          { name: "body", typeOid: 25, typeModifier: -1, isKey: false },
          { name: "at", typeOid: 1184, typeModifier: -1, isKey: false },
          { name: "__proto__", typeOid: 3802, typeModifier: -1, isKey: false }
        ]
      }
    })
    assert.strictEqual(ins!._tag, "Insert")
    if (ins!._tag !== "Insert") return
    assert.strictEqual(ins.new.id, 9223372036854775807n)
    assert.strictEqual(ins.new.body, null)
    assert.deepStrictEqual(ins.new.at, { _tag: "PgTimestampTz", micros: 0n })
    assert.deepStrictEqual(Object.keys(ins.new), ["id", "body", "at", "__proto__"])
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(ins.new, "__proto__")?.value, {
      _tag: "Json",
      text: '{"a": 12345678901234567890}',
      value: { a: 12345678901234567890n }
    })
    assert.strictEqual(upd!._tag, "Update")
    if (upd!._tag !== "Update") return
    assert.deepStrictEqual(upd.key, { id: 1n })
    assert.strictEqual(upd.old, undefined)
    assert.strictEqual(upd.new.body, UnchangedToast)
    assert.notStrictEqual(upd.new.body, null)
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(upd.new, "__proto__")?.value, {
      _tag: "Json",
      text: "null",
      value: null
    })
    assert.deepStrictEqual(del, {
      _tag: "Delete",
      walStart: L(130),
      walEnd: L(130),
      xid: undefined,
      table: (rel as WalMessage.Relation).table,
      key: { id: 2n },
      old: undefined
    })
    assert.deepStrictEqual(commit, {
      _tag: "Commit",
      flags: 0,
      commitLsn: L(490),
      endLsn: L(500),
      commitTime: 1n,
      walStart: L(500),
      walEnd: L(500)
    })
    assert.strictEqual(WalMessage.lsnToConfirm(commit!), L(500))
  })

  it("tracks open transactions, including streamed ones that outlive StreamStop", () => {
    const d = new WalDecoder({ protoVersion: 2, streaming: "on" })
    const states: Array<boolean> = []
    const feed = (m: PgoutputMessage, inStream = false) => {
      Result.getOrThrow(d.decode(xlog(m, 1, inStream)))
      states.push(d.inTransaction)
    }
    feed({ _tag: "StreamStart", xid: 9, firstSegment: true })
    feed({ ...relation, xid: 9 } as PgoutputMessage, true)
    feed({ _tag: "Insert", xid: 9, relationId: 16384, newTuple: ["1", "x", "infinity", "1"] }, true)
    feed({ _tag: "StreamStop" })
    feed({ _tag: "Begin", finalLsn: L(5), commitTime: 1n, xid: 10 })
    feed({ _tag: "Commit", flags: 0, commitLsn: L(5), endLsn: L(6), commitTime: 1n })
    feed({ _tag: "StreamCommit", xid: 9, flags: 0, commitLsn: L(7), endLsn: L(8), commitTime: 1n })
    assert.deepStrictEqual(states, [true, true, true, true, true, true, false])
  })

  it("an Insert for an unknown relation id is a typed error", () => {
    const d = new WalDecoder({ protoVersion: 1 })
    const r = d.decode(xlog({ _tag: "Insert", xid: undefined, relationId: 77, newTuple: ["1"] }, 1))
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.strictEqual(r.failure.reason._tag, "UnknownRelation")
      assert.include(r.failure.message, "relation id 77")
    }
  })

  it("bad bytes, wrong column counts and undecodable values are typed errors", () => {
    const d = new WalDecoder({ protoVersion: 1 })
    const bad = d.decode({ _tag: "XLogData", walStart: L(1), walEnd: L(1), serverTime: 0n, data: Uint8Array.of(0x5a) })
    assert.strictEqual(Result.isFailure(bad) ? bad.failure.reason._tag : "ok", "Protocol")
    Result.getOrThrow(d.decode(xlog(relation, 1)))
    const short = d.decode(xlog({ _tag: "Insert", xid: undefined, relationId: 16384, newTuple: ["1"] }, 2))
    assert.strictEqual(Result.isFailure(short) ? short.failure.reason._tag : "ok", "Protocol")
    const value = d.decode(
      xlog({ _tag: "Insert", xid: undefined, relationId: 16384, newTuple: ["x", null, null, null] }, 3)
    )
    assert.strictEqual(Result.isFailure(value) ? value.failure.reason._tag : "ok", "Decode")
    assert.include(Result.isFailure(value) ? value.failure.message : "", "public.items.id")
  })

  it("Type messages teach the decoder user array types; binary values decode too", () => {
    const d = new WalDecoder({ protoVersion: 1 })
    decodeAll(d, [
      xlog({ _tag: "Type", xid: undefined, typeOid: 90001, namespace: "public", typeName: "_mood" }, 1),
      xlog(
        {
          ...relation,
          columns: [
            { flags: 1, name: "moods", typeOid: 90001, typeModifier: -1 },
            { flags: 0, name: "n", typeOid: 23, typeModifier: -1 }
          ]
        } as PgoutputMessage,
        1
      )
    ])
    const [ins] = decodeAll(d, [
      xlog(
        { _tag: "Insert", xid: undefined, relationId: 16384, newTuple: ["{happy,sad}", Uint8Array.of(0, 0, 0, 42)] },
        2
      )
    ])
    assert.deepStrictEqual((ins as WalMessage.Insert).new, {
      moods: { _tag: "PgArray", dimensions: [{ length: 2, lowerBound: 1 }], elements: ["happy", "sad"] },
      n: 42
    })
  })
})
