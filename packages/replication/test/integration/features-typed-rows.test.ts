/**
 * Typed rows against real PostgreSQL 14 to 18: a table's inserts, updates and deletes decoded by a Schema across
 * ALTER TABLE ADD COLUMN (ignored, or read through an optional field) and DROP COLUMN (a MissingColumn error), and a
 * value that does not fit the Schema reported with table, column and value after the rows before it.
 */
import { assert, layer } from "@effect/vitest"
import { Connection } from "@pgcdc/connection"
import { type Major, TestDatabase } from "@pgcdc/testing"
import { Effect, Schema, Stream } from "effect"
import { UnchangedToast } from "@pgcdc/protocol"
import * as Rows from "../../src/rows/index.ts"
import { PgSchema } from "../../src/rows/index.ts"
import * as Slot from "../../src/Slot.ts"
import * as Transactions from "../../src/transactions/index.ts"
import { replicate, sqlSession } from "./support.ts"

const majors: ReadonlyArray<Major> = [14, 15, 16, 17, 18]

const User = Schema.Struct({
  id: Schema.Number,
  name: Schema.NullOr(Schema.String),
  amount: Schema.NullOr(PgSchema.NumericAsString),
  created: PgSchema.TimestampTzAsDate,
  big: PgSchema.Int8
})

const summary = (c: Rows.RowChange<Record<string, unknown>>) =>
  c._tag === "Insert"
    ? ["I", c.new]
    : c._tag === "Update"
      ? ["U", c.new, c.key]
      : c._tag === "Delete"
        ? ["D", c.key]
        : ["T"]

