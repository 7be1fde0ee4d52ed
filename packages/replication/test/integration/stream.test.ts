/**
 * The Replication service against real PostgreSQL 18 and 14: row changes with every replica identity, truncate and
 * logical messages; commit moving confirmed_flush_lsn; never acknowledging uncommitted data; idle advance; endLsn;
 * typed configuration errors. One server per major, each test with its own tables, publication and slot.
 */
process.env.TZ = "America/St_Johns"

import { assert, layer } from "@effect/vitest"
import { Lsn, UnchangedToast } from "@pgcdc/protocol"
import { TestDatabase } from "@pgcdc/testing"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { Effect } from "effect"
import * as Slot from "../../src/Slot.ts"
import { exec, replicate, sqlSession, takeTransactions } from "./support.ts"

const createSlot = (sql: ConnectionShape, name: string) =>
  Slot.create(name).pipe(Effect.provideService(Connection, sql))

for (const major of [18, 14] as const) {
  layer(TestDatabase.layer({ major, settings: { wal_sender_timeout: "2s" } }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })(`Replication on PostgreSQL ${major}`, (it) => {
    it.effect(
      "inserts, updates and deletes under every replica identity; truncate; logical messages",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query(`
          CREATE TABLE r_default (id int PRIMARY KEY, v text, big text);
          CREATE TABLE r_full (id int PRIMARY KEY, v text);
          ALTER TABLE r_full REPLICA IDENTITY FULL;
          CREATE TABLE r_index (id int NOT NULL, code text NOT NULL, v text);
          CREATE UNIQUE INDEX r_index_code ON r_index (code);
          ALTER TABLE r_index REPLICA IDENTITY USING INDEX r_index_code;
          CREATE PUBLICATION p_changes FOR TABLE r_default, r_full, r_index`)
          yield* createSlot(sql, "s_changes")
          yield* exec(sql, [
            "INSERT INTO r_default VALUES (1, 'a', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i))",
            "UPDATE r_default SET v = 'b' WHERE id = 1",
            "UPDATE r_default SET id = 2 WHERE id = 1",
            "DELETE FROM r_default WHERE id = 2",
            "INSERT INTO r_full VALUES (1, 'a')",
            "UPDATE r_full SET v = 'b'",
            "DELETE FROM r_full",
            "INSERT INTO r_index VALUES (1, 'c1', 'a')",
            "UPDATE r_index SET code = 'c2'",
            "DELETE FROM r_index",
            "TRUNCATE r_default, r_full",
            "SELECT pg_logical_emit_message(false, 'pfx', 'non-transactional')",
            "BEGIN; SELECT pg_logical_emit_message(true, 'pfx', 'transactional'); COMMIT;"
          ])
          const repl = yield* replicate(db, { slot: "s_changes", publications: ["p_changes"], messages: true })
          // 11 transactions (one per statement), a non-transactional message, one transaction with a message.
          const messages = yield* takeTransactions(repl, 12)
          const rows = messages.filter((m) => m._tag === "Insert" || m._tag === "Update" || m._tag === "Delete")
          const summary = rows.map((m) => {
            switch (m._tag) {
              case "Insert":
                return { op: "I", table: m.table.name, new: { ...m.new, big: undefined } }
              case "Update":
                return { op: "U", table: m.table.name, key: m.key, old: m.old, new: m.new }
              case "Delete":
                return { op: "D", table: m.table.name, key: m.key, old: m.old }
              default:
                return {}
            }
          })
          assert.deepStrictEqual(summary, [
            { op: "I", table: "r_default", new: { id: 1, v: "a", big: undefined } },
            // The TOASTed column did not change: PostgreSQL does not send it, and we say so instead of null.
            {
              op: "U",
              table: "r_default",
              key: undefined,
              old: undefined,
              new: { id: 1, v: "b", big: UnchangedToast }
            },
            {
              op: "U",
              table: "r_default",
              key: { id: 1 },
              old: undefined,
              new: { id: 2, v: "b", big: UnchangedToast }
            },
            { op: "D", table: "r_default", key: { id: 2 }, old: undefined },
            { op: "I", table: "r_full", new: { id: 1, v: "a", big: undefined } },
            { op: "U", table: "r_full", key: undefined, old: { id: 1, v: "a" }, new: { id: 1, v: "b" } },
            { op: "D", table: "r_full", key: undefined, old: { id: 1, v: "b" } },
            { op: "I", table: "r_index", new: { id: 1, code: "c1", v: "a", big: undefined } },
            { op: "U", table: "r_index", key: { code: "c1" }, old: undefined, new: { id: 1, code: "c2", v: "a" } },
            { op: "D", table: "r_index", key: { code: "c2" }, old: undefined }
          ])
          const relation = messages.find((m) => m._tag === "Relation" && m.table.name === "r_index")
          assert.deepStrictEqual(
            relation?._tag === "Relation" ? relation.table.columns.map((c) => [c.name, c.isKey]) : [],
            [
              ["id", false],
              ["code", true],
              ["v", false]
            ]
          )
          const truncate = messages.find((m) => m._tag === "Truncate")
          assert.deepStrictEqual(
            truncate?._tag === "Truncate" ? truncate.tables.map((t) => `${t.schema}.${t.name}`).sort() : [],
            ["public.r_default", "public.r_full"]
          )
          const logical = messages.filter((m) => m._tag === "Message")
          assert.deepStrictEqual(
            logical.map((m) =>
              m._tag === "Message" ? [m.transactional, m.prefix, new TextDecoder().decode(m.content)] : []
            ),
            [
              [false, "pfx", "non-transactional"],
              [true, "pfx", "transactional"]
            ]
          )
          // Positions: every message has one, and a Commit's walStart is its end LSN.
          for (const m of messages) {
            if (m._tag !== "Relation") assert.isTrue(m.walStart > Lsn.zero)
            if (m._tag === "Commit") assert.strictEqual(m.walStart, m.endLsn)
          }
        }),
      30_000
    )
  })
}
