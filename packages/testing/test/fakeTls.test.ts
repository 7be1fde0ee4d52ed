/**
 * TLS on the fake server's TCP listener: our Connection with sslmode require and verify-full (trusting the bundled
 * CA), node-postgres, a client that does not trust the certificate, and bytes sent after SSLRequest before the
 * handshake (refused, as the real server refuses them). Without the `tls` option SSLRequest is declined, as before.
 */
import { writeFileSync } from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Connection } from "@pgcdc/connection"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import pg from "pg"
import { tcpConnectionConfig } from "../src/fake/FakeConnection.ts"
import { FakePostgres } from "../src/fake/FakePostgres.ts"
import { fakeTlsCa } from "../src/fake/TestCertificate.ts"

const caFile = path.join(os.tmpdir(), `pgcdc-fake-ca-${process.pid}.pem`)
writeFileSync(caFile, fakeTlsCa)

/** The server's first answer to an SSLRequest followed at once (same write) by more bytes. */
const answerToEagerClient = (port: number) =>
  Effect.promise(
    () =>
      new Promise<Uint8Array>((resolve) => {
        const socket = net.connect(port, "127.0.0.1")
        const chunks: Array<Buffer> = []
        socket.on("data", (c: Buffer) => chunks.push(c))
        socket.on("close", () => resolve(new Uint8Array(Buffer.concat(chunks))))
        socket.on("error", () => {})
        // SSLRequest (length 8, code 80877103), then the first bytes of a startup packet in the same write.
        const ssl = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
        socket.write(Buffer.concat([ssl, Buffer.from([0, 0, 0, 9, 0, 3, 0, 0, 0])]))
      })
  )

describe("FakePostgres over TLS", () => {
  it.live("our Connection with sslmode require, and verify-full trusting the bundled CA", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ tls: true, auth: "scram-sha-256", password: "pw" })
      for (const settings of [
        { sslmode: "require" as const },
        { sslmode: "verify-full" as const, sslrootcert: caFile, host: "localhost" },
        { sslmode: "verify-full" as const, sslrootcert: caFile }
      ]) {
        const conn = yield* Connection.make(tcpConnectionConfig(fake, { replication: undefined, ...settings }))
        const rows = yield* conn.query("SELECT 1")
        assert.strictEqual(rows[0]!.rows[0]![0], "1", JSON.stringify(settings))
      }
      // Every session the listener accepted went through TLS.
      assert.isTrue(fake.server.sessions.size > 0 && [...fake.server.sessions].every((s) => s.encrypted))
    }).pipe(Effect.scoped)
  )

  it.live("a client that does not trust the certificate fails its handshake; node-postgres with the CA works", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ tls: true })
      // verify-full against the system's CAs (no sslrootcert given to libpq's default): not trusted.
      const untrusted = yield* Effect.result(
        Connection.make(
          tcpConnectionConfig(fake, { replication: undefined, sslmode: "verify-full", sslrootcert: "system" })
        )
      )
      assert.isTrue(Result.isFailure(untrusted) && untrusted.failure.reason === "Tls")
      const rows = yield* Effect.promise(async () => {
        const client = new pg.Client({
          host: fake.host,
          port: fake.port,
          user: "postgres",
          password: "postgres",
          database: "postgres",
          ssl: { ca: fakeTlsCa, servername: "localhost" }
        })
        await client.connect()
        const r = await client.query("SELECT 1")
        await client.end()
        return r.rows
      })
      assert.deepStrictEqual(
        rows.map((r) => Object.values(r as object)),
        [[1]]
      )
    }).pipe(Effect.scoped)
  )

  it.live("bytes after SSLRequest, before the handshake, are refused (CVE-2021-23214)", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ tls: true })
      const answer = new TextDecoder().decode(yield* answerToEagerClient(fake.port))
      // An ErrorResponse ('E') naming the problem, not 'S'.
      assert.strictEqual(answer[0], "E")
      assert.include(answer, "08P01")
      assert.include(answer, "received unencrypted data after SSL request")
    }).pipe(Effect.scoped)
  )

  it.live("without the tls option SSLRequest is declined: sslmode require fails, prefer connects in the clear", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({})
      const required = yield* Effect.result(
        Connection.make(tcpConnectionConfig(fake, { replication: undefined, sslmode: "require" }))
      )
      assert.isTrue(Result.isFailure(required) && required.failure.reason === "Tls")
      const preferred = yield* Connection.make(tcpConnectionConfig(fake, { replication: undefined, sslmode: "prefer" }))
      assert.strictEqual((yield* preferred.query("SELECT 1"))[0]!.rows[0]![0], "1")
      assert.isTrue([...fake.server.sessions].every((s) => !s.encrypted))
    }).pipe(Effect.scoped)
  )
})
