/**
 * Typed rows on hand-built changes: decoding by a Schema, errors naming table, column and value, missing columns
 * after ALTER TABLE, key images, unchanged TOAST, other tables, and the explicit value conversions of PgSchema.
 */
import { assert, describe, it } from "@effect/vitest"
import { Lsn, UnchangedToast } from "@pgcdc/protocol"
import { Effect, Exit, Result, Schema, Stream } from "effect"
import * as Rows from "../src/rows/index.ts"
import { PgSchema } from "../src/rows/index.ts"
import * as Json from "../src/values/Json.ts"
import * as Numeric from "../src/values/Numeric.ts"
import * as PgDate from "../src/values/PgDate.ts"
import * as PgTimestamp from "../src/values/PgTimestamp.ts"
import type { Row, Table, WalMessage } from "../src/WalMessage.ts"

const at = { walStart: Lsn.unsafeMake(16n), walEnd: Lsn.unsafeMake(16n) }

const users: Table = {
  relationId: 1,
  schema: "public",
  name: "users",
  replicaIdentity: "d",
  columns: ["id", "name", "big", "at", "amount"].map((name) => ({
    name,
    typeOid: 25,
    typeModifier: -1,
    isKey: name === "id"
  }))
}
const other: Table = { ...users, relationId: 2, name: "other" }

const User = Schema.Struct({
  id: Schema.Number,
  name: Schema.NullOr(Schema.String),
  big: PgSchema.Int8AsNumber,
  at: PgSchema.TimestampTzAsDate,
  amount: PgSchema.NumericAsString
})

const row = (over: Partial<Record<string, Row[string]>> = {}): Row => ({
  id: 1,
  name: "ann",
  big: 42n,
  at: PgTimestamp.fromDate(new Date("2024-01-02T03:04:05.678Z")),
  amount: Numeric.unsafeMake("12.50"),
  ...over
})

const insert = (r: Row, table = users): WalMessage => ({ _tag: "Insert", ...at, xid: undefined, table, new: r })

const rows = Rows.make({ table: "users", schema: User })

const decodeError = (m: WalMessage) => {
  const r = rows.decode(m)
  assert.isTrue(Result.isFailure(r))
  return Result.isFailure(r) ? r.failure : undefined!
}

describe("typed rows", () => {
  it("decodes an insert by the Schema, with the explicit conversions", () => {
    const r = Result.getOrThrow(rows.decode(insert(row())))
    assert.deepStrictEqual(r?._tag === "Insert" ? r.new : undefined, {
      id: 1,
      name: "ann",
      big: 42,
      at: new Date("2024-01-02T03:04:05.678Z"),
      amount: "12.50"
    })
  })

  it("a value that does not fit is an error naming table, column, operation and value", () => {
    const e = decodeError(insert(row({ name: 7 })))
    assert.deepStrictEqual(
      [e.reason, e.table, e.column, e.value, e.operation, e.part],
      ["Mismatch", "public.users", "name", "7", "Insert", "new"]
    )
    assert.match(e.message, /Table public\.users, column "name" \(Insert, new row\): value 7 does not fit/)
    const big = decodeError(insert(row({ big: 9007199254740993n })))
    assert.deepStrictEqual([big.column, big.value], ["big", "9007199254740993n"])
    assert.match(big.message, /safe integer/)
    const inf = decodeError(insert(row({ at: PgTimestamp.makeTz(PgTimestamp.MICROS_INFINITY) })))
    assert.deepStrictEqual([inf.column, inf.value], ["at", "timestamptz infinity"])
  })

  it("a column the Schema needs that the table no longer has is a MissingColumn error listing the columns", () => {
    const { amount: _, ...withoutAmount } = row()
    const altered: Table = { ...users, columns: users.columns.filter((c) => c.name !== "amount") }
    const e = decodeError(insert(withoutAmount, altered))
    assert.deepStrictEqual([e.reason, e.column], ["MissingColumn", "amount"])
    assert.match(e.message, /columns are now id, name, big, at/)
  })

  it("columns the Schema does not mention are ignored; optional ones are read when present", () => {
    const added: Table = {
      ...users,
      columns: [...users.columns, { name: "extra", typeOid: 25, typeModifier: -1, isKey: false }]
    }
    const plain = Result.getOrThrow(rows.decode(insert({ ...row(), extra: "x" }, added)))
    assert.isFalse(plain?._tag === "Insert" && "extra" in plain.new)
    const withExtra = Rows.make({
      table: "public.users",
      schema: Schema.Struct({ id: Schema.Number, extra: Schema.optionalKey(Schema.String) })
    })
    const before = Result.getOrThrow(withExtra.decode(insert(row())))
    const after = Result.getOrThrow(withExtra.decode(insert({ ...row(), extra: "x" }, added)))
    assert.deepStrictEqual(
      [before, after].map((c) => (c?._tag === "Insert" ? c.new : undefined)),
      [{ id: 1 }, { id: 1, extra: "x" }]
    )
  })

  it("updates keep unchanged TOAST markers and decode key images partially; deletes by key", () => {
    const update: WalMessage = {
      _tag: "Update",
      ...at,
      xid: undefined,
      table: users,
      key: { id: 1 },
      old: undefined,
      new: row({ id: 2, name: UnchangedToast })
    }
    const u = Result.getOrThrow(rows.decode(update))
    assert.strictEqual(u?._tag, "Update")
    if (u?._tag === "Update") {
      assert.strictEqual(u.new.name, UnchangedToast)
      assert.strictEqual(u.new.id, 2)
      assert.isFalse(Rows.isComplete(u.new))
      assert.deepStrictEqual(u.key, { id: 1 })
      assert.strictEqual(Rows.completeFromOld(u), undefined)
      const withOld = { ...u, old: { ...u.new, name: "ann" } }
      assert.deepStrictEqual(Rows.completeFromOld(withOld)?.name, "ann")
    }
    const del: WalMessage = { _tag: "Delete", ...at, xid: undefined, table: users, key: { id: 2 }, old: undefined }
    const d = Result.getOrThrow(rows.decode(del))
    assert.deepStrictEqual(d?._tag === "Delete" ? [d.key, d.old] : [], [{ id: 2 }, undefined])
    const badKey: WalMessage = { ...del, key: { id: "2" } }
    const e = decodeError(badKey)
    assert.deepStrictEqual([e.operation, e.part, e.column, e.value], ["Delete", "key", "id", '"2"'])
  })

  it("ignores other tables and reports a truncate that includes the table", () => {
    assert.strictEqual(Result.getOrThrow(rows.decode(insert(row(), other))), undefined)
    const t = Result.getOrThrow(
      rows.decode({
        _tag: "Truncate",
        ...at,
        xid: undefined,
        cascade: false,
        restartIdentity: false,
        tables: [other, users]
      })
    )
    assert.strictEqual(t?._tag === "Truncate" ? t.table.name : undefined, "users")
  })

  it.effect("the stream form delivers the rows before a bad one, then fails with its error", () =>
    Effect.gen(function* () {
      const seen: Array<number> = []
      const exit = yield* Stream.fromArray([
        insert(row()),
        insert(row({ id: 2 }), other),
        insert(row({ id: "x" }))
      ]).pipe(
        Rows.changes({ table: "users", schema: User }),
        Stream.runForEach((c) => Effect.sync(() => seen.push(c._tag === "Insert" ? c.new.id : -1))),
        Effect.exit
      )
      assert.deepStrictEqual(seen, [1])
      assert.isTrue(Exit.isFailure(exit))
      // On a live stream that goes idle after the bad row, the error still comes at once, after the good row.
      const live: Array<number> = []
      const error = yield* Stream.concat(
        Stream.fromArray([insert(row()), insert(row({ id: "x" }))]),
        Stream.never
      ).pipe(
        Rows.changes({ table: "users", schema: User }),
        Stream.runForEach((c) => Effect.sync(() => live.push(c._tag === "Insert" ? c.new.id : -1))),
        Effect.flip
      )
      assert.deepStrictEqual([live, error.column], [[1], "id"])
      const all = Rows.decodeAll(rows, [insert(row()), insert(row({ id: 3 }))])
      assert.deepStrictEqual(
        Result.getOrThrow(all).map((c) => (c._tag === "Insert" ? c.new.id : -1)),
        [1, 3]
      )
    })
  )
})

