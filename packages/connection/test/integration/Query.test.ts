/**
 * The simple query protocol against a real PostgreSQL 18: results and command tags of several statements, typed
 * server errors that leave the session usable, serialised queries, cancellation of an interrupted query on the
 * server, notices, parameters, and the end of the server-side session when the scope closes.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@pgcdc/testing"
import { ConfigProvider, Effect, Exit, Fiber, Layer, Logger, Redacted, Schedule, Scope } from "effect"
import { Connection, type ConnectionConfig, ConnectionError } from "../../src/index.ts"

const configOf = (db: TestDatabase["Service"]): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database: db.database,
  applicationName: "pgcdc-query-test"
})

/** Polls until `check` holds: the server ends backends asynchronously to anything the client can observe. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet" as const))),
    Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 })
  )

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true })("simple query on PostgreSQL 18", (it) => {
  it.effect("runs several statements and returns one result per statement", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const conn = yield* Connection.make(configOf(db))
      const results = yield* conn.query(
        "CREATE TEMP TABLE t (id int, name text); INSERT INTO t VALUES (1, 'a'), (2, NULL); SELECT id, name FROM t ORDER BY id"
      )
      assert.deepStrictEqual(
        results.map((r) => r.command),
        ["CREATE TABLE", "INSERT 0 2", "SELECT 2"]
      )
      const select = results[2]!
      assert.deepStrictEqual(
        select.fields.map((f) => [f.name, f.dataTypeOid]),
        [
          ["id", 23],
          ["name", 25]
        ]
      )
      assert.deepStrictEqual(select.rows, [
        ["1", "a"],
        ["2", null]
      ])
      assert.isTrue(conn.serverVersion >= 180000 && conn.serverVersion < 190000)
      const params = yield* conn.parameters
      assert.strictEqual(params.get("client_encoding"), "UTF8")
      assert.strictEqual(params.get("application_name"), "pgcdc-query-test")
      assert.isDefined(conn.backendKey)
    })
  )

  it.effect("types a failing statement with its SQLSTATE and stays usable", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const conn = yield* Connection.make(configOf(db))
      const error = yield* Effect.flip(conn.query("SELECT 1; SELECT * FROM no_such_table; SELECT 3"))
      assert.instanceOf(error, ConnectionError)
      assert.strictEqual(error.reason, "Server")
      assert.strictEqual(error.code, "42P01")
      assert.strictEqual(error.severity, "ERROR")
      assert.strictEqual(error.position, "25")
      assert.include(error.message, "no_such_table")
      assert.isFalse(error.isRetryable)
      const nul = yield* Effect.flip(conn.query("SELECT 'a\u0000b'"))
      assert.strictEqual(nul.reason, "Protocol")
      assert.include(nul.message, "NUL")
      const syntax = yield* Effect.flip(conn.query("SELEC 1"))
      assert.strictEqual(syntax.code, "42601")
      const after = yield* conn.query("SELECT 42 AS answer")
      assert.deepStrictEqual(after[0]!.rows, [["42"]])
      const detail = yield* Effect.flip(
        conn.query("CREATE TEMP TABLE u (id int PRIMARY KEY); INSERT INTO u VALUES (1); INSERT INTO u VALUES (1)")
      )
      assert.strictEqual(detail.code, "23505")
      assert.strictEqual(detail.constraintName, "u_pkey")
      assert.strictEqual(detail.tableName, "u")
      assert.include(detail.detail ?? "", "already exists")
    })
  )

  it.effect("serialises concurrent queries on one connection", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const conn = yield* Connection.make(configOf(db))
      const results = yield* Effect.all(
        Array.from({ length: 20 }, (_, i) => conn.query(`SELECT ${i} AS n, pg_sleep(0.001)`)),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(
        results.map((r) => r[0]!.rows[0]![0]),
        Array.from({ length: 20 }, (_, i) => String(i))
      )
    })
  )

  it.effect("cancels an interrupted query on the server and stays usable", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const conn = yield* Connection.make(configOf(db))
      const observer = yield* Connection.make(configOf(db))
      const pid = conn.backendKey!.processId
      const running = yield* Effect.forkChild(conn.query("SELECT pg_sleep(30)"))
      yield* eventually(
        Effect.map(
          observer.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = ${pid} AND state = 'active'`),
          (r) => r[0]!.rows.length === 1
        )
      )
      yield* Fiber.interrupt(running)
      const state = yield* observer.query(`SELECT state, query FROM pg_stat_activity WHERE pid = ${pid}`)
      assert.strictEqual(state[0]!.rows[0]![0], "idle")
      const after = yield* conn.query("SELECT 'still usable'")
      assert.deepStrictEqual(after[0]!.rows, [["still usable"]])
    })
  )

  it.effect("surfaces NoticeResponse as Effect log lines at the matching level", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const conn = yield* Connection.make(configOf(db))
      const lines: Array<{ level: string; text: string }> = []
      const capture = Logger.make(({ logLevel, message }) => {
        lines.push({ level: logLevel, text: Array.isArray(message) ? message.join(" ") : String(message) })
      })
      yield* conn
        .query("DO $$ BEGIN RAISE WARNING 'careful %', 42; RAISE NOTICE 'fyi'; END $$")
        .pipe(Effect.provide(Logger.layer([capture])))
      assert.deepStrictEqual(lines, [
        { level: "Warn", text: "PostgreSQL WARNING: careful 42" },
        { level: "Info", text: "PostgreSQL NOTICE: fyi" }
      ])
    })
  )

  it.effect("sslmode=require against a server without TLS fails and says what to change", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const error = yield* Effect.flip(Effect.scoped(Connection.make({ ...configOf(db), sslmode: "require" })))
      assert.strictEqual(error.reason, "Tls")
      assert.include(error.message, "does not accept TLS connections")
      assert.include(error.message, "sslmode=prefer")
      // prefer falls back to plain text against the same server.
      const plain = yield* Connection.make({ ...configOf(db), sslmode: "prefer" })
      assert.isFalse(plain.tls)
    })
  )

  it.effect("Connection.layerConfig reads the PG* variables through Effect Config", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const env = {
        PGHOST: db.host,
        PGPORT: String(db.port),
        PGUSER: db.user,
        PGPASSWORD: db.password,
        PGDATABASE: db.database,
        PGAPPNAME: "from-env"
      }
      const name = yield* Effect.gen(function* () {
        const conn = yield* Connection
        return (yield* conn.query("SHOW application_name"))[0]!.rows[0]![0]
      }).pipe(
        Effect.provide(
          Connection.layerConfig().pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))
        )
      )
      assert.strictEqual(name, "from-env")
    })
  )

  it.effect("a terminated backend reports the server's reason, then the session is closed", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const conn = yield* Connection.make(configOf(db))
      const admin = yield* Connection.make(configOf(db))
      // With a timeout, pg_terminate_backend returns once the backend is gone, so its FATAL message is already sent.
      yield* admin.query(`SELECT pg_terminate_backend(${conn.backendKey!.processId}, 10000)`)
      const error = yield* Effect.flip(conn.query("SELECT 1"))
      assert.strictEqual(error.code, "57P01")
      assert.strictEqual(error.severityNonLocalized, "FATAL")
      assert.isTrue(error.isRetryable)
      const after = yield* Effect.flip(conn.query("SELECT 1"))
      assert.strictEqual(after.reason, "Closed")
      assert.isTrue(after.isRetryable)
    })
  )

  it.effect("closing the scope under a running query ends it with a Closed error, not a hang", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const observer = yield* Connection.make(configOf(db))
      const outcome = yield* Effect.gen(function* () {
        const scope = yield* Scope.make()
        const conn = yield* Connection.make(configOf(db)).pipe(Scope.provide(scope))
        const running = yield* Effect.forkDetach(conn.query("SELECT pg_sleep(30)"))
        // The query is in flight (the server runs it) before the scope closes under it.
        yield* eventually(
          Effect.map(
            observer.query(
              `SELECT 1 FROM pg_stat_activity WHERE pid = ${conn.backendKey!.processId} AND state = 'active'`
            ),
            (r) => r[0]!.rows.length === 1
          )
        )
        yield* Scope.close(scope, Exit.void)
        return yield* Fiber.await(running)
      })
      assert.isTrue(Exit.isFailure(outcome))
      const error = yield* Effect.flip(outcome)
      assert.strictEqual(error.reason, "Closed")
    })
  )

  it.effect("ends the server-side session when the scope closes", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const observer = yield* Connection.make(configOf(db))
      const pid = yield* Effect.scoped(
        Effect.gen(function* () {
          const conn = yield* Connection.make(configOf(db))
          const r = yield* conn.query("SELECT pg_backend_pid()")
          return Number(r[0]!.rows[0]![0])
        })
      )
      yield* eventually(
        Effect.map(
          observer.query(`SELECT count(*) FROM pg_stat_activity WHERE pid = ${pid}`),
          (r) => r[0]!.rows[0]![0] === "0"
        )
      )
    })
  )
})
