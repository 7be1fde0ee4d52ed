/**
 * Configuration from libpq URLs and from the PG* environment variables (through Effect Config), libpq's defaults,
 * Unix socket directories, server version parsing, and errors that say what to change without showing passwords.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted, Result } from "effect"
import * as EnvConfig from "../src/EnvConfig.ts"
import { ConnectionConfig, parseServerVersion } from "../src/index.ts"

const url = (u: string) => Result.getOrThrow(ConnectionConfig.fromUrl(u))
const urlError = (u: string) => {
  const r = ConnectionConfig.fromUrl(u)
  assert.isTrue(Result.isFailure(r), `expected ${u} to be refused`)
  return Result.isFailure(r) ? r.failure : assert.fail()
}

describe("ConnectionConfig.fromUrl", () => {
  it("reads every part of a URL, percent-decoded", () => {
    const c = url(
      "postgres://u%40x:p%3Aw%2F@[::1]:5433/d%20b?sslmode=verify-full&sslrootcert=/ca.pem&application_name=a%20b&connect_timeout=10&options=-c%20search_path%3Dapp&replication=database&sslcert=/c.pem&sslkey=/k.pem&channel_binding=require"
    )
    assert.strictEqual(c.host, "::1")
    assert.strictEqual(c.port, 5433)
    assert.strictEqual(c.user, "u@x")
    assert.strictEqual(Redacted.value(c.password!), "p:w/")
    assert.strictEqual(c.database, "d b")
    assert.strictEqual(c.sslmode, "verify-full")
    assert.strictEqual(c.sslrootcert, "/ca.pem")
    assert.strictEqual(c.sslcert, "/c.pem")
    assert.strictEqual(c.sslkey, "/k.pem")
    assert.strictEqual(c.applicationName, "a b")
    assert.strictEqual(c.options, "-c search_path=app")
    assert.strictEqual(c.replication, "logical")
    assert.strictEqual(c.channelBinding, "require")
    assert.isTrue(Duration.equals(Duration.fromInputUnsafe(c.connectTimeout!), Duration.seconds(10)))
  })

  it("takes Unix socket directories from the host parameter or a percent-encoded host", () => {
    const a = url("postgresql:///db?host=/tmp/dir")
    assert.deepStrictEqual(ConnectionConfig.endpoint(a), { _tag: "Unix", path: "/tmp/dir/.s.PGSQL.5432" })
    assert.strictEqual(a.database, "db")
    const b = url("postgres://%2Fvar%2Frun%2Fpostgresql:6000/db")
    assert.deepStrictEqual(ConnectionConfig.endpoint(b), { _tag: "Unix", path: "/var/run/postgresql/.s.PGSQL.6000" })
    const tcp = url("postgresql://db.example:5555/x")
    assert.deepStrictEqual(ConnectionConfig.endpoint(tcp), { _tag: "Tcp", host: "db.example", port: 5555 })
  })

  it("fills libpq's defaults", () => {
    const c = url("postgresql://")
    assert.strictEqual(c.host, "localhost")
    assert.strictEqual(c.port, 5432)
    assert.strictEqual(c.user, "postgres")
    assert.strictEqual(c.database, "postgres")
    assert.isUndefined(c.password)
    const named = url("postgresql://alice@/")
    assert.strictEqual(named.database, "alice")
    const withDefaults = Result.getOrThrow(ConnectionConfig.fromUrl("postgres:///app", { host: "/sock", port: 7 }))
    assert.strictEqual(withDefaults.host, "/sock")
    assert.strictEqual(withDefaults.port, 7)
  })

  it("maps replication and connect_timeout as libpq does", () => {
    assert.strictEqual(url("postgres://h/d?replication=true").replication, "physical")
    assert.strictEqual(url("postgres://h/d?replication=on").replication, "physical")
    assert.isUndefined(url("postgres://h/d?replication=false").replication)
    const short = url("postgres://h/d?connect_timeout=1").connectTimeout!
    assert.isTrue(Duration.equals(Duration.fromInputUnsafe(short), Duration.seconds(2)))
    const never = url("postgres://h/d?connect_timeout=0").connectTimeout!
    assert.isFalse(Duration.isFinite(Duration.fromInputUnsafe(never)))
  })

  it("refuses what it does not understand, saying what to write instead", () => {
    assert.include(urlError("mysql://h/d").message, "postgres://")
    assert.include(urlError("postgres://h/d?sslmode=verify").message, "verify-full")
    assert.include(urlError("postgres://h/d?sslmod=require").message, 'Unknown connection URL parameter "sslmod"')
    assert.include(urlError("postgres://h:99999/d").message, "1 to 65535")
    assert.include(urlError("postgres://h1,h2/d").message, "single host")
    assert.include(urlError("postgres://h/d?replication=maybe").message, "database")
    assert.include(urlError("postgres://h/d?connect_timeout=soon").message, "seconds")
    const e = urlError("postgres://u:s3cret@h/d?bad=1")
    assert.notInclude(e.message, "s3cret")
    assert.isFalse(e.isRetryable)
  })

  it("never shows the password", () => {
    const c = url("postgres://alice:s3cret@h/d")
    assert.notInclude(ConnectionConfig.describe(c), "s3cret")
    assert.notInclude(JSON.stringify(c), "s3cret")
    assert.notInclude(String(c.password), "s3cret")
  })
})

describe("EnvConfig.fromEnv", () => {
  const env = (vars: Record<string, string>) => EnvConfig.fromEnv.parse(ConfigProvider.fromEnv({ env: vars }))

  it.effect("reads the libpq variables", () =>
    Effect.gen(function* () {
      const c = yield* env({
        PGHOST: "/run/pg",
        PGPORT: "6543",
        PGUSER: "app",
        PGPASSWORD: "pw",
        PGDATABASE: "appdb",
        PGSSLMODE: "verify-ca",
        PGSSLROOTCERT: "/ca.pem",
        PGAPPNAME: "worker",
        PGCONNECT_TIMEOUT: "5"
      })
      assert.strictEqual(c.host, "/run/pg")
      assert.strictEqual(c.port, 6543)
      assert.strictEqual(c.user, "app")
      assert.strictEqual(Redacted.value(c.password!), "pw")
      assert.strictEqual(c.database, "appdb")
      assert.strictEqual(c.sslmode, "verify-ca")
      assert.strictEqual(c.sslrootcert, "/ca.pem")
      assert.strictEqual(c.applicationName, "worker")
      assert.isTrue(Duration.equals(Duration.fromInputUnsafe(c.connectTimeout!), Duration.seconds(5)))
    })
  )

  it.effect("uses libpq's defaults when nothing is set, and names a bad variable", () =>
    Effect.gen(function* () {
      const c = yield* env({})
      assert.strictEqual(c.host, "localhost")
      assert.strictEqual(c.port, 5432)
      assert.isUndefined(c.password)
      const error = yield* Effect.flip(env({ PGSSLMODE: "sometimes" }))
      assert.include(error.message, "sslmode")
      const port = yield* Effect.flip(env({ PGPORT: "http" }))
      assert.include(port.message, "port")
    })
  )

  it.effect("reads a URL from a variable", () =>
    Effect.gen(function* () {
      const c = yield* EnvConfig.urlConfig("DATABASE_URL").parse(
        ConfigProvider.fromEnv({ env: { DATABASE_URL: "postgres://a:b@db:1234/x?sslmode=require" } })
      )
      assert.strictEqual(c.host, "db")
      assert.strictEqual(c.port, 1234)
      assert.strictEqual(c.sslmode, "require")
      const error = yield* Effect.flip(
        EnvConfig.urlConfig("DATABASE_URL").parse(ConfigProvider.fromEnv({ env: { DATABASE_URL: "http://x" } }))
      )
      assert.include(error.message, "DATABASE_URL")
    })
  )
})

describe("parseServerVersion", () => {
  it("turns server_version into the server_version_num form", () => {
    assert.strictEqual(parseServerVersion("18.1"), 180001)
    assert.strictEqual(parseServerVersion("14.12 (Debian 14.12-1.pgdg120+1)"), 140012)
    assert.strictEqual(parseServerVersion("17beta2"), 170000)
    assert.strictEqual(parseServerVersion("16devel"), 160000)
    assert.strictEqual(parseServerVersion("9.6.24"), 90624)
    assert.isUndefined(parseServerVersion("unknown"))
  })
})
