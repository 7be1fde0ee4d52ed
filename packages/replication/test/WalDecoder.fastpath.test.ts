// The WalDecoder decodes row changes straight from the bytes (ColumnReaders); it must give exactly what the general
// path (TupleData strings, then decodeText/decodeBinary) gives: the same rows, and the same errors.
process.env.TZ = "America/St_Johns"

import {
  encodeReplicationToBytes,
  Lsn,
  type PgoutputMessage,
  Reader,
  type TupleValue,
  type XLogData
} from "@pgcdc/protocol"
import fc from "fast-check"
import { assert, describe, expect, it } from "vitest"
import { columnReaderFor, scanJson } from "../src/internal/values/ColumnReaders.ts"
import { builtinTypes, decodeText, TypeOid } from "../src/values/index.ts"
import { WalDecoder } from "../src/internal/decoder/WalDecoder.ts"
import { columnTypes, scenario, xlog } from "./rowScenario.ts"
import type { WalMessage } from "../src/WalMessage.ts"

/**
 * `decoder.unsafeDecodeFrame` on the CopyData payload of `x`, placed inside a larger buffer as it arrives in a socket
 * chunk (other bytes before and after it).
 */
const decodeFramed = (decoder: WalDecoder, x: XLogData): WalMessage => {
  const payload = encodeReplicationToBytes(x)
  const bytes = new Uint8Array(payload.length + 9).fill(0x77)
  bytes.set(payload, 4)
  return decoder.unsafeDecodeFrame(bytes, 4, 4 + payload.length)
}

type Outcome = { readonly ok: WalMessage } | { readonly error: string }
const run = (f: () => WalMessage): Outcome => {
  try {
    return { ok: f() }
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) }
  }
}

const outcome = (f: () => unknown): { readonly ok: unknown } | { readonly error: string } => {
  try {
    return { ok: f() }
  } catch (e) {
    return { error: String(e) }
  }
}

