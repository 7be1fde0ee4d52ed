/**
 * `demo --target URL` against PostgreSQL 18, source and target databases on one server: a few seconds of random
 * writes applied into the target by @pgcdc/sink-postgres end with "verdict: equal", the target's table read back
 * equals the source's, and the sink's progress row moved past the snapshot (so the rows came through the sink, not
 * another way). Its failures are one line on stderr with exit status 1: a bad URL, an unreachable target, the source
 * database given as the target.
 */
import { assert, layer } from "@effect/vitest"
import { Lsn } from "@pgcdc/protocol"
import { TestDatabase } from "@pgcdc/testing"
import { session } from "@pgcdc/testing/internal/integration"
import { Effect } from "effect"
import { differences } from "../../src/Compare.ts"
import { readAll, sessionSettings } from "../../src/MirrorTable.ts"
import { runDemo } from "./runDemo.ts"

/** The URL of `database` on the test server. */
const urlOf = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

const lsnIn = (text: string, pattern: RegExp): Lsn.Lsn => {
  const found = pattern.exec(text)?.[1]
  assert.isDefined(found, `${pattern} in:\n${text}`)
  return Lsn.unsafeParse(found ?? "0/0")
}

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "120 seconds" })(
  "mirror --target",
  (it) => {
    it.effect("applies the table into another database through the sink, exactly as the source has it", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const source = yield* session(db)
        yield* source.query("CREATE DATABASE mirror_target")
        const name = "pgcdc_mirror_target"
        const args = ["--url", db.url, "--target", urlOf(db.url, "mirror_target"), "--name", name]
        const { code, stdout, stderr } = yield* runDemo([...args, "--duration", "3", "--rate", "300", "-n", "200"])
        assert.strictEqual(code, 0, `${stdout}\n${stderr}`)
        // The sink's one log line: it started with no progress row in the target.
        assert.match(
          stderr,
          new RegExp(`^demo: info: sink ${name}: resuming after nothing \\(no progress row yet\\)$`, "m")
        )
        assert.match(stdout, new RegExp(`verdict: equal \\(\\d+ rows in table ${name} and in ${name} on the target\\)`))

        // The target's table, read here, equals the source's value by value (the demo's verdict aside).
        const target = yield* session(db, "mirror_target")
        yield* source.query(sessionSettings)
        yield* target.query(sessionSettings)
        const sourceRows = yield* readAll(source, name)
        const targetRows = yield* readAll(target, name)
        assert.isAbove(sourceRows.size, 0)
        assert.deepStrictEqual(differences(sourceRows, targetRows, "the target"), [])

        // Through the sink: its progress row exists and moved past the snapshot's consistent point, over the writes.
        const snapshot = lsnIn(stdout, /after a snapshot of \d+ rows at (\d+\/[0-9A-F]+)/)
        const results = yield* target.query(`SELECT commit_lsn::text FROM pgcdc_sink_progress WHERE id = '${name}'`)
        const row = results.at(-1)?.rows[0]
        assert.isDefined(row, "no pgcdc_sink_progress row: the sink did not apply the table")
        const progress = Lsn.unsafeParse(row?.[0] ?? "0/0")
        assert.isTrue(progress > snapshot, `progress ${Lsn.format(progress)} after snapshot ${Lsn.format(snapshot)}`)
        assert.strictEqual(lsnIn(stdout, /pgcdc_sink_progress row \S+ at commit (\d+\/[0-9A-F]+)/), progress)
        // Counted alike: the stream carried what the writer changed, and the sink applied that many transactions.
        const carried = /so the stream carries (\d+) changes in (\d+) transactions/.exec(stdout)
        assert.isNotNull(carried, stdout)
        assert.match(stdout, new RegExp(`consumer caught up: ${carried?.[1]} changes in ${carried?.[2]} transactions`))
      })
    )

    it.effect("fails on one line with exit status 1: a bad URL, an unreachable target, the source itself", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const badUrl = yield* runDemo(["--url", db.url, "--target", "postgres://nobody@127.0.0.1:notaport/db"])
        assert.strictEqual(badUrl.code, 1, badUrl.stderr)
        assert.match(badUrl.stderr, /^demo: --target: [^\n]+\n$/)
        assert.notInclude(badUrl.stdout, "server:", "a bad --target fails before anything starts")

        // Nothing listens on port 1.
        const unreachable = yield* runDemo(["--url", db.url, "--target", "postgres://nobody@127.0.0.1:1/nodb"])
        assert.strictEqual(unreachable.code, 1, unreachable.stderr)
        assert.match(unreachable.stderr, /^demo: --target: Could not connect to 127\.0\.0\.1:1[^\n]*\n$/)

        const itself = yield* runDemo(["--url", db.url, "--target", urlOf(db.url, db.database), "--name", "itself"])
        assert.strictEqual(itself.code, 1, itself.stderr)
        assert.match(itself.stderr, /^demo: --target: \S+ is the source database: [^\n]+\n$/)
      })
    )
  }
)
