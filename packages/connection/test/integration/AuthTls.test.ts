/**
 * Authentication methods and TLS modes against real PostgreSQL 14 to 18 servers with TLS on (certificates made
 * with openssl at test time). One server per major; pg_hba.conf gives each method its own role:
 * trust, password (cleartext), md5, scram-sha-256, a TLS-only role (for sslmode=allow's retry) and a
 * client-certificate role.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Context, Effect, Layer, Redacted } from "effect"
import { Connection, type ConnectionConfig, type ConnectionError, type ConnectionShape } from "../../src/index.ts"
import { type Certificates, makeCertificates } from "../support/Certificates.ts"

const hba = [
  "local all all trust",
  "hostssl all cert_user 127.0.0.1/32 cert",
  "hostssl all ssl_only_user 127.0.0.1/32 scram-sha-256",
  "hostnossl all ssl_only_user 127.0.0.1/32 reject",
  "host all trust_user 127.0.0.1/32 trust",
  "host all password_user 127.0.0.1/32 password",
  "host all md5_user 127.0.0.1/32 md5",
  "host all all 127.0.0.1/32 scram-sha-256",
  "host replication all 127.0.0.1/32 scram-sha-256"
]

const setup = `
CREATE ROLE trust_user LOGIN;
CREATE ROLE password_user LOGIN PASSWORD 'pw-secret';
-- PostgreSQL 18 warns that MD5 passwords are deprecated: this test needs one on purpose.
SET client_min_messages = error;
SET password_encryption = 'md5';
CREATE ROLE md5_user LOGIN PASSWORD 'md5-secret';
RESET password_encryption;
RESET client_min_messages;
CREATE ROLE scram_user LOGIN PASSWORD 'scram-secret';
CREATE ROLE ssl_only_user LOGIN PASSWORD 'ssl-secret';
CREATE ROLE cert_user LOGIN;
`

class Fixture extends Context.Service<Fixture, { readonly db: TestDatabaseInfo; readonly certs: Certificates }>()(
  "test/AuthTls/Fixture"
) {}

const fixture = (major: 14 | 15 | 16 | 17 | 18) =>
  Layer.effect(
    Fixture,
    Effect.gen(function* () {
      const certs = yield* makeCertificates("cert_user")
      const db = yield* TestDatabase.make({
        major,
        hba,
        ssl: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile }
      })
      yield* Effect.scoped(
        Effect.flatMap(
          Connection.make({ host: db.socketDir!, port: db.port, user: db.user, database: db.database }),
          (admin) => admin.query(setup)
        )
      )
      return { db, certs }
    })
  )

const base = (db: TestDatabaseInfo, user: string, password?: string): ConnectionConfig => ({
  host: "127.0.0.1",
  port: db.port,
  user,
  database: "postgres",
  sslmode: "disable",
  ...(password !== undefined ? { password: Redacted.make(password) } : {})
})

/** Whether the server sees this session as TLS (pg_stat_ssl), cross-checked with what the client reports. */
const serverSeesTls = (conn: ConnectionShape) =>
  Effect.map(conn.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), (r) => {
    const ssl = r[0]!.rows[0]![0] === "t"
    assert.strictEqual(conn.tls, ssl)
    return ssl
  })

const connectFails = (config: ConnectionConfig) => Effect.flip(Effect.scoped(Connection.make(config)))

const assertAuthFailure = (error: ConnectionError, code: string) => {
  assert.strictEqual(error.reason, "Auth")
  assert.strictEqual(error.code, code)
  assert.isFalse(error.isRetryable)
}

