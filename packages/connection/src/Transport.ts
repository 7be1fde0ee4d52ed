/**
 * The byte pipe under a connection: a `node:net` socket (TCP or Unix), optionally upgraded in place to `node:tls`,
 * read by pulling.
 *
 * Why `node:net`/`node:tls` directly instead of `effect/socket` (`NodeSocket.makeNet` + `reader.upgrade`): the
 * effect reader's `upgrade` builds its own `tls.connect` options, so it cannot take `checkServerIdentity` (libpq's
 * verify-ca checks the chain but not the host name, verify-full both; Node's default check would then be made
 * against the wrong name, or not at all), it gives no access to the TLS socket (the server certificate is needed for
 * SCRAM-SHA-256-PLUS channel binding), and the socket is not reachable for `setKeepAlive`. This module is small and
 * keeps the one property we need from it: the socket is never in flowing mode, so bytes are read from the kernel
 * only when a reader pulls; when nobody pulls, Node stops reading at its `highWaterMark` and TCP flow control stops
 * the server (backpressure end to end).
 *
 * It deliberately knows nothing about PostgreSQL messages; it hands out chunks as the socket delivers them.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import type * as Tls from "node:tls"
import type { Endpoint } from "./ConnectionConfig.ts"
import { closedError, type ConnectionError, openError, tlsError } from "./ConnectionError.ts"
import { loadTls } from "./Tls.ts"

export interface TransportOptions {
  readonly keepAlive: boolean
  readonly keepAliveIdle: Duration.Duration
}

/**
 * What a session needs from its byte pipe. `Transport` (node:net/node:tls) is the one used in production;
 * `SocketTransport` adapts an Effect `Socket` (an in-memory peer in tests, or any user-supplied transport).
 */
export interface ByteTransport {
  readonly description: string
  readonly isTls: boolean
  /** The server's certificate (DER and signature algorithm), when TLS is on. */
  readonly peerCertificate: { readonly raw: Uint8Array; readonly signatureAlgorithmOid: string } | undefined
  /** Whatever bytes are buffered right now, without waiting; undefined when nothing is. */
  readAvailable(): Uint8Array | undefined
  /** The next chunk of bytes; waits for the peer. Fails with "Closed" once the peer is gone. */
  readonly read: Effect.Effect<Uint8Array, ConnectionError>
  /** Sends bytes, waiting only for write backpressure. */
  write(bytes: Uint8Array): Effect.Effect<void, ConnectionError>
  /** Queues bytes without waiting; they go out no later than the next read or write. */
  writeNow(bytes: Uint8Array): void
  /** Wraps the connection in TLS in place. */
  upgrade(options: Tls.ConnectionOptions): Effect.Effect<void, ConnectionError>
  /** Sends the last bytes (Terminate) and closes gracefully. */
  end(lastBytes: Uint8Array): Effect.Effect<void>
  /** Closes at once; pending and later reads fail with "Closed". */
  destroy(): void
  readonly destroyed: boolean
}

type Waiter = (effect: Effect.Effect<Uint8Array, ConnectionError>) => void

export class Transport implements ByteTransport {
  private socket: Net.Socket
  private waiter: Waiter | undefined = undefined
  private failure: ConnectionError | undefined = undefined
  private tlsSocket: Tls.TLSSocket | undefined = undefined
  readonly description: string

  private constructor(socket: Net.Socket, description: string) {
    this.socket = socket
    this.description = description
    this.attach(socket)
  }

  /** Dials the endpoint; the socket is destroyed when the scope closes. */
  static open(endpoint: Endpoint, options: TransportOptions): Effect.Effect<Transport, ConnectionError, Scope.Scope> {
    const description = endpoint._tag === "Unix" ? `Unix socket ${endpoint.path}` : `${endpoint.host}:${endpoint.port}`
    return Effect.acquireRelease(
      Effect.callback<Transport, ConnectionError>((resume) => {
        const socket =
          endpoint._tag === "Unix"
            ? Net.connect({ path: endpoint.path })
            : Net.connect({ host: endpoint.host, port: endpoint.port })
        const onError = (cause: Error) => {
          socket.destroy()
          resume(
            Effect.fail(openError(`Could not connect to ${description}: ${cause.message}${hintFor(cause)}`, cause))
          )
        }
        socket.once("error", onError)
        socket.once("connect", () => {
          socket.off("error", onError)
          socket.setNoDelay(true)
          if (options.keepAlive && endpoint._tag === "Tcp") {
            socket.setKeepAlive(true, Duration.toMillis(options.keepAliveIdle))
          }
          resume(Effect.succeed(new Transport(socket, description)))
        })
        // Interrupted (connect timeout, scope closed) before the connection was made.
        return Effect.sync(() => socket.destroy())
      }),
      (transport) => Effect.sync(() => transport.destroy())
    )
  }

