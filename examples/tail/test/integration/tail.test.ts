/**
 * The tail command against an embedded PostgreSQL 18: a short workload, then `node src/main.ts ... --end <lsn>` is
 * spawned and its stdout read back as JSON lines (values, LSNs, unchanged TOAST), and the slot must have moved to the
 * last line's commit. Plus the JSON form of messages the workload does not produce.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import type { Table, WalMessage } from "@pgcdc/replication"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Effect, Redacted } from "effect"
import { execFile } from "node:child_process"
import * as path from "node:path"
import { promisify } from "node:util"
import { toJson } from "../../src/JsonLine.ts"

const exec = promisify(execFile)
const here = import.meta.dirname
const node = path.resolve(here, "../../../../node_modules/.bin/node")
const main = path.resolve(here, "../../src/main.ts")

const sqlSession = (db: TestDatabaseInfo) =>
  Connection.make({
    host: db.host,
    port: db.port,
    user: db.user,
    password: Redacted.make(db.password),
    database: db.database,
    sslmode: "disable"
  })

const scalar = (conn: ConnectionShape, sql: string) =>
  Effect.map(conn.query(sql), (results) => results.at(-1)?.rows[0]?.[0] ?? null)

type Line = Record<string, unknown> & { readonly _tag: string }
const lsnText = /^[0-9A-F]+\/[0-9A-F]+$/

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })("tail", (it) => {
  it.effect(
    "prints a workload as JSON lines and commits the last line's position",
    () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        // Leftovers of an earlier run on a shared server (PGCDC_TEST_URL).
        yield* sql.query(`
          SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'tail_slot';
          DROP PUBLICATION IF EXISTS tail_pub;
          DROP TABLE IF EXISTS tail_t`)
        yield* sql.query(`
          CREATE TABLE tail_t (id int8 PRIMARY KEY, n numeric, b bytea, j jsonb, ts timestamptz, arr int4[],
                               big text, f float8, ok boolean);
          ALTER TABLE tail_t ALTER COLUMN big SET STORAGE EXTERNAL;
          CREATE PUBLICATION tail_pub FOR TABLE tail_t`)
        yield* sql.query("SELECT pg_create_logical_replication_slot('tail_slot', 'pgoutput')")
        yield* sql.query(`INSERT INTO tail_t VALUES (9007199254740993, 1.10, '\\xdeadbeef',
          '{"a": 12345678901234567890, "b": null}', '2024-02-29 13:05:00.123456+00', ARRAY[1, 2, 3],
          (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 100) i), 'NaN', true)`)
        yield* sql.query("UPDATE tail_t SET ok = false WHERE id = 9007199254740993")
        yield* sql.query("DELETE FROM tail_t WHERE id = 9007199254740993")
        const end = (yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")) ?? "0/0"

        const { stdout, stderr } = yield* Effect.promise(() =>
          exec(node, [main, "--url", db.url, "--slot", "tail_slot", "--publication", "tail_pub", "--end", end], {
            timeout: 60_000
          })
        )
        const lines = stdout
          .trimEnd()
          .split("\n")
          .map((l) => JSON.parse(l) as Line)
        assert.deepStrictEqual(
          lines.map((l) => l._tag),
          ["Begin", "Relation", "Insert", "Commit", "Begin", "Update", "Commit", "Begin", "Delete", "Commit"]
        )
        for (const line of lines) {
          assert.match(String(line.walStart), lsnText)
          assert.match(String(line.walEnd), lsnText)
        }
        const [begin, relation, insert, commit, , update, , , del, lastCommit] = lines
        assert.match(String(begin?.finalLsn), lsnText)
        assert.match(String(begin?.commitTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
        assert.strictEqual(typeof begin?.xid, "number")
        assert.deepStrictEqual(
          { schema: relation?.schema, table: relation?.table, identity: relation?.replicaIdentity },
          { schema: "public", table: "tail_t", identity: "d" }
        )
        const newRow = insert?.new as Record<string, unknown>
        const big = newRow.big
        assert.deepStrictEqual(
          { ...newRow, big: undefined },
          {
            id: "9007199254740993",
            n: "1.10",
            b: "deadbeef",
            j: '{"a": 12345678901234567890, "b": null}',
            ts: "2024-02-29 13:05:00.123456+00",
            arr: "{1,2,3}",
            big: undefined,
            f: "NaN",
            ok: true
          }
        )
        assert.strictEqual(typeof big === "string" ? big.length : 0, 3200)
        assert.match(String(commit?.commitLsn), lsnText)
        assert.match(String(commit?.endLsn), lsnText)
        // The TOASTed column did not change: PostgreSQL did not send it, and the line says so instead of null.
        const updated = update?.new as Record<string, unknown>
        assert.deepStrictEqual(updated.big, { unchangedToast: true })
        assert.strictEqual(updated.ok, false)
        assert.strictEqual((del?.key as Record<string, unknown> | undefined)?.id, "9007199254740993")

        // Each line's position was committed after it was written: the slot stands at (or past) the last commit.
        const lastEnd = Lsn.unsafeParse(String(lastCommit?.endLsn))
        const confirmed = Lsn.unsafeParse(
          (yield* scalar(
            sql,
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'tail_slot'"
          )) ?? "0/0"
        )
        assert.isTrue(confirmed >= lastEnd, `confirmed ${Lsn.format(confirmed)} < last commit ${Lsn.format(lastEnd)}`)
        assert.include(stderr, `tail: 10 lines, committed ${Lsn.format(lastEnd)}`)
        yield* sql.query("SELECT pg_drop_replication_slot('tail_slot')")
      }).pipe(Effect.scoped),
    60_000
  )

  it.effect("creates the slot when asked, and stops at --end when nothing is left to print", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query(`
        SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'tail_new_slot';
        DROP PUBLICATION IF EXISTS tail_new_pub;
        CREATE PUBLICATION tail_new_pub FOR ALL TABLES`)
      const end = (yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")) ?? "0/0"
      const args = ["--url", db.url, "-S", "tail_new_slot", "-P", "tail_new_pub", "--create-slot", "-E", end]
      const { stdout, stderr } = yield* Effect.promise(() => exec(node, [main, ...args], { timeout: 60_000 }))
      assert.strictEqual(stdout, "")
      assert.match(stderr, /^tail: 0 lines, committed /)
      const slot = yield* scalar(sql, "SELECT plugin FROM pg_replication_slots WHERE slot_name = 'tail_new_slot'")
      assert.strictEqual(slot, "pgoutput")
      yield* sql.query("SELECT pg_drop_replication_slot('tail_new_slot'); DROP PUBLICATION tail_new_pub")
    }).pipe(Effect.scoped)
  )

  it.effect("starts at --start: transactions that committed before it are not printed", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query(`
        SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'tail_start_slot';
        DROP PUBLICATION IF EXISTS tail_start_pub;
        DROP TABLE IF EXISTS tail_start;
        CREATE TABLE tail_start (id int PRIMARY KEY);
        CREATE PUBLICATION tail_start_pub FOR TABLE tail_start`)
      yield* sql.query("SELECT pg_create_logical_replication_slot('tail_start_slot', 'pgoutput')")
      yield* sql.query("INSERT INTO tail_start VALUES (1)")
      const start = (yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")) ?? "0/0"
      yield* sql.query("INSERT INTO tail_start VALUES (2)")
      const end = (yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")) ?? "0/0"
      const args = ["--url", db.url, "-S", "tail_start_slot", "-P", "tail_start_pub", "-I", start, "-E", end]
      const { stdout } = yield* Effect.promise(() => exec(node, [main, ...args], { timeout: 60_000 }))
      const inserted = stdout
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l) as Line)
        .filter((l) => l._tag === "Insert")
        .map((l) => l.new)
      assert.deepStrictEqual(inserted, [{ id: 2 }])
      yield* sql.query("SELECT pg_drop_replication_slot('tail_start_slot'); DROP PUBLICATION tail_start_pub")
    }).pipe(Effect.scoped)
  )

  it.effect("says which option is wrong", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const failure = yield* Effect.promise(() =>
        exec(node, [main, "--url", db.url, "--slot", "s", "--publication", "p", "--end", "yesterday"]).then(
          () => ({ code: 0, stderr: "" }),
          (e: { code: number; stderr: string }) => e
        )
      )
      assert.strictEqual(failure.code, 1)
      assert.include(failure.stderr, '--end "yesterday" is not an LSN')
    })
  )
})

describe("JSON lines", () => {
  const table: Table = {
    relationId: 1,
    schema: "app",
    name: "t",
    replicaIdentity: "f",
    columns: [{ name: "id", typeOid: 20, typeModifier: -1, isKey: true }]
  }
  const at = { walStart: Lsn.unsafeParse("1/A0"), walEnd: Lsn.unsafeParse("1/B0") }

  it("formats logical decoding messages and truncates", () => {
    const message: WalMessage = {
      _tag: "Message",
      xid: undefined,
      transactional: false,
      lsn: Lsn.unsafeParse("1/9F"),
      prefix: "app",
      content: new Uint8Array([0, 255, 16]),
      ...at
    }
    assert.deepStrictEqual(toJson(message), {
      _tag: "Message",
      transactional: false,
      lsn: "1/9F",
      prefix: "app",
      content: "00ff10",
      walStart: "1/A0",
      walEnd: "1/B0"
    })
    const truncate: WalMessage = {
      _tag: "Truncate",
      xid: 7,
      cascade: true,
      restartIdentity: false,
      tables: [table],
      ...at
    }
    assert.deepStrictEqual(toJson(truncate), {
      _tag: "Truncate",
      xid: 7,
      cascade: true,
      restartIdentity: false,
      walStart: "1/A0",
      walEnd: "1/B0",
      tables: [{ schema: "app", table: "t" }]
    })
  })

  it("keeps SQL NULL, non-finite floats and int8 apart from what JSON would make of them", () => {
    const insert: WalMessage = {
      _tag: "Insert",
      xid: undefined,
      table,
      new: { id: 2n ** 63n - 1n, missing: null, f: Number.NEGATIVE_INFINITY },
      ...at
    }
    assert.deepStrictEqual(toJson(insert).new, { id: "9223372036854775807", missing: null, f: "-Infinity" })
  })
})
