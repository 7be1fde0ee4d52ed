/**
 * The loopback TCP listener: a `node:net` server on 127.0.0.1 at a random port, each accepted socket a fake server
 * session, so any client (node-postgres, psql, our Connection) reaches the fake with a normal connection URL.
 *
 * The listener, its sockets and the sessions' timer fibers live in the scope that created it. Socket callbacks run
 * outside any fiber, so the server steps they cause use the clock of the server's last driver call (the layer's
 * clock until a test calls the driver).
 *
 * TLS: when the server has a TLS identity (the `tls` option), a session that accepts an SSLRequest switches its
 * connection to a TLS server socket over the same TCP socket. It deliberately listens on the loopback interface only.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as net from "node:net"
import * as tls from "node:tls"
import type { Attach } from "./MemoryTransport.ts"

export interface TcpListener {
  readonly host: string
  readonly port: number
}

export const listen = (attach: Attach): Effect.Effect<TcpListener, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const context = yield* Effect.context<never>()
    const run = Effect.runForkWith(context)
    const sockets = new Set<net.Socket>()
    const server = net.createServer((socket) => {
      sockets.add(socket)
      socket.setNoDelay(true)
      // What the session writes to and reads from: the socket, then its TLS layer once the session starts TLS.
      let stream: net.Socket = socket
      let received: (chunk: Buffer) => void = () => {}
      run(
        Effect.scoped(
          Effect.gen(function* () {
            const session = yield* attach({
              write: (bytes) => {
                if (!stream.destroyed) stream.write(bytes)
              },
              close: () => {
                stream.end()
              },
              startTls: (identity) => {
                socket.removeListener("data", received)
                const secure = new tls.TLSSocket(socket, {
                  isServer: true,
                  secureContext: tls.createSecureContext({ cert: identity.cert, key: identity.key })
                })
                secure.on("data", received)
                // A failed handshake (a client that rejects the certificate) closes the connection.
                secure.on("error", () => socket.destroy())
                stream = secure
              }
            })
            received = (chunk: Buffer) => session.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))
            yield* Effect.callback<void>((resume) => {
              socket.on("data", received)
              socket.on("close", () => {
                sockets.delete(socket)
                session.transportClosed()
                resume(Effect.void)
              })
              socket.on("error", () => socket.destroy())
            })
          })
        )
      )
    })
    const port = yield* Effect.callback<number, Error>((resume) => {
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(
          typeof address === "object" && address !== null
            ? Effect.succeed(address.port)
            : Effect.fail(new Error("no port"))
        )
      })
    })
    yield* Effect.addFinalizer(() =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
    )
    return { host: "127.0.0.1", port }
  })
