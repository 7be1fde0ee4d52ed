// Generated relations and row changes for the WalDecoder's property tests: every column type the fast path reads,
// values of each (valid and not), NULL, unchanged TOAST and binary values, and rows that do not fit their relation.
import {
  encodePgoutputToBytes,
  Lsn,
  type PgoutputMessage,
  type TupleValue,
  UnchangedToast,
  type XLogData
} from "@pgcdc/protocol"
import fc from "fast-check"
import { TypeOid } from "../src/values/index.ts"

export const L = (n: number): Lsn.Lsn => Lsn.unsafeMake(BigInt(n))

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

export interface ColumnSpec {
  readonly typeOid: number
  readonly text: fc.Arbitrary<string>
}
export const columnTypes: ReadonlyArray<ColumnSpec> = [
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

export const scenario = fc
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

export const xlog = (m: PgoutputMessage, at: number): XLogData => ({
  _tag: "XLogData",
  walStart: L(at),
  walEnd: L(at + 1),
  serverTime: 0n,
  data: encodePgoutputToBytes(m, { protoVersion: 1, inStream: false })
})

/** The Relation message of a scenario's columns (relation id 1, public.t). */
export const relationOf = (
  columns: ReadonlyArray<{ readonly spec: ColumnSpec; readonly name: string; readonly key: boolean }>,
  replicaIdentity: "d" | "f"
): PgoutputMessage => ({
  _tag: "Relation",
  xid: undefined,
  relationId: 1,
  namespace: "public",
  relationName: "t",
  replicaIdentity,
  columns: columns.map((c) => ({ flags: c.key ? 1 : 0, name: c.name, typeOid: c.spec.typeOid, typeModifier: -1 }))
})