for (const major of [14, 15, 16, 17, 18] as const) {
  layer(fixture(major), { excludeTestServices: true, timeout: "60 seconds" })(
    `auth and TLS on PostgreSQL ${major}`,
    (it) => {
      it.effect("trust needs no password", () =>
        Effect.gen(function* () {
          const { db } = yield* Fixture
          const conn = yield* Connection.make(base(db, "trust_user"))
          const r = yield* conn.query("SELECT current_user")
          assert.strictEqual(r[0]!.rows[0]![0], "trust_user")
        })
      )

      it.effect("cleartext password: right password in, wrong password out with 28P01", () =>
        Effect.gen(function* () {
          const { db } = yield* Fixture
          const conn = yield* Connection.make(base(db, "password_user", "pw-secret"))
          assert.strictEqual((yield* conn.query("SELECT current_user"))[0]!.rows[0]![0], "password_user")
          const error = yield* connectFails(base(db, "password_user", "wrong"))
          assertAuthFailure(error, "28P01")
          assert.include(error.message, 'password authentication failed for user "password_user"')
          const missing = yield* connectFails(base(db, "password_user"))
          assert.strictEqual(missing.reason, "Auth")
          assert.include(missing.message, "none is configured")
        })
      )

      it.effect("md5: right password in, wrong password out with 28P01", () =>
        Effect.gen(function* () {
          const { db } = yield* Fixture
          const conn = yield* Connection.make(base(db, "md5_user", "md5-secret"))
          assert.strictEqual((yield* conn.query("SELECT current_user"))[0]!.rows[0]![0], "md5_user")
          assertAuthFailure(yield* connectFails(base(db, "md5_user", "wrong")), "28P01")
        })
      )

      it.effect("scram-sha-256 without TLS: right password in, wrong password out", () =>
        Effect.gen(function* () {
          const { db } = yield* Fixture
          const conn = yield* Connection.make(base(db, "scram_user", "scram-secret"))
          assert.isFalse(yield* serverSeesTls(conn))
          assertAuthFailure(yield* connectFails(base(db, "scram_user", "wrong")), "28P01")
          const needsTls = yield* connectFails({ ...base(db, "scram_user", "scram-secret"), channelBinding: "require" })
          assert.strictEqual(needsTls.reason, "Auth")
          assert.include(needsTls.message, "channel_binding=require")
        })
      )

      it.effect("SCRAM-SHA-256-PLUS binds to the TLS channel", () =>
        Effect.gen(function* () {
          const { db, certs } = yield* Fixture
          // channel_binding=require fails unless the exchange really used SCRAM-SHA-256-PLUS.
          const conn = yield* Connection.make({
            ...base(db, "scram_user", "scram-secret"),
            sslmode: "verify-full",
            host: "localhost",
            sslrootcert: certs.caFile,
            channelBinding: "require"
          })
          assert.isTrue(yield* serverSeesTls(conn))
          assertAuthFailure(
            yield* connectFails({
              ...base(db, "scram_user", "wrong"),
              sslmode: "require",
              channelBinding: "require"
            }),
            "28P01"
          )
          // The server refuses "trust" sessions for channel_binding=require: no proof that the channel is bound.
          const trusted = yield* connectFails({
            ...base(db, "trust_user"),
            sslmode: "require",
            channelBinding: "require"
          })
          assert.strictEqual(trusted.reason, "Auth")
        })
      )

      it.effect("sslmode disable, allow, prefer and require", () =>
        Effect.gen(function* () {
          const { db } = yield* Fixture
          const user = base(db, "scram_user", "scram-secret")
          assert.isFalse(yield* serverSeesTls(yield* Connection.make({ ...user, sslmode: "disable" })))
          assert.isFalse(yield* serverSeesTls(yield* Connection.make({ ...user, sslmode: "allow" })))
          assert.isTrue(yield* serverSeesTls(yield* Connection.make({ ...user, sslmode: "prefer" })))
          assert.isTrue(yield* serverSeesTls(yield* Connection.make({ ...user, sslmode: "require" })))
          // allow: the plain attempt is rejected by pg_hba.conf (hostnossl ... reject), the retry uses TLS.
          const tlsOnly = base(db, "ssl_only_user", "ssl-secret")
          assert.isTrue(yield* serverSeesTls(yield* Connection.make({ ...tlsOnly, sslmode: "allow" })))
          const refused = yield* connectFails({ ...tlsOnly, sslmode: "disable" })
          assert.strictEqual(refused.reason, "Auth")
          assert.strictEqual(refused.code, "28000")
        })
      )

      it.effect("verify-ca checks the chain, verify-full also the host name", () =>
        Effect.gen(function* () {
          const { db, certs } = yield* Fixture
          const user = base(db, "scram_user", "scram-secret")
          // The certificate names only DNS:localhost; verify-ca does not care which host we dialled.
          const ca = yield* Connection.make({ ...user, sslmode: "verify-ca", sslrootcert: certs.caFile })
          assert.isTrue(yield* serverSeesTls(ca))
          const wrongCa = yield* connectFails({ ...user, sslmode: "verify-ca", sslrootcert: certs.otherCaFile })
          assert.strictEqual(wrongCa.reason, "Tls")
          assert.include(wrongCa.message, "not signed by the CA in sslrootcert")
          const full = yield* Connection.make({
            ...user,
            host: "localhost",
            sslmode: "verify-full",
            sslrootcert: certs.caFile
          })
          assert.isTrue(yield* serverSeesTls(full))
          const wrongHost = yield* connectFails({ ...user, sslmode: "verify-full", sslrootcert: certs.caFile })
          assert.strictEqual(wrongHost.reason, "Tls")
          assert.include(wrongHost.message, 'does not name host "127.0.0.1"')
          assert.isFalse(wrongHost.isRetryable)
          const noRoot = yield* connectFails({ ...user, sslmode: "verify-full" })
          assert.strictEqual(noRoot.reason, "Tls")
          assert.include(noRoot.message, "needs sslrootcert")
          // require with an explicit root certificate verifies the chain, as libpq does.
          const requireChecks = yield* connectFails({ ...user, sslmode: "require", sslrootcert: certs.otherCaFile })
          assert.strictEqual(requireChecks.reason, "Tls")
        })
      )

      it.effect("a client certificate authenticates the cert role", () =>
        Effect.gen(function* () {
          const { db, certs } = yield* Fixture
          const conn = yield* Connection.make({
            ...base(db, "cert_user"),
            host: "localhost",
            sslmode: "verify-full",
            sslrootcert: certs.caFile,
            sslcert: certs.clientCertFile,
            sslkey: certs.clientKeyFile
          })
          assert.strictEqual((yield* conn.query("SELECT current_user"))[0]!.rows[0]![0], "cert_user")
          assert.isTrue(yield* serverSeesTls(conn))
          const without = yield* connectFails({ ...base(db, "cert_user"), sslmode: "require" })
          assert.strictEqual(without.reason, "Auth")
        })
      )

      it.effect("a Unix socket directory as host", () =>
        Effect.gen(function* () {
          const { db } = yield* Fixture
          const conn = yield* Connection.make({
            host: db.socketDir!,
            port: db.port,
            user: "trust_user",
            database: "postgres",
            sslmode: "require"
          })
          // TLS never applies to Unix sockets (libpq ignores sslmode there too).
          assert.isFalse(conn.tls)
          const r = yield* conn.query("SELECT inet_server_addr() IS NULL")
          assert.strictEqual(r[0]!.rows[0]![0], "t")
        })
      )
    }
  )
}
