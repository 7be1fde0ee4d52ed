/**
 * A scripted `node:net` server for tests that need a peer PostgreSQL would never be: one that sends garbage,
 * truncated or oversize messages, or hangs up mid-message. Each accepted socket gets the script; the server and its
 * sockets are closed with the scope.
 */
import { encodeBackendToBytes } from "@pgcdc/protocol"
import { Effect, type Scope } from "effect"
import * as Net from "node:net"

export type Script = (socket: Net.Socket) => void

export const fakePeer = (script: Script): Effect.Effect<number, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<{ server: Net.Server; sockets: Set<Net.Socket>; port: number }>((resume) => {
      const sockets = new Set<Net.Socket>()
      const server = Net.createServer((socket) => {
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
        socket.on("error", () => {})
        script(socket)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        resume(Effect.succeed({ server, sockets, port: typeof address === "object" && address ? address.port : 0 }))
      })
    }),
    ({ server, sockets }) =>
      Effect.callback<void>((resume) => {
        for (const s of sockets) s.destroy()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ port }) => port))

/** Runs `reply` once the client's first packet (StartupMessage or SSLRequest) has arrived. */
export const onFirstPacket =
  (reply: (socket: Net.Socket, packet: Buffer) => void): Script =>
  (socket) => {
    socket.once("data", (packet) => reply(socket, packet))
  }

/** A complete, well-formed session start: AuthenticationOk, server_version 16.4, BackendKeyData, ReadyForQuery. */
export const sessionStart = (): Buffer =>
  Buffer.concat([
    encodeBackendToBytes({ _tag: "AuthenticationOk" }),
    encodeBackendToBytes({ _tag: "ParameterStatus", name: "server_version", value: "16.4" }),
    encodeBackendToBytes({ _tag: "BackendKeyData", processId: 42, secretKey: new Uint8Array([1, 2, 3, 4]) }),
    encodeBackendToBytes({ _tag: "ReadyForQuery", status: "I" })
  ])

/** A message with a raw type byte and body, its length computed. */
export const frame = (type: string, body: Uint8Array | string = new Uint8Array(0)): Buffer => {
  const payload = typeof body === "string" ? Buffer.from(body) : Buffer.from(body)
  const header = Buffer.alloc(5)
  header[0] = type.charCodeAt(0)
  header.writeInt32BE(payload.length + 4, 1)
  return Buffer.concat([header, payload])
}
