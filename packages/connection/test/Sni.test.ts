/**
 * TLS details seen from the server side, with a scripted TLS peer: the SNI name sent (the host name, never an IP
 * address, nothing with sslsni=false) and the client certificate presented.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { readFileSync } from "node:fs"
import * as Tls from "node:tls"
import { Connection, type ConnectionConfig } from "../src/index.ts"
import { makeCertificates } from "./support/Certificates.ts"
import { fakePeer, sessionStart } from "./support/FakePeer.ts"

interface Seen {
  servername: string | false | null
  clientSubject: string | undefined
}

/** A peer that accepts SSLRequest, upgrades to TLS as a server, records what the client sent, and starts a session. */
const tlsPeer = (context: Tls.SecureContext, seen: Array<Seen>) =>
  fakePeer((socket) => {
    socket.once("data", () => {
      socket.write("S")
      const tls = new Tls.TLSSocket(socket, {
        isServer: true,
        secureContext: context,
        requestCert: true,
        rejectUnauthorized: false
      })
      tls.on("error", () => {})
      tls.once("secure", () => {
        const peer = tls.getPeerCertificate()
        seen.push({
          servername: tls.servername,
          clientSubject: peer?.subject ? String(peer.subject.CN) : undefined
        })
      })
      tls.once("data", () => tls.write(sessionStart()))
    })
  })

describe("TLS handshake details", () => {
  it.live("sends SNI for host names only, and presents the client certificate", () =>
    Effect.gen(function* () {
      const certs = yield* makeCertificates("tls_client")
      const context = Tls.createSecureContext({
        cert: readFileSync(certs.serverCertFile),
        key: readFileSync(certs.serverKeyFile),
        ca: readFileSync(certs.caFile)
      })
      const seen: Array<Seen> = []
      const port = yield* tlsPeer(context, seen)
      const base: ConnectionConfig = {
        host: "localhost",
        port,
        user: "tls_client",
        password: Redacted.make("x"),
        database: "db",
        sslmode: "verify-full",
        sslrootcert: certs.caFile
      }
      const byName = yield* Connection.make({ ...base, sslcert: certs.clientCertFile, sslkey: certs.clientKeyFile })
      assert.isTrue(byName.tls)
      yield* Connection.make({ ...base, host: "127.0.0.1", sslmode: "require" })
      yield* Connection.make({ ...base, sslsni: false })
      assert.deepStrictEqual(seen, [
        { servername: "localhost", clientSubject: "tls_client" },
        { servername: false, clientSubject: undefined },
        { servername: false, clientSubject: undefined }
      ])
    })
  )
})
