/**
 * pgcdc against a server that cannot do logical replication (wal_level = replica, PostgreSQL 18), run as child
 * processes: `check` reports every problem of a broken setup at once (wal_level, a role without REPLICATION, a
 * published table without primary key), each with its fix, and exits 3; `tail --create-slot` fails on one line
 * saying what to change, and leaves no slot. commands.test.ts has the healthy setup (exit 0) on a logical server.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase, TestLogger } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import { pgcdc, scalar, sqlSession, urlAs } from "./support.ts"

/** What PostgreSQL says, on the test's own session, to CREATE PUBLICATION under wal_level = replica. */
const publicationWarning = 'Warn: PostgreSQL WARNING: "wal_level" is insufficient to publish logical changes'
const logged = (logs: TestLogger.TestLogger) => logs.entries.map((e) => `${e.level}: ${e.message}`)

interface CheckJson {
  readonly ok: boolean
  readonly problems: number
  readonly findings: ReadonlyArray<{ readonly severity: string; readonly subject: string; readonly fix?: string }>
}

layer(TestDatabase.layer({ major: 18, settings: { wal_level: "replica" } }), {
  excludeTestServices: true,
  timeout: "60 seconds"
})("pgcdc on a server with wal_level = replica", (it) => {
  it.effect("check reports wal_level, the role and the table without primary key, each with its fix; exit 3", () => {
    const logs = TestLogger.make()
    return Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      assert.strictEqual(yield* scalar(sql, "SHOW wal_level"), "replica")
      yield* sql.query(`
        CREATE ROLE plain_user LOGIN PASSWORD 'secret';
        CREATE TABLE keyless (a int, b int);
        CREATE PUBLICATION keyless_pub FOR TABLE keyless`)
      const url = urlAs(db, "plain_user", "secret")

      const json = yield* pgcdc(["check", "-P", "keyless_pub", "--json", "--url", url])
      assert.strictEqual(json.code, 3, json.stderr)
      assert.strictEqual(json.stderr, "")
      const report = JSON.parse(json.stdout) as CheckJson
      assert.isFalse(report.ok)
      const problems = report.findings.filter((f) => f.severity === "problem")
      assert.deepStrictEqual(
        problems.map((f) => f.subject),
        ["wal_level", "role", "table public.keyless"]
      )
      assert.strictEqual(report.problems, 3)
      assert.deepStrictEqual(
        problems.map((f) => f.fix?.split("\n")[0]),
        [
          "ALTER SYSTEM SET wal_level = logical; -- then restart the server",
          'ALTER ROLE "plain_user" WITH REPLICATION;',
          'ALTER TABLE "public"."keyless" ADD PRIMARY KEY (...); -- or, keeping whole old rows in the WAL:'
        ]
      )
      assert.include(problems[2]?.fix, 'ALTER TABLE "public"."keyless" REPLICA IDENTITY FULL;')

      // The text a person reads says the same, a fix under each problem, and the count.
      const text = yield* pgcdc(["check", "-P", "keyless_pub", "--url", url])
      assert.strictEqual(text.code, 3)
      assert.match(text.stdout, /^problem +wal_level +wal_level = replica: [^\n]*\n +fix: ALTER SYSTEM SET wal_level/m)
      assert.match(text.stdout, /^problem +role +role plain_user has no REPLICATION attribute/m)
      assert.match(text.stdout, /^problem +table public\.keyless +[^\n]*\n +fix: ALTER TABLE "public"\."keyless"/m)
      assert.match(text.stdout, /\n3 problems[^\n]*\n$/)
      assert.deepStrictEqual(logged(logs), [publicationWarning])
    }).pipe(Effect.scoped, TestLogger.provide(logs))
  })

  it.effect("tail --create-slot fails on one line naming wal_level, and leaves no slot", () => {
    const logs = TestLogger.make()
    return Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query("CREATE TABLE wl_t (id int PRIMARY KEY); CREATE PUBLICATION wl_pub FOR TABLE wl_t")
      const ran = yield* pgcdc(["tail", "-S", "wl_slot", "-P", "wl_pub", "--create-slot", "-d", db.url])
      assert.deepStrictEqual({ code: ran.code, stdout: ran.stdout }, { code: 1, stdout: "" }, ran.stderr)
      assert.match(
        ran.stderr,
        /^pgcdc tail: The server runs with wal_level = replica; [^\n]*wal_level = logical[^\n]*\n$/
      )
      assert.strictEqual(yield* scalar(sql, "SELECT count(*) FROM pg_replication_slots"), "0")
      assert.deepStrictEqual(logged(logs), [publicationWarning])
    }).pipe(Effect.scoped, TestLogger.provide(logs))
  })
})