  get isTls(): boolean {
    return this.tlsSocket !== undefined
  }

  /** The server's certificate (DER and signature algorithm), when TLS is on. */
  get peerCertificate(): { readonly raw: Uint8Array; readonly signatureAlgorithmOid: string } | undefined {
    const x509 = this.tlsSocket?.getPeerX509Certificate()
    return x509 === undefined
      ? undefined
      : { raw: new Uint8Array(x509.raw), signatureAlgorithmOid: x509.signatureAlgorithmOid }
  }

  private attach(socket: Net.Socket): void {
    // A 'readable' listener keeps the stream paused: data is pulled with read(), never pushed at us.
    socket.on("readable", this.onReadable)
    socket.on("end", this.onEnd)
    socket.on("error", this.onError)
    socket.on("close", this.onClose)
  }

  private detach(socket: Net.Socket): void {
    socket.off("readable", this.onReadable)
    socket.off("end", this.onEnd)
    socket.off("error", this.onError)
    socket.off("close", this.onClose)
  }

  private readonly onReadable = (): void => {
    if (this.waiter === undefined) return
    const chunk = this.readNow()
    if (chunk !== undefined) this.wake(Effect.succeed(chunk))
  }
  private readonly onEnd = (): void => this.fail(closedError(`The server closed the connection (${this.description})`))
  private readonly onClose = (): void => this.fail(closedError(`The connection to ${this.description} was closed`))
  private readonly onError = (cause: Error): void =>
    this.fail(closedError(`The connection to ${this.description} failed: ${cause.message}`, cause))

  private fail(error: ConnectionError): void {
    this.failure ??= error
    if (this.waiter !== undefined) this.wake(Effect.fail(this.failure))
  }

  private wake(effect: Effect.Effect<Uint8Array, ConnectionError>): void {
    const waiter = this.waiter!
    this.waiter = undefined
    waiter(effect)
  }

  private readNow(): Uint8Array | undefined {
    const chunk: unknown = this.socket.read()
    return chunk instanceof Uint8Array && chunk.length > 0 ? chunk : undefined
  }

  /**
   * Whatever bytes are buffered right now, without waiting (the hot path drains Node's buffer synchronously and
   * only suspends when it is empty). Undefined when nothing is buffered.
   */
  readAvailable(): Uint8Array | undefined {
    return this.readNow()
  }

  /** The next chunk of bytes; waits for the socket. Fails with "Closed" once the peer is gone. */
  readonly read: Effect.Effect<Uint8Array, ConnectionError> = Effect.callback<Uint8Array, ConnectionError>((resume) => {
    const chunk = this.readNow()
    if (chunk !== undefined) return resume(Effect.succeed(chunk))
    if (this.failure !== undefined) return resume(Effect.fail(this.failure))
    this.waiter = resume
    return Effect.sync(() => {
      if (this.waiter === resume) this.waiter = undefined
    })
  })

  /** Queues bytes for sending; waits only when Node's write buffer is full (write backpressure). */
  write(bytes: Uint8Array): Effect.Effect<void, ConnectionError> {
    return Effect.callback<void, ConnectionError>((resume) => {
      if (this.failure !== undefined) return resume(Effect.fail(this.failure))
      if (this.socket.destroyed || !this.socket.writable) {
        return resume(Effect.fail(closedError(`The connection to ${this.description} is closed`)))
      }
      if (this.socket.write(bytes)) return resume(Effect.void)
      const onDrain = () => {
        this.socket.off("close", onDrain)
        resume(this.failure === undefined ? Effect.void : Effect.fail(this.failure))
      }
      this.socket.once("drain", onDrain)
      this.socket.once("close", onDrain)
      return Effect.sync(() => {
        this.socket.off("drain", onDrain)
        this.socket.off("close", onDrain)
      })
    })
  }