describe("WalDecoder fast row path", () => {
  it("gives exactly the general path's messages and errors on generated relations and rows", () => {
    fc.assert(
      fc.property(scenario, ({ columns, replicaIdentity, changes }) => {
        const relation: PgoutputMessage = {
          _tag: "Relation",
          xid: undefined,
          relationId: 1,
          namespace: "public",
          relationName: "t",
          replicaIdentity,
          columns: columns.map((c) => ({
            flags: c.key ? 1 : 0,
            name: c.name,
            typeOid: c.spec.typeOid,
            typeModifier: -1
          }))
        }
        const fast = new WalDecoder({ protoVersion: 1 })
        const general = new WalDecoder({ protoVersion: 1 })
        const framed = new WalDecoder({ protoVersion: 1 })
        const messages = [relation, ...changes].map((m, i) => xlog(m, 100 + i))
        for (const x of messages) {
          const expected = run(() => general.unsafeDecodeGeneral(x))
          expect(run(() => fast.unsafeDecode(x))).toStrictEqual(expected)
          expect(run(() => decodeFramed(framed, x))).toStrictEqual(expected)
        }
      }),
      { numRuns: 1500 }
    )
  })

  it("gives the general path's result on corrupted bytes (flipped, truncated, extended messages)", () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat(), byte: fc.constant(0) }),
      fc.record({ kind: fc.constant("add" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) })
    )
    fc.assert(
      fc.property(scenario, fc.array(mutation, { minLength: 1, maxLength: 3 }), (s, mutations) => {
        const relation: PgoutputMessage = {
          _tag: "Relation",
          xid: undefined,
          relationId: 1,
          namespace: "public",
          relationName: "t",
          replicaIdentity: s.replicaIdentity,
          columns: s.columns.map((c) => ({
            flags: c.key ? 1 : 0,
            name: c.name,
            typeOid: c.spec.typeOid,
            typeModifier: -1
          }))
        }
        const fast = new WalDecoder({ protoVersion: 1 })
        const general = new WalDecoder({ protoVersion: 1 })
        const framed = new WalDecoder({ protoVersion: 1 })
        fast.unsafeDecode(xlog(relation, 1))
        general.unsafeDecode(xlog(relation, 1))
        decodeFramed(framed, xlog(relation, 1))
        for (const change of s.changes) {
          const x = xlog(change, 2)
          let bytes = Array.from(x.data)
          for (const m of mutations) {
            const at = bytes.length === 0 ? 0 : m.at % bytes.length
            if (m.kind === "set") bytes[at] = m.byte
            else if (m.kind === "cut") bytes = bytes.slice(0, at)
            else bytes.splice(at, 0, m.byte)
          }
          const bad: XLogData = { ...x, data: Uint8Array.from(bytes) }
          const expected = run(() => general.unsafeDecodeGeneral(bad))
          expect(run(() => fast.unsafeDecode(bad))).toStrictEqual(expected)
          expect(run(() => decodeFramed(framed, bad))).toStrictEqual(expected)
        }
      }),
      { numRuns: 1000 }
    )
  })

  it("rejects invalid UTF-8 in any text column exactly as the general path", () => {
    const relation: PgoutputMessage = {
      _tag: "Relation",
      xid: undefined,
      relationId: 1,
      namespace: "public",
      relationName: "t",
      replicaIdentity: "d",
      columns: [
        { flags: 1, name: "id", typeOid: TypeOid.int8, typeModifier: -1 },
        { flags: 0, name: "doc", typeOid: TypeOid.jsonb, typeModifier: -1 },
        { flags: 0, name: "s", typeOid: TypeOid.text, typeModifier: -1 }
      ]
    }
    for (const [column, key] of [
      [0, false],
      [1, false],
      [2, false],
      [2, true]
    ] as const) {
      const tuple: Array<TupleValue> = ["12", '{"k": "ABCD"}', "ABCD"]
      const m: PgoutputMessage = key
        ? { _tag: "Delete", xid: undefined, relationId: 1, key: tuple, old: undefined }
        : { _tag: "Insert", xid: undefined, relationId: 1, newTuple: tuple }
      const x = xlog(m, 10)
      // Corrupt one byte of the chosen value: 0xff is never valid UTF-8.
      const needle = column === 0 ? "12" : "ABCD"
      const bytes = Uint8Array.from(x.data)
      const text = Buffer.from(bytes).toString("latin1")
      const at = column === 2 ? text.lastIndexOf(needle) : text.indexOf(needle)
      bytes[at] = 0xff
      const bad: XLogData = { ...x, data: bytes }
      const fast = new WalDecoder({ protoVersion: 1 })
      const general = new WalDecoder({ protoVersion: 1 })
      fast.unsafeDecode(xlog(relation, 1))
      general.unsafeDecode(xlog(relation, 1))
      const a = run(() => fast.unsafeDecode(bad))
      assert.isTrue("error" in a)
      expect(a).toStrictEqual(run(() => general.unsafeDecodeGeneral(bad)))
    }
  })

  it("each column reader equals decodeText on the same text, or throws", () => {
    const spec = fc.constantFrom(...columnTypes).chain((s) => fc.tuple(fc.constant(s.typeOid), s.text))
    fc.assert(
      fc.property(spec, ([typeOid, text]) => {
        const bytes = new TextEncoder().encode(`xx${text}yy`)
        const n = bytes.length - 4
        const reader = columnReaderFor(typeOid, builtinTypes)
        const slow = outcome(() => decodeText(typeOid, text))
        const rd = new Reader(bytes, "Test", 2, bytes.length)
        const fast = outcome(() => reader(rd, n))
        if ("ok" in slow) {
          expect(fast).toStrictEqual(slow)
          assert.strictEqual(rd.pos, 2 + n)
        } else assert.isTrue("error" in fast)
      }),
      { numRuns: 4000 }
    )
  })

  it("Begin and Commit equal the message spread with its position (same keys, same order)", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.integer({ min: 0, max: 255 }),
        (lsn, time, xid, flags) => {
          const begin: PgoutputMessage = { _tag: "Begin", finalLsn: Lsn.unsafeMake(lsn), commitTime: time, xid }
          const commit: PgoutputMessage = {
            _tag: "Commit",
            flags,
            commitLsn: Lsn.unsafeMake(lsn),
            endLsn: Lsn.unsafeMake(lsn),
            commitTime: time
          }
          for (const m of [begin, commit]) {
            const x = xlog(m, 7)
            const decoded = new WalDecoder({ protoVersion: 1 }).unsafeDecode(x)
            expect(decoded).toStrictEqual({ ...m, walStart: x.walStart, walEnd: x.walEnd })
            assert.deepStrictEqual(Object.keys(decoded), [...Object.keys(m), "walStart", "walEnd"])
          }
        }
      ),
      { numRuns: 500 }
    )
  })

  it("scanJson takes the plain path for typical documents only", () => {
    const enc = (s: string) => new TextEncoder().encode(s)
    const doc = enc('{"id": 1, "score": 0.10000000000000000000, "label": "item 1234567890123456789"}')
    assert.strictEqual(scanJson(doc, 0, doc.length), 1)
    for (const risky of ["[1e5]", "[12345678901234567]", "[0.1234567890123456]"]) {
      assert.strictEqual(scanJson(enc(risky), 0, risky.length), 0)
    }
    const accented = enc('{"k": "é 12345678901234567890", "n": 1.5}')
    assert.strictEqual(scanJson(accented, 0, accented.length), 1)
    const accentedRisky = enc('{"k": "é", "n": 12345678901234567890}')
    assert.strictEqual(scanJson(accentedRisky, 0, accentedRisky.length), 0)
  })
})
