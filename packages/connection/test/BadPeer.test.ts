/**
 * A peer that is not a well-behaved PostgreSQL: garbage, truncated messages, oversize lengths, hang-ups in the middle
 * of a message, unsupported authentication methods, TLS answers that are wrong. Every case must end in a typed
 * `ConnectionError` (never a hang, never a defect), and a session whose protocol state is lost refuses further use.
 */
import { assert, describe, it } from "@effect/vitest"
import { encodeBackendToBytes } from "@pgcdc/protocol"
import { Effect, Exit, Redacted } from "effect"
import { Connection, type ConnectionConfig, ConnectionError } from "../src/index.ts"
import { fakePeer, frame, onFirstPacket, type Script, sessionStart } from "./support/FakePeer.ts"

const config = (port: number, extra: Partial<ConnectionConfig> = {}): ConnectionConfig => ({
  host: "127.0.0.1",
  port,
  user: "alice",
  password: Redacted.make("secret"),
  database: "db",
  sslmode: "disable",
  ...extra
})

/** Connects to a peer running `script` and returns the typed failure (a defect or a success fails the test). */
const connectError = (script: Script, extra: Partial<ConnectionConfig> = {}) =>
  Effect.gen(function* () {
    const port = yield* fakePeer(script)
    const exit = yield* Effect.exit(Effect.scoped(Connection.make(config(port, extra))))
    assert.isTrue(Exit.isFailure(exit))
    const error = yield* Effect.flip(exit)
    assert.instanceOf(error, ConnectionError)
    return error
  })

