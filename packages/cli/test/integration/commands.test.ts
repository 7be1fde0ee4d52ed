/**
 * The management commands against an embedded PostgreSQL 18, run as child processes: slots and publications made,
 * listed (exactly, with --json), inspected and dropped; `check` on a healthy setup (exit 0) and on a broken one
 * (exit 3, with the SQL that fixes each problem), including a role without REPLICATION, whose `tail` then fails
 * saying the same fix.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import { pgcdc, scalar, sqlSession, urlAs } from "./support.ts"

interface FindingJson {
  readonly severity: string
  readonly subject: string
  readonly message: string
  readonly fix?: string
}
interface CheckJson {
  readonly ok: boolean
  readonly problems: number
  readonly findings: ReadonlyArray<FindingJson>
}

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })("pgcdc", (it) => {
  it.effect("slot create, list and inspect", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const url = ["--url", db.url]
      const created = yield* pgcdc(["slot", "create", "cmd_slot", "--json", ...url])
      assert.strictEqual(created.code, 0, created.stderr)
      const { consistentPoint } = JSON.parse(created.stdout) as { consistentPoint: string }
      assert.match(consistentPoint, /^[0-9A-F]+\/[0-9A-F]+$/)

      const listed = yield* pgcdc(["slot", "list", "--json", ...url])
      const slot = (JSON.parse(listed.stdout) as ReadonlyArray<Record<string, unknown>>).find(
        (s) => s.slot === "cmd_slot"
      )
      assert.deepInclude(slot, {
        plugin: "pgoutput",
        slotType: "logical",
        database: "postgres",
        active: false,
        confirmedFlushLsn: consistentPoint,
        walStatus: "reserved"
      })
      // Byte counts are exact decimal strings.
      assert.match(String(slot?.lagBytes), /^\d+$/)
      const table = yield* pgcdc(["slot", "list", ...url])
      assert.match(table.stdout, /^slot\s+plugin\s+database\s+active\s+wal_status\s+confirmed\s+lag\n/)
      assert.match(
        table.stdout,
        new RegExp(`\\ncmd_slot\\s+pgoutput\\s+postgres\\s+no\\s+reserved\\s+${consistentPoint}\\s`)
      )

      const inspected = yield* pgcdc(["slot", "inspect", "cmd_slot", ...url])
      assert.match(inspected.stdout, new RegExp(`^confirmedFlushLsn: +${consistentPoint}$`, "m"))
    })
  )

  it.effect("slot create refuses a duplicate; drop, then inspect and drop again fail unless --if-exists", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const url = ["--url", db.url]
      const duplicate = yield* pgcdc(["slot", "create", "cmd_slot", ...url])
      assert.strictEqual(duplicate.code, 1)
      assert.match(duplicate.stderr, /^pgcdc slot create: .*"cmd_slot" already exists[^\n]*\n$/)

      assert.strictEqual((yield* pgcdc(["slot", "drop", "cmd_slot", ...url])).stdout, "dropped slot cmd_slot\n")
      const gone = yield* pgcdc(["slot", "inspect", "cmd_slot", ...url])
      assert.deepStrictEqual(gone, {
        code: 1,
        stdout: "",
        stderr: 'pgcdc slot inspect: There is no replication slot "cmd_slot"\n'
      })
      assert.strictEqual((yield* pgcdc(["slot", "drop", "cmd_slot", ...url])).code, 1)
      assert.strictEqual(
        (yield* pgcdc(["slot", "drop", "cmd_slot", "--if-exists", ...url])).stdout,
        "no slot cmd_slot\n"
      )
    })
  )

  it.effect("publication create, list and drop", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query("CREATE TABLE pub_a (id int PRIMARY KEY); CREATE TABLE pub_b (id int PRIMARY KEY)")
      const url = ["-d", db.url]
      const created = yield* pgcdc([
        "publication",
        "create",
        "cmd_pub",
        "-t",
        "pub_a",
        "-t",
        "public.pub_b",
        "--publish",
        "insert,delete",
        ...url
      ])
      assert.strictEqual(created.code, 0, created.stderr)
      assert.strictEqual(created.stdout, "created publication cmd_pub: 2 tables (public.pub_a, public.pub_b)\n")
      const listed = yield* pgcdc(["publication", "list", "--json", ...url])
      const pub = (JSON.parse(listed.stdout) as ReadonlyArray<Record<string, unknown>>).find(
        (p) => p.publication === "cmd_pub"
      )
      assert.deepStrictEqual(pub, {
        publication: "cmd_pub",
        allTables: false,
        publish: ["insert", "delete"],
        viaPartitionRoot: false,
        tables: [
          { schema: "public", table: "pub_a" },
          { schema: "public", table: "pub_b" }
        ]
      })
      // A missing table: the statement fails whole, nothing is created.
      const missing = yield* pgcdc(["publication", "create", "cmd_pub2", "-t", "pub_a,nope", ...url])
      assert.strictEqual(missing.code, 1)
      assert.match(missing.stderr, /^pgcdc publication create: .*"nope" does not exist[^\n]*\n$/)
      assert.strictEqual(yield* scalar(sql, "SELECT count(*) FROM pg_publication WHERE pubname = 'cmd_pub2'"), "0")

      assert.strictEqual(
        (yield* pgcdc(["publication", "drop", "cmd_pub", ...url])).stdout,
        "dropped publication cmd_pub\n"
      )
      const again = yield* pgcdc(["publication", "drop", "cmd_pub", ...url])
      assert.deepStrictEqual(again, {
        code: 1,
        stdout: "",
        stderr: 'pgcdc publication drop: There is no publication "cmd_pub" in database "postgres"\n'
      })
    }).pipe(Effect.scoped)
  )

  it.effect("check: exit 0 on a healthy setup, 3 with the fixes when a published table refuses updates", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query(`
        CREATE TABLE chk_ok (id int PRIMARY KEY, v int);
        CREATE PUBLICATION chk_pub FOR TABLE chk_ok`)
      yield* sql.query("SELECT pg_create_logical_replication_slot('chk_slot', 'pgoutput')")
      const healthy = yield* pgcdc(["check", "-P", "chk_pub", "-d", db.url])
      assert.strictEqual(healthy.code, 0, healthy.stdout)
      assert.match(healthy.stdout, /^ok +wal_level +wal_level = logical$/m)
      assert.match(healthy.stdout, /\nno problems\n$/)

      // Without a primary key, PostgreSQL refuses UPDATE and DELETE of a table published for them.
      yield* sql.query(`
        CREATE TABLE chk_nokey (a int, note text);
        ALTER PUBLICATION chk_pub ADD TABLE chk_nokey`)
      const refused = yield* Effect.result(sql.query("UPDATE chk_nokey SET a = 1"))
      assert.isTrue(refused._tag === "Failure", "the server accepted an UPDATE the check calls a problem")
      const broken = yield* pgcdc(["check", "-P", "chk_pub", "-S", "chk_slot", "--json", "-d", db.url])
      assert.strictEqual(broken.code, 3)
      const report = JSON.parse(broken.stdout) as CheckJson
      assert.strictEqual(report.ok, false)
      const problems = report.findings.filter((f) => f.severity === "problem")
      assert.deepStrictEqual(
        problems.map((f) => f.subject),
        ["table public.chk_nokey"]
      )
      assert.include(problems[0]?.fix, 'ALTER TABLE "public"."chk_nokey" REPLICA IDENTITY FULL;')
      const warnings = report.findings.filter((f) => f.severity === "warning").map((f) => f.subject)
      // The TOAST-able text column, and a slot nobody streams.
      assert.includeMembers(warnings, ["table public.chk_nokey", "slot chk_slot"])
      yield* sql.query("SELECT pg_drop_replication_slot('chk_slot'); DROP PUBLICATION chk_pub")
    }).pipe(Effect.scoped)
  )

  it.effect("a role without REPLICATION: check says ALTER ROLE ... WITH REPLICATION, and tail fails saying it", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query(`
        CREATE ROLE app_reader LOGIN PASSWORD 'secret';
        CREATE TABLE role_t (id int PRIMARY KEY);
        CREATE PUBLICATION role_pub FOR TABLE role_t`)
      const url = urlAs(db, "app_reader", "secret")
      const checked = yield* pgcdc(["check", "-P", "role_pub", "--url", url])
      assert.strictEqual(checked.code, 3)
      assert.match(
        checked.stdout,
        /^problem +role +role app_reader has no REPLICATION attribute[^\n]*\n +fix: ALTER ROLE "app_reader" WITH REPLICATION;$/m
      )
      const tail = yield* pgcdc(["tail", "-S", "role_slot", "-P", "role_pub", "--create-slot", "--url", url])
      assert.strictEqual(tail.code, 1)
      assert.strictEqual(tail.stdout, "")
      assert.match(tail.stderr, /^pgcdc tail: [^\n]*ALTER ROLE "app_reader" WITH REPLICATION[^\n]*\n$/)
      assert.strictEqual(
        yield* scalar(sql, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'role_slot'"),
        "0"
      )
    }).pipe(Effect.scoped)
  )
})