for (const major of majors) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "120 seconds" })(
    `typed rows on PostgreSQL ${major}`,
    (it) => {
      it.effect("a Schema decodes the table's changes across ALTER TABLE, and names what does not fit", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query(`CREATE TABLE users (id int PRIMARY KEY, name text, amount numeric(10,2), created timestamptz,
            big int8); CREATE TABLE other (id int PRIMARY KEY); CREATE PUBLICATION p_users FOR TABLE users, other`)
          for (const slot of ["s_plain", "s_optional", "s_number"]) {
            yield* Slot.create(slot).pipe(Effect.provideService(Connection, sql))
          }
          for (const statement of [
            "INSERT INTO users VALUES (1, 'ann', 12.50, '2024-01-02 03:04:05.678+00', 42)",
            "INSERT INTO other VALUES (1)",
            "ALTER TABLE users ADD COLUMN nickname text",
            "INSERT INTO users VALUES (2, 'bob', 1.5, '2024-01-03 00:00:00+00', 9007199254740993, 'bobby')",
            "UPDATE users SET name = 'anne' WHERE id = 1",
            "DELETE FROM users WHERE id = 2",
            "ALTER TABLE users DROP COLUMN amount",
            "INSERT INTO users (id, name, created, big) VALUES (3, 'cy', '2024-01-04 00:00:00+00', 3)"
          ]) {
            yield* sql.query(statement)
          }
          const ann = { id: 1, name: "ann", amount: "12.50", created: new Date("2024-01-02T03:04:05.678Z"), big: 42n }
          const bob = {
            id: 2,
            name: "bob",
            amount: "1.50",
            created: new Date("2024-01-03T00:00:00Z"),
            big: 9007199254740993n
          }

          // The column added mid-stream is not in the Schema: ignored. The dropped one is: a MissingColumn error.
          const plain = yield* replicate(db, { slot: "s_plain", publications: ["p_users"] })
          const seen: Array<unknown> = []
          const missing = yield* plain.stream.pipe(
            Rows.changes({ table: "users", schema: User }),
            Stream.runForEach((c) => Effect.sync(() => seen.push(summary(c)))),
            Effect.flip
          )
          assert.deepStrictEqual(seen, [
            ["I", ann],
            ["I", bob],
            ["U", { ...ann, name: "anne" }, undefined],
            ["D", { id: 2 }]
          ])
          assert.strictEqual(missing._tag, "RowDecodeError")
          if (missing._tag === "RowDecodeError") {
            assert.deepStrictEqual(
              [missing.reason, missing.table, missing.column, missing.operation],
              ["MissingColumn", "public.users", "amount", "Insert"]
            )
            assert.match(missing.message, /columns are now id, name, created, big, nickname/)
          }

          // An optional field reads the new column where the table has it; applied to whole transactions.
          const WithNickname = Schema.Struct({
            id: Schema.Number,
            nickname: Schema.optionalKey(Schema.NullOr(Schema.String))
          })
          const optional = yield* replicate(db, { slot: "s_optional", publications: ["p_users"] })
          const rows = Rows.make({ table: "public.users", schema: WithNickname })
          const txs = yield* optional.stream.pipe(
            Transactions.transactions(),
            Stream.takeUntil(
              (t) => t._tag === "Transaction" && t.changes.some((c) => c._tag === "Insert" && c.new.id === 3)
            ),
            Stream.runCollect
          )
          const decoded = Array.from(txs).flatMap((t) =>
            t._tag === "Transaction"
              ? Rows.decodeAll(rows, t.changes).pipe((r) => (r._tag === "Success" ? r.success : []))
              : []
          )
          assert.deepStrictEqual(decoded.map(summary), [
            ["I", { id: 1 }],
            ["I", { id: 2, nickname: "bobby" }],
            ["U", { id: 1, nickname: null }, undefined],
            ["D", { id: 2 }],
            ["I", { id: 3, nickname: null }]
          ])

          // A value beyond the chosen conversion: an error with table, column and value, after the rows before it.
          const number = yield* replicate(db, { slot: "s_number", publications: ["p_users"] })
          const first: Array<unknown> = []
          const mismatch = yield* number.stream.pipe(
            Rows.changes({ table: "users", schema: Schema.Struct({ id: Schema.Number, big: PgSchema.Int8AsNumber }) }),
            Stream.runForEach((c) => Effect.sync(() => first.push(summary(c)))),
            Effect.flip
          )
          assert.deepStrictEqual(first, [["I", { id: 1, big: 42 }]])
          assert.strictEqual(mismatch._tag, "RowDecodeError")
          if (mismatch._tag === "RowDecodeError") {
            assert.deepStrictEqual(
              [mismatch.reason, mismatch.table, mismatch.column, mismatch.value],
              ["Mismatch", "public.users", "big", "9007199254740993n"]
            )
          }
        })
      )

      it.effect(
        "unchanged TOAST columns keep their marker in typed updates; with FULL identity the old row fills them",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* sql.query(`CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
            ALTER TABLE docs REPLICA IDENTITY FULL; CREATE PUBLICATION p_docs FOR TABLE docs`)
            yield* Slot.create("s_docs").pipe(Effect.provideService(Connection, sql))
            // A body beyond the TOAST threshold that does not compress: stored out of line.
            yield* sql.query(
              "INSERT INTO docs SELECT 1, 'a', string_agg(md5(g::text), '') FROM generate_series(1, 2000) g"
            )
            yield* sql.query("UPDATE docs SET title = 'b' WHERE id = 1")
            const Doc = Schema.Struct({ id: Schema.Number, title: Schema.String, body: Schema.String })
            const repl = yield* replicate(db, { slot: "s_docs", publications: ["p_docs"] })
            const changes = Array.from(
              yield* repl.stream.pipe(Rows.changes({ table: "docs", schema: Doc }), Stream.take(2), Stream.runCollect)
            )
            const update = changes[1]
            assert.strictEqual(update?._tag, "Update")
            if (update?._tag === "Update") {
              // With REPLICA IDENTITY FULL the old row carries the value, so the new row can be completed from it.
              assert.strictEqual(typeof update.old?.body === "string" ? update.old.body.length : 0, 64000)
              assert.deepStrictEqual(Rows.completeFromOld(update), { id: 1, title: "b", body: update.old?.body })
              assert.strictEqual(update.new.body, UnchangedToast)
              assert.strictEqual(update.new.title, "b")
              assert.isFalse(Rows.isComplete(update.new))
            }
          })
      )
    }
  )
}
