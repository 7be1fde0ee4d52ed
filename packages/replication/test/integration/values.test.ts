/**
 * Every supported column type arrives exactly, in text and in binary mode, on PostgreSQL 14 to 18, with the process
 * in a non-UTC zone and the database's DateStyle, IntervalStyle, TimeZone and extra_float_digits set to unhelpful
 * values (the service must SET its own for the walsender session).
 */
process.env.TZ = "America/St_Johns"

import { assert, layer } from "@effect/vitest"
import { Connection } from "@pgcdc/connection"
import { TestDatabase } from "@pgcdc/testing"
import { Effect } from "effect"
import * as Slot from "../../src/Slot.ts"
import { exec, replicate, scalar, sqlSession, takeTransactions } from "./support.ts"
import { binaryExpected, columns, expected, rows } from "./valueFixtures.ts"

for (const major of [18, 14, 15, 16, 17] as const) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `column values on PostgreSQL ${major}`,
    (it) => {
      it.effect(
        "every type arrives exactly, in text and in binary mode",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const setup = yield* sqlSession(db)
            yield* exec(setup, [
              "ALTER DATABASE postgres SET DateStyle = 'SQL, DMY'",
              "ALTER DATABASE postgres SET IntervalStyle = 'iso_8601'",
              "ALTER DATABASE postgres SET TimeZone = 'Asia/Kathmandu'",
              "ALTER DATABASE postgres SET extra_float_digits = 0",
              "ALTER DATABASE postgres SET bytea_output = 'escape'",
              "CREATE TYPE mood AS ENUM ('happy', 'sad')",
              `CREATE TABLE v (${columns})`,
              "CREATE PUBLICATION p_values FOR TABLE v"
            ])
            const sql = yield* sqlSession(db)
            assert.strictEqual(yield* scalar(sql, "SHOW DateStyle"), "SQL, DMY", "new sessions get the odd defaults")
            yield* Slot.create("s_text").pipe(Effect.provideService(Connection, sql))
            yield* Slot.create("s_binary").pipe(Effect.provideService(Connection, sql))
            yield* exec(sql, rows(major))

            for (const [slot, binary, want] of [
              ["s_text", false, expected(major)],
              ["s_binary", true, binaryExpected(major)]
            ] as const) {
              const repl = yield* replicate(db, { slot, publications: ["p_values"], binary })
              const messages = yield* takeTransactions(repl, 3)
              const got = messages.flatMap((m) => (m._tag === "Insert" ? [m.new] : []))
              assert.strictEqual(got.length, 3)
              for (let i = 0; i < 3; i++) {
                for (const [column, value] of Object.entries(want[i]!)) {
                  assert.deepStrictEqual(
                    got[i]![column],
                    value,
                    `${binary ? "binary" : "text"} row ${i + 1} column ${column}`
                  )
                }
                assert.deepStrictEqual(Object.keys(got[i]!).sort(), Object.keys(want[i]!).sort())
              }
            }
          }),
        30_000
      )
    }
  )
}
