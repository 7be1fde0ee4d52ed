// The WalDecoder decodes row changes straight from the bytes (ColumnReaders); it must give exactly what the general
// path (TupleData strings, then decodeText/decodeBinary) gives: the same rows, and the same errors.
process.env.TZ = "America/St_Johns"

import {
  encodePgoutputToBytes,
  encodeReplicationToBytes,
  Lsn,
  type PgoutputMessage,
  Reader,
  type TupleValue,
  UnchangedToast,
  type XLogData
} from "@pgcdc/protocol"
import fc from "fast-check"
import { assert, describe, expect, it } from "vitest"
import { columnReaderFor, scanJson } from "../src/internal/values/ColumnReaders.ts"
import { builtinTypes, decodeText, TypeOid } from "../src/values/index.ts"
import { WalDecoder } from "../src/internal/decoder/WalDecoder.ts"
import type { WalMessage } from "../src/WalMessage.ts"

const L = (n: number): Lsn.Lsn => Lsn.unsafeMake(BigInt(n))

const digits = (chars: ReadonlyArray<string>, min: number, max: number) =>
  fc.array(fc.constantFrom(...chars), { minLength: min, maxLength: max }).map((a) => a.join(""))

const jsonNumber = fc.oneof(
  fc.bigInt({ min: -(10n ** 22n), max: 10n ** 22n }).map(String),
  fc
    .tuple(fc.constantFrom("", "-"), fc.integer({ min: 0, max: 99999 }), digits(["0", "0", "1", "7"], 1, 25))
    .map(([s, i, f]) => `${s}${i}.${f}`),
  fc.tuple(fc.integer({ min: -9, max: 9 }), fc.integer({ min: -330, max: 330 })).map(([m, e]) => `${m}e${e}`),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d))
)
const jsonText: fc.Arbitrary<string> = fc.letrec<{ v: string }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small" },
    jsonNumber,
    fc.oneof(fc.string(), digits(["1", "2", ".", "e", '"', "\\", "é"], 0, 20)).map((s) => JSON.stringify(s)),
    fc.constantFrom("null", "true", "false", "{", "[1,]", "01", "-", '"\\u00e9"'),
    fc.array(tie("v"), { maxLength: 4 }).map((a) => `[${a.join(", ")}]`),
    fc
      .array(fc.tuple(fc.constantFrom("a", "__proto__", "1", "long key"), tie("v")), { maxLength: 4 })
      .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(", ")}}`)
  )
})).v

const integerText = fc.oneof(
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(String),
  fc.integer({ min: -70000, max: 70000 }).map(String),
  fc.constantFrom("-0", "007", "", "-", "1.0", " 1", "٣", "+5", "2147483648", "-32769", "9223372036854775808")
)
const numericText = fc.oneof(
  fc
    .tuple(fc.constantFrom("", "-"), digits(["0", "1", "9"], 0, 20), fc.option(digits(["0", "5"], 0, 8)))
    .map(([s, i, f]) => `${s}${i}${f === null ? "" : `.${f}`}`),
  fc.constantFrom("NaN", "Infinity", "-Infinity", "1e5", ".5", "5.", "--1", "١")
)
const dateTimeText = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString().replace("T", " ").replace("Z", "+00")),
  fc.constantFrom("2026-01-01 00:00:01+00", "infinity", "-infinity", "0044-03-15 12:00:00+00 BC", "2026-13-01")
)

interface ColumnSpec {
  readonly typeOid: number
  readonly text: fc.Arbitrary<string>
}
const columnTypes: ReadonlyArray<ColumnSpec> = [
  { typeOid: TypeOid.int8, text: integerText },
  { typeOid: TypeOid.int4, text: integerText },
  { typeOid: TypeOid.int2, text: integerText },
  { typeOid: TypeOid.numeric, text: numericText },
  { typeOid: TypeOid.jsonb, text: jsonText },
  { typeOid: TypeOid.json, text: jsonText },
  { typeOid: TypeOid.text, text: fc.string() },
  { typeOid: TypeOid.timestamptz, text: dateTimeText },
  { typeOid: TypeOid.timestamp, text: dateTimeText.map((t) => t.replace("+00", "")) },
  { typeOid: TypeOid.bool, text: fc.constantFrom("t", "f", "x") },
  { typeOid: 1007, text: fc.constantFrom("{1,2,NULL}", "[0:1]={3,4}", "{", "{}") },
  { typeOid: 99999, text: fc.string() }
]

const valueFor = (spec: ColumnSpec): fc.Arbitrary<TupleValue> =>
  fc.oneof(
    { arbitrary: spec.text, weight: 6 },
    { arbitrary: fc.constant(null), weight: 1 },
    { arbitrary: fc.constant(UnchangedToast), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 12 }), weight: 1 }
  )

const scenario = fc
  .array(
    fc.record({
      spec: fc.constantFrom(...columnTypes),
      name: fc.constantFrom("id", "name", "__proto__", "x", "payload", "at"),
      key: fc.boolean()
    }),
    { minLength: 1, maxLength: 6 }
  )
  .chain((columns) => {
    const tuple = fc.tuple(...columns.map((c) => valueFor(c.spec)))
    return fc.record({
      columns: fc.constant(columns),
      replicaIdentity: fc.constantFrom<"d" | "f">("d", "f"),
      changes: fc.array(
        fc.oneof(
          tuple.map((t): PgoutputMessage => ({ _tag: "Insert", xid: undefined, relationId: 1, newTuple: t })),
          fc.tuple(fc.constantFrom("none", "key", "old"), tuple, tuple).map(
            ([which, a, b]): PgoutputMessage => ({
              _tag: "Update",
              xid: undefined,
              relationId: 1,
              key: which === "key" ? a : undefined,
              old: which === "old" ? a : undefined,
              newTuple: b
            })
          ),
          fc.tuple(fc.boolean(), tuple).map(
            ([isKey, a]): PgoutputMessage => ({
              _tag: "Delete",
              xid: undefined,
              relationId: 1,
              key: isKey ? a : undefined,
              old: isKey ? undefined : a
            })
          ),
          // A row for a relation nobody described, and one with the wrong column count.
          tuple.map((t): PgoutputMessage => ({ _tag: "Insert", xid: undefined, relationId: 2, newTuple: t })),
          tuple.map((t): PgoutputMessage => ({ _tag: "Insert", xid: undefined, relationId: 1, newTuple: [...t, null] }))
        ),
        { minLength: 1, maxLength: 6 }
      )
    })
  })

const xlog = (m: PgoutputMessage, at: number): XLogData => ({
  _tag: "XLogData",
  walStart: L(at),
  walEnd: L(at + 1),
  serverTime: 0n,
  data: encodePgoutputToBytes(m, { protoVersion: 1, inStream: false })
})

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