describe("PgSchema conversions", () => {
  const decode = <S extends Schema.ConstraintDecoder<unknown>>(schema: S, value: unknown) =>
    Schema.decodeUnknownResult(schema)(value)

  it("arrays: one dimension from 1 only", () => {
    const ints = PgSchema.ArrayOf(Schema.NullOr(Schema.Number))
    const ok = decode(ints, { _tag: "PgArray", dimensions: [{ length: 2, lowerBound: 1 }], elements: [1, null] })
    assert.deepStrictEqual(Result.getOrThrow(ok), [1, null])
    assert.deepStrictEqual(Result.getOrThrow(decode(ints, { _tag: "PgArray", dimensions: [], elements: [] })), [])
    assert.isTrue(
      Result.isFailure(decode(ints, { _tag: "PgArray", dimensions: [{ length: 1, lowerBound: 0 }], elements: [1] }))
    )
  })

  it("json: numbers a double cannot hold fail a Number field instead of rounding", () => {
    const S = PgSchema.JsonAs(Schema.Struct({ k: Schema.Number }))
    assert.deepStrictEqual(Result.getOrThrow(decode(S, Json.parse('{"k": 1.5}'))), { k: 1.5 })
    assert.isTrue(Result.isFailure(decode(S, Json.parse('{"k": 12345678901234567890}'))))
    const B = PgSchema.JsonAs(Schema.Struct({ k: Schema.BigInt }))
    assert.deepStrictEqual(Result.getOrThrow(decode(B, Json.parse('{"k": 12345678901234567890}'))), {
      k: 12345678901234567890n
    })
  })

  it("numeric, int8 and dates convert only where exact (or where the name says lossy)", () => {
    assert.strictEqual(Result.getOrThrow(decode(PgSchema.NumericAsBigInt, Numeric.unsafeMake("12.000"))), 12n)
    assert.isTrue(Result.isFailure(decode(PgSchema.NumericAsBigInt, Numeric.unsafeMake("12.5"))))
    assert.strictEqual(Result.getOrThrow(decode(PgSchema.NumericAsNumberLossy, Numeric.unsafeMake("0.1"))), 0.1)
    assert.strictEqual(Result.getOrThrow(decode(PgSchema.Int8AsNumber, -5n)), -5)
    assert.deepStrictEqual(
      Result.getOrThrow(decode(PgSchema.DateAsDate, PgDate.make(0))),
      new Date("2000-01-01T00:00:00Z")
    )
    assert.isTrue(Result.isFailure(decode(PgSchema.DateAsDate, PgDate.infinity)))
    assert.isTrue(Result.isFailure(decode(PgSchema.Int8, 5)))
    assert.isTrue(Result.isFailure(decode(PgSchema.Numeric, "1")))
  })
})
