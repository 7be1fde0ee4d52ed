/**
 * Every pgoutput protocol version each major supports (1 and 2 on PostgreSQL 14, up to 3 on 15, up to 4 on 16 to
 * 18) carries the same workload to the same decoded stream: one slot per version, created before the workload, so
 * every version decodes exactly the same WAL.
 */
import { assert, layer } from "@effect/vitest"
import { Connection } from "@pgcdc/connection"
import type { ProtoVersion } from "@pgcdc/protocol"
import { majors, TestDatabase } from "@pgcdc/testing"
import { Effect } from "effect"
import * as Slot from "../../src/Slot.ts"
import type { WalMessage } from "../../src/WalMessage.ts"
import { exec, replicate, sqlSession, takeTransactions } from "./support.ts"

const versionsOf = (major: number): ReadonlyArray<ProtoVersion> =>
  major >= 16 ? [1, 2, 3, 4] : major === 15 ? [1, 2, 3] : [1, 2]

/** What a consumer sees, without positions (which are the same WAL for every version anyway). */
const summary = (m: WalMessage): unknown => {
  switch (m._tag) {
    case "Insert":
      return ["Insert", m.table.name, m.new]
    case "Update":
      return ["Update", m.table.name, m.key, m.old, m.new]
    case "Delete":
      return ["Delete", m.table.name, m.key, m.old]
    case "Truncate":
      return ["Truncate", m.tables.map((t) => t.name), m.cascade, m.restartIdentity]
    case "Relation":
      return ["Relation", m.table.schema, m.table.name, m.table.replicaIdentity, m.table.columns]
    case "Message":
      return ["Message", m.transactional, m.prefix, new TextDecoder().decode(m.content)]
    case "Begin":
    case "Commit":
      return [m._tag]
    default:
      return [m._tag]
  }
}

for (const major of majors) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `protocol versions on PostgreSQL ${major}`,
    (it) => {
      it.effect(
        `versions ${versionsOf(major).join(", ")} decode the same workload to the same messages`,
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* sql.query(`
              CREATE TABLE pv (id int PRIMARY KEY, name text, amount numeric(12,2), at timestamptz);
              CREATE TABLE pv_full (id int PRIMARY KEY, v text);
              ALTER TABLE pv_full REPLICA IDENTITY FULL;
              CREATE PUBLICATION p_pv FOR TABLE pv, pv_full`)
            for (const v of versionsOf(major)) {
              yield* Slot.create(`s_pv${v}`).pipe(Effect.provideService(Connection, sql))
            }
            yield* exec(sql, [
              "INSERT INTO pv VALUES (1, 'a', 1.50, '2024-01-01 00:00:00.000001+00'), (2, 'b', NULL, 'infinity')",
              "UPDATE pv SET name = 'c', id = 3 WHERE id = 1",
              "DELETE FROM pv WHERE id = 2",
              "INSERT INTO pv_full VALUES (1, 'x')",
              "UPDATE pv_full SET v = 'y'",
              "DELETE FROM pv_full",
              "BEGIN; SELECT pg_logical_emit_message(true, 'pv', 'inside'); INSERT INTO pv VALUES (4, 'd', 0, now()); COMMIT;",
              "TRUNCATE pv, pv_full"
            ])
            const seen = yield* Effect.forEach(versionsOf(major), (protoVersion) =>
              Effect.scoped(
                Effect.gen(function* () {
                  const repl = yield* replicate(db, {
                    slot: `s_pv${protoVersion}`,
                    publications: ["p_pv"],
                    protoVersion,
                    messages: true
                  })
                  // Eight transactions: each statement above is one.
                  const messages = yield* takeTransactions(repl, 8)
                  return { protoVersion, messages }
                })
              )
            )
            const reference = seen[0]!.messages.map(summary)
            // The workload is all there: 7 row changes, a message, a truncate, in 8 transactions.
            const tags = seen[0]!.messages.map((m) => m._tag)
            assert.strictEqual(tags.filter((t) => t === "Commit").length, 8)
            assert.strictEqual(tags.filter((t) => t === "Insert").length, 4)
            assert.strictEqual(tags.filter((t) => t === "Update").length, 2)
            assert.strictEqual(tags.filter((t) => t === "Delete").length, 2)
            assert.strictEqual(tags.filter((t) => t === "Message").length, 1)
            assert.strictEqual(tags.filter((t) => t === "Truncate").length, 1)
            for (const { protoVersion, messages } of seen.slice(1)) {
              assert.deepStrictEqual(messages.map(summary), reference, `protocol version ${protoVersion}`)
            }
          }),
        60_000
      )
    }
  )
}