  /**
   * Queues bytes without waiting (for small control messages sent from inside a synchronous message loop);
   * a failure shows up on the next read.
   */
  writeNow(bytes: Uint8Array): void {
    if (this.failure === undefined && !this.socket.destroyed) this.socket.write(bytes)
  }

  /**
   * Wraps the same connection in TLS (after the server accepted SSLRequest). Bytes the server sent after its 'S'
   * and before the handshake would be unauthenticated plaintext injected into the TLS session (CVE-2021-23222), so
   * the caller must have checked that none arrived; this module refuses to upgrade if any are buffered.
   */
  upgrade(options: Tls.ConnectionOptions): Effect.Effect<void, ConnectionError> {
    return Effect.flatMap(loadTls, (tlsModule) => this.upgradeWith(tlsModule, options))
  }

  private upgradeWith(tlsModule: typeof Tls, options: Tls.ConnectionOptions): Effect.Effect<void, ConnectionError> {
    return Effect.callback<void, ConnectionError>((resume) => {
      const raw = this.socket
      if (raw.readableLength > 0) {
        return resume(
          Effect.fail(
            tlsError(
              "The server sent unencrypted bytes after accepting TLS; refusing to continue (possible man-in-the-middle)"
            )
          )
        )
      }
      this.detach(raw)
      let tls: Tls.TLSSocket
      try {
        tls = tlsModule.connect({ ...options, socket: raw })
      } catch (cause) {
        return resume(Effect.fail(tlsError(`Could not start TLS: ${String(cause)}`, cause)))
      }
      const cleanup = () => {
        tls.off("secureConnect", onSecure)
        tls.off("error", onError)
        tls.off("close", onClose)
      }
      const onSecure = () => {
        cleanup()
        this.socket = tls
        this.tlsSocket = tls
        this.attach(tls)
        resume(Effect.void)
      }
      const onError = (cause: Error) => {
        cleanup()
        tls.destroy()
        resume(Effect.fail(tlsError(`TLS handshake with ${this.description} failed: ${cause.message}`, cause)))
      }
      const onClose = () => {
        cleanup()
        resume(Effect.fail(tlsError(`The server closed the connection during the TLS handshake (${this.description})`)))
      }
      tls.once("secureConnect", onSecure)
      tls.once("error", onError)
      tls.once("close", onClose)
      return Effect.sync(() => {
        cleanup()
        tls.destroy()
      })
    })
  }

  /** Sends the last bytes (Terminate) and closes gracefully; destroys if the peer does not finish within 1 s. */
  end(lastBytes: Uint8Array): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const socket = this.socket
      if (socket.destroyed) return resume(Effect.void)
      const done = () => {
        clearTimeout(timer)
        socket.destroy()
        resume(Effect.void)
      }
      const timer = setTimeout(done, 1000)
      // A read still waiting (a query in another fiber) must not wait for events we stop listening to.
      this.fail(closedError(`The connection to ${this.description} was closed by the client`))
      this.detach(socket)
      // Errors after Terminate (a reset from a server already gone) are of no interest any more.
      socket.on("error", () => {})
      socket.once("close", done)
      socket.end(lastBytes)
      // The server closes its side after Terminate; flowing mode lets the 'end' and 'close' events arrive.
      socket.resume()
      return Effect.sync(() => {
        clearTimeout(timer)
        socket.off("close", done)
        socket.destroy()
      })
    })
  }

  destroy(): void {
    this.fail(closedError(`The connection to ${this.description} was closed by the client`))
    this.socket.destroy()
  }

  get destroyed(): boolean {
    return this.socket.destroyed
  }
}

const hintFor = (cause: Error): string => {
  const code = "code" in cause ? cause.code : undefined
  switch (code) {
    case "ECONNREFUSED":
      return " (is the server running and accepting TCP/IP connections on that host and port?)"
    case "ENOENT":
      return " (is the server running locally and is the socket directory right?)"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return " (check the host name)"
    default:
      return ""
  }
}
