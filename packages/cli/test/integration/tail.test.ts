/**
 * `pgcdc tail` against an embedded PostgreSQL 18, run as a child process: a short workload printed as JSON lines
 * (values, LSNs, unchanged TOAST) with the slot moved to the last line's commit; `--create-slot`, `--start`; nothing
 * created when a check fails (the example this command replaces created the slot, then failed on the publication,
 * leaving a slot that held WAL); Ctrl-C stops it with its position reported and exit status 130.
 */
import { assert, layer } from "@effect/vitest"
import { Lsn } from "@pgcdc/replication"
import { TestDatabase } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import { jsonLines, type Line, pgcdc, scalar, sqlSession, start } from "./support.ts"

const lsnText = /^[0-9A-F]+\/[0-9A-F]+$/

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })("pgcdc tail", (it) => {
  it.effect("prints a workload as JSON lines and commits the last line's position", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
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

      const { code, stdout, stderr } = yield* pgcdc([
        "tail",
        "--url",
        db.url,
        "-S",
        "tail_slot",
        "-P",
        "tail_pub",
        "-E",
        end
      ])
      assert.strictEqual(code, 0, stderr)
      const lines = jsonLines(stdout)
      assert.deepStrictEqual(
        lines.map((l) => l._tag),
        ["Begin", "Relation", "Insert", "Commit", "Begin", "Update", "Commit", "Begin", "Delete", "Commit"]
      )
      for (const line of lines) {
        assert.match(String(line.walStart), lsnText)
        assert.match(String(line.walEnd), lsnText)
      }
      const [begin, relation, insert, commit, , update, , , del, lastCommit] = lines as ReadonlyArray<Line>
      assert.match(String(begin?.finalLsn), lsnText)
      assert.match(String(begin?.commitTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
      assert.deepStrictEqual(
        { schema: relation?.schema, table: relation?.table, identity: relation?.replicaIdentity },
        { schema: "public", table: "tail_t", identity: "d" }
      )
      const newRow = insert?.new as Record<string, unknown>
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
      assert.strictEqual(typeof newRow.big === "string" ? newRow.big.length : 0, 3200)
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
      assert.strictEqual(stderr, `pgcdc tail: 10 lines, committed ${Lsn.format(lastEnd)}\n`)
      yield* sql.query("SELECT pg_drop_replication_slot('tail_slot')")
    }).pipe(Effect.scoped)
  )

  it.effect("creates the slot when asked, and stops at --end when nothing is left to print", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query("CREATE PUBLICATION tail_new_pub FOR ALL TABLES")
      const end = (yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")) ?? "0/0"
      const ran = yield* pgcdc([
        "tail",
        "-d",
        db.url,
        "-S",
        "tail_new_slot",
        "-P",
        "tail_new_pub",
        "--create-slot",
        "-E",
        end,
        "--json"
      ])
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.strictEqual(ran.stdout, "")
      assert.deepStrictEqual(Object.keys(JSON.parse(ran.stderr) as object), ["lines", "committed"])
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
        CREATE TABLE tail_start (id int PRIMARY KEY);
        CREATE PUBLICATION tail_start_pub FOR TABLE tail_start`)
      yield* sql.query("SELECT pg_create_logical_replication_slot('tail_start_slot', 'pgoutput')")
      yield* sql.query("INSERT INTO tail_start VALUES (1)")
      const from = (yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")) ?? "0/0"
      yield* sql.query("INSERT INTO tail_start VALUES (2)")
      const end = (yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text")) ?? "0/0"
      const ran = yield* pgcdc([
        "tail",
        "-d",
        db.url,
        "-S",
        "tail_start_slot",
        "-P",
        "tail_start_pub",
        "-I",
        from,
        "-E",
        end
      ])
      assert.strictEqual(ran.code, 0, ran.stderr)
      const inserted = jsonLines(ran.stdout)
        .filter((l) => l._tag === "Insert")
        .map((l) => l.new)
      assert.deepStrictEqual(inserted, [{ id: 2 }])
      yield* sql.query("SELECT pg_drop_replication_slot('tail_start_slot'); DROP PUBLICATION tail_start_pub")
    }).pipe(Effect.scoped)
  )

  it.effect("checks the publications before --create-slot creates anything: a failed start leaves no slot", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      const ran = yield* pgcdc(["tail", "-d", db.url, "-S", "orphan_slot", "-P", "missing_pub", "--create-slot"])
      assert.strictEqual(ran.code, 1)
      assert.strictEqual(ran.stdout, "")
      const slots = yield* scalar(sql, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'orphan_slot'")
      assert.strictEqual(slots, "0", "the failed tail left a slot holding WAL")
      assert.match(
        ran.stderr,
        /^pgcdc tail: Publication "missing_pub" does not exist in database "postgres": [^\n]+\n$/
      )
    }).pipe(Effect.scoped)
  )

  it.effect("Ctrl-C stops it: the position of the last line is reported, exit status 130", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query("CREATE TABLE tail_int (id int PRIMARY KEY); CREATE PUBLICATION tail_int_pub FOR TABLE tail_int")
      yield* sql.query("SELECT pg_create_logical_replication_slot('tail_int_slot', 'pgoutput')")
      yield* sql.query("INSERT INTO tail_int VALUES (1)")
      const child = start(["tail", "-d", db.url, "-S", "tail_int_slot", "-P", "tail_int_pub"])
      let stdout = ""
      let stderr = ""
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString()
      })
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
      // The insert's transaction is printed (through its Commit): then interrupt.
      yield* Effect.promise(
        () =>
          new Promise<void>((resolve) =>
            child.stdout?.on("data", (chunk: Buffer) => {
              stdout += chunk.toString()
              if (stdout.includes('"_tag":"Commit"')) resolve()
            })
          )
      )
      child.kill("SIGINT")
      const code = yield* Effect.promise(() => exited)
      assert.strictEqual(code, 130, stderr)
      const commit = jsonLines(stdout).find((l) => l._tag === "Commit")
      assert.strictEqual(stderr, `pgcdc tail: ${jsonLines(stdout).length} lines, committed ${String(commit?.endLsn)}\n`)
      // The final status update reached the server before the session closed.
      const confirmed = yield* scalar(
        sql,
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'tail_int_slot'"
      )
      assert.isTrue(Lsn.unsafeParse(confirmed ?? "0/0") >= Lsn.unsafeParse(String(commit?.endLsn)))
    }).pipe(Effect.scoped)
  )
})