describe("a misbehaving peer", () => {
  it.live("garbage instead of PostgreSQL messages", () =>
    Effect.gen(function* () {
      const error = yield* connectError(
        onFirstPacket((socket) => socket.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
      )
      assert.strictEqual(error.reason, "Protocol")
      assert.include(error.message, "Oversize")
    })
  )

  it.live("an unknown message type", () =>
    Effect.gen(function* () {
      const error = yield* connectError(onFirstPacket((socket) => socket.write(frame("!", "whatever"))))
      assert.strictEqual(error.reason, "Protocol")
      assert.include(error.message, "UnknownType")
    })
  )

  it.live("a truncated message, then the peer closes", () =>
    Effect.gen(function* () {
      const error = yield* connectError(
        onFirstPacket((socket) => {
          const ok = encodeBackendToBytes({ _tag: "AuthenticationOk" })
          socket.end(ok.subarray(0, ok.length - 2))
        })
      )
      assert.strictEqual(error.reason, "Closed")
      assert.isTrue(error.isRetryable)
    })
  )

  it.live("the peer hangs up in the middle of a message", () =>
    Effect.gen(function* () {
      const error = yield* connectError(
        onFirstPacket((socket) => {
          const status = encodeBackendToBytes({ _tag: "ParameterStatus", name: "server_version", value: "16.4" })
          socket.write(encodeBackendToBytes({ _tag: "AuthenticationOk" }))
          socket.write(status.subarray(0, 9))
          socket.destroy()
        })
      )
      assert.strictEqual(error.reason, "Closed")
    })
  )

  it.live("a length field far beyond the message size limit", () =>
    Effect.gen(function* () {
      const header = Buffer.from([0x52, 0x7f, 0xff, 0xff, 0xff])
      const error = yield* connectError(onFirstPacket((socket) => socket.write(header)))
      assert.strictEqual(error.reason, "Protocol")
      assert.include(error.message, "Oversize")
      // The configured limit applies too: a 2 kB ErrorResponse against a 1 kB limit.
      const big = encodeBackendToBytes({ _tag: "ErrorResponse", severity: "FATAL", message: "x".repeat(2048) })
      const limited = yield* connectError(
        onFirstPacket((socket) => socket.write(big)),
        { maxMessageSize: 1024 }
      )
      assert.strictEqual(limited.reason, "Protocol")
      assert.include(limited.message, "Oversize")
    })
  )

  it.live("a negative length", () =>
    Effect.gen(function* () {
      const error = yield* connectError(
        onFirstPacket((socket) => socket.write(Buffer.from([0x52, 0xff, 0xff, 0xff, 0xfe])))
      )
      assert.strictEqual(error.reason, "Protocol")
      assert.include(error.message, "LengthOutOfRange")
    })
  )

  it.live("GSSAPI, SSPI and Kerberos are refused by name", () =>
    Effect.gen(function* () {
      const cases = [
        ["AuthenticationGSS", "GSSAPI"],
        ["AuthenticationSSPI", "SSPI"],
        ["AuthenticationKerberosV5", "Kerberos V5"]
      ] as const
      for (const [tag, name] of cases) {
        const error = yield* connectError(onFirstPacket((socket) => socket.write(encodeBackendToBytes({ _tag: tag }))))
        assert.strictEqual(error.reason, "Auth")
        assert.include(error.message, name)
        assert.include(error.message, "pg_hba.conf")
      }
    })
  )

  it.live("a SCRAM server that answers with a nonce that is not ours", () =>
    Effect.gen(function* () {
      const error = yield* connectError((socket) => {
        let step = 0
        socket.on("data", () => {
          step++
          if (step === 1)
            socket.write(encodeBackendToBytes({ _tag: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256"] }))
          if (step === 2) {
            const data = new TextEncoder().encode("r=not-our-nonce,s=c2FsdA==,i=4096")
            socket.write(encodeBackendToBytes({ _tag: "AuthenticationSASLContinue", data }))
          }
        })
      })
      assert.strictEqual(error.reason, "Auth")
      assert.include(error.message, "nonce")
    })
  )

  it.live("TLS answers: plaintext injected after 'S', an unknown answer, and 'N' under sslmode=require", () =>
    Effect.gen(function* () {
      const injected = yield* connectError(
        onFirstPacket((socket) => socket.write("SZ")),
        { sslmode: "require" }
      )
      assert.strictEqual(injected.reason, "Tls")
      assert.include(injected.message, "unencrypted bytes")
      const odd = yield* connectError(
        onFirstPacket((socket) => socket.write("X")),
        { sslmode: "prefer" }
      )
      assert.strictEqual(odd.reason, "Protocol")
      const refused = yield* connectError(
        onFirstPacket((socket) => socket.write("N")),
        { sslmode: "require" }
      )
      assert.strictEqual(refused.reason, "Tls")
      assert.include(refused.message, "does not accept TLS")
    })
  )

  it.live("sslmode=prefer retries in plain text when the TLS handshake fails, as libpq does", () =>
    Effect.gen(function* () {
      let connections = 0
      const port = yield* fakePeer((socket) => {
        connections++
        const attempt = connections
        socket.once("data", () => {
          // First connection: accept TLS, then answer the ClientHello with bytes that are not TLS.
          if (attempt === 1) {
            socket.write("S")
            socket.once("data", () => socket.end("not a TLS record"))
          } else {
            socket.write(sessionStart())
          }
        })
      })
      const conn = yield* Connection.make(config(port, { sslmode: "prefer" }))
      assert.isFalse(conn.tls)
      assert.strictEqual(connections, 2)
      const strict = yield* connectError(
        onFirstPacket((socket) => {
          socket.write("S")
          socket.once("data", () => socket.end("not a TLS record"))
        }),
        { sslmode: "require" }
      )
      assert.strictEqual(strict.reason, "Tls")
    })
  )

  it.live("a peer that never answers hits the connect timeout", () =>
    Effect.gen(function* () {
      const error = yield* connectError(() => {}, { connectTimeout: "200 millis" })
      assert.strictEqual(error.reason, "Open")
      assert.include(error.message, "connect_timeout")
      assert.isTrue(error.isRetryable)
    })
  )

  it.live("a port with nobody listening", () =>
    Effect.gen(function* () {
      const port = yield* Effect.scoped(fakePeer(() => {}))
      const error = yield* Effect.flip(Effect.scoped(Connection.make(config(port))))
      assert.strictEqual(error.reason, "Open")
      assert.include(error.message, "ECONNREFUSED")
    })
  )

  it.live("garbage after a good start breaks the session, later calls fail as Closed", () =>
    Effect.gen(function* () {
      const port = yield* fakePeer((socket) => {
        let first = true
        socket.on("data", () => {
          if (first) socket.write(sessionStart())
          else socket.write(Buffer.from([0x44, 0x00, 0x00, 0x00, 0x08, 0xff, 0xff, 0x00, 0x00]))
          first = false
        })
      })
      const conn = yield* Connection.make(config(port))
      assert.strictEqual(conn.serverVersion, 160004)
      assert.deepStrictEqual(conn.backendKey, { processId: 42, secretKey: new Uint8Array([1, 2, 3, 4]) })
      const error = yield* Effect.flip(conn.query("SELECT 1"))
      assert.strictEqual(error.reason, "Protocol")
      const after = yield* Effect.flip(conn.query("SELECT 1"))
      assert.strictEqual(after.reason, "Closed")
      assert.include(after.message, "unusable")
    })
  )

  it.live("a session start without server_version", () =>
    Effect.gen(function* () {
      const error = yield* connectError(
        onFirstPacket((socket) =>
          socket.write(
            Buffer.concat([
              encodeBackendToBytes({ _tag: "AuthenticationOk" }),
              encodeBackendToBytes({ _tag: "ReadyForQuery", status: "I" })
            ])
          )
        )
      )
      assert.strictEqual(error.reason, "Protocol")
      assert.include(error.message, "server_version")
    })
  )
})
