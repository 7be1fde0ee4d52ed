import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { existsSync } from "node:fs"
import { connect } from "node:net"
import pg from "pg"
import { majors, TestDatabase, type TestDatabaseInfo } from "../../src/index.ts"

const query = (db: TestDatabaseInfo, sql: string) =>
  Effect.promise(async () => {
    const client = new pg.Client({
      host: db.host,
      port: db.port,
      user: db.user,
      password: db.password,
      database: db.database
    })
    await client.connect()
    try {
      return (await client.query<Record<string, string>>(sql)).rows
    } finally {
      await client.end()
    }
  })

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const refusesConnections = (port: number) =>
  Effect.promise(
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port })
        socket.once("connect", () => {
          socket.destroy()
          resolve(false)
        })
        socket.once("error", () => resolve(true))
      })
  )

/** What must be true once a server's scope has closed: no process, no directory, no listener. */
const assertGone = (db: TestDatabaseInfo) =>
  Effect.gen(function* () {
    assert.isDefined(db.pid)
    assert.isFalse(alive(db.pid!), `postmaster ${db.pid} still running`)
    assert.isFalse(existsSync(db.dataDir!), `data directory ${db.dataDir} still exists`)
    assert.isTrue(yield* refusesConnections(db.port))
  })

describe("TestDatabase (embedded)", () => {
  it.effect(
    "starts PostgreSQL 14, 15, 16, 17 and 18 with wal_level=logical",
    () =>
      Effect.gen(function* () {
        const seen = yield* Effect.forEach(
          majors,
          (major) =>
            Effect.scoped(
              Effect.gen(function* () {
                const db = yield* TestDatabase.make({ major })
                const [row] = yield* query(
                  db,
                  "SELECT current_setting('server_version_num') AS v, current_setting('wal_level') AS wal"
                )
                return { major, db, version: Number(row!.v), walLevel: row!.wal }
              })
            ),
          { concurrency: "unbounded" }
        )
        for (const { major, db, version, walLevel } of seen) {
          assert.strictEqual(db.source, "embedded")
          assert.strictEqual(Math.floor(version / 10000), major)
          assert.strictEqual(db.major, major)
          assert.strictEqual(db.serverVersionNum, version)
          assert.strictEqual(walLevel, "logical")
        }
        // Five distinct servers, on five distinct ports.
        assert.strictEqual(new Set(seen.map((s) => s.db.port)).size, majors.length)
      }),
    120_000
  )

  it.effect("applies server settings and pg_hba.conf lines", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase.make({
        major: 16,
        settings: { logical_decoding_work_mem: "64kB", wal_sender_timeout: "2s" },
        hba: ["local all all trust", "host all all 127.0.0.1/32 md5", "host replication all 127.0.0.1/32 md5"]
      })
      const [row] = yield* query(
        db,
        "SELECT current_setting('logical_decoding_work_mem') AS mem, current_setting('wal_sender_timeout') AS timeout, current_setting('max_prepared_transactions') AS prepared"
      )
      assert.deepStrictEqual(row, { mem: "64kB", timeout: "2s", prepared: "10" })
      const rules = yield* query(
        db,
        "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' ORDER BY line_number"
      )
      assert.deepStrictEqual(
        rules.map((r) => r.auth_method),
        ["md5", "md5"]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("control.stop then control.start: the same port, socket directory and settings", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase.make({ major: 18, settings: { wal_sender_timeout: "2s" } })
      yield* db.control!.stop("smart")
      assert.isUndefined(yield* db.control!.pid)
      assert.isTrue(yield* refusesConnections(db.port))
      yield* db.control!.start
      assert.isDefined(yield* db.control!.pid)
      const [row] = yield* query(
        db,
        "SELECT current_setting('wal_level') AS level, current_setting('wal_sender_timeout') AS timeout"
      )
      assert.deepStrictEqual(row, { level: "logical", timeout: "2s" })
      assert.isTrue(existsSync(`${db.socketDir}/.s.PGSQL.${db.port}`))
    }).pipe(Effect.scoped)
  )

  it.effect("stops the server and removes its directory when the scope closes after a failure", () =>
    Effect.gen(function* () {
      let started: TestDatabaseInfo | undefined
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            started = yield* TestDatabase.make({ major: 18 })
            assert.isTrue(alive(started.pid!))
            return yield* Effect.fail("the test body failed")
          })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      yield* assertGone(started!)
    })
  )

  it.effect("stops the server when the test is interrupted", () =>
    Effect.gen(function* () {
      const ready = yield* Deferred.make<TestDatabaseInfo>()
      const fiber = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            const db = yield* TestDatabase.make({ major: 14 })
            yield* Deferred.succeed(ready, db)
            return yield* Effect.never
          })
        )
      )
      const db = yield* Deferred.await(ready)
      yield* Fiber.interrupt(fiber)
      yield* assertGone(db)
    })
  )
})
