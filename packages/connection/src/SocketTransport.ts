/**
 * A `ByteTransport` over an Effect `Socket` (`effect/socket`): the seam through which a session runs over something
 * other than a dialled `node:net` socket, typically an in-memory peer such as `@pgcdc/testing`'s fake server (no
 * port, deterministic under `TestClock`).
 *
 * One `SocketTransport` is one connection: it acquires the socket's `reader` (which dials) in a scope of its own,
 * closed by `end`, `destroy` or the caller's scope. Chunks are pulled in the batches the socket hands out and kept
 * until the framer asks for them, so `readAvailable` stays synchronous, as the CopyBoth hot path needs. `writeNow`
 * (control messages sent from inside a synchronous message loop) queues bytes that go out before the next read or
 * write: every such message is followed by a read that waits for the server's answer.
 *
 * It deliberately does not do TLS: an Effect socket's `upgrade` cannot check host names the libpq way (see
 * `Transport.ts`), so a session over a custom socket is plain and `Startup` refuses sslmodes that require TLS.
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as Socket from "effect/socket/Socket"
import type * as Tls from "node:tls"
import { closedError, type ConnectionError, openError, tlsError } from "./ConnectionError.ts"
import type { ByteTransport } from "./Transport.ts"

/** Opens the Socket of one connection (evaluated once per session and per CancelRequest). */
export type SocketFactory = Effect.Effect<Socket.Socket, ConnectionError, Scope.Scope>

const encoder = new TextEncoder()
const toBytes = (chunk: Uint8Array | string): Uint8Array => (typeof chunk === "string" ? encoder.encode(chunk) : chunk)

type SocketModule = typeof Socket

const socketMessage = (error: Socket.SocketError): string => {
  const reason = error.reason
  return reason._tag === "SocketCloseError"
    ? `closed (${reason.code}${reason.closeReason === undefined ? "" : `: ${reason.closeReason}`})`
    : error.message
}

export class SocketTransport implements ByteTransport {
  readonly description: string
  readonly isTls = false
  readonly peerCertificate = undefined
  private readonly reader: Socket.Reader
  private readonly writer: Socket.Writer
  private readonly sockets: SocketModule
  private readonly scope: Scope.Closeable
  private readonly context: Context.Context<never>
  private readonly buffered: Array<Uint8Array> = []
  private outgoing: Array<Uint8Array> = []
  private failure: ConnectionError | undefined = undefined
  private closed = false

  private constructor(
    description: string,
    reader: Socket.Reader,
    writer: Socket.Writer,
    sockets: SocketModule,
    scope: Scope.Closeable,
    context: Context.Context<never>
  ) {
    this.description = description
    this.reader = reader
    this.writer = writer
    this.sockets = sockets
    this.scope = scope
    this.context = context
  }

  /** Opens one connection over the socket the factory makes; it is closed when the caller's scope closes. */
  static open(
    factory: SocketFactory,
    description: string
  ): Effect.Effect<SocketTransport, ConnectionError, Scope.Scope> {
    return Effect.gen(function* () {
      // Closing the connection from `destroy` (synchronous) runs with the caller's services: a fake server under
      // TestClock must see the test's clock, not the default one.
      const context = yield* Effect.context<never>()
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const socket = yield* Scope.provide(factory, scope)
      const reader = yield* Scope.provide(socket.reader, scope).pipe(
        Effect.mapError((e) => openError(`Could not connect to ${description}: ${socketMessage(e)}`, e))
      )
      const writer = yield* Scope.provide(socket.writer, scope)
      // effect/socket/Socket (its error guard, its CloseEvent) loads effect/Schema, about 80 modules: imported here,
      // not at the top, so that a program that never passes a socket factory does not load it at start-up. Whoever
      // built this socket has loaded the module already, so the import settles in microtasks, without I/O, at the
      // same point every run (a seeded simulation over the fake server stays reproducible).
      const sockets = yield* Effect.promise(() => import("effect/socket/Socket"))
      return new SocketTransport(description, reader, writer, sockets, scope, context)
    })
  }

  get destroyed(): boolean {
    return this.closed
  }

  readAvailable(): Uint8Array | undefined {
    return this.buffered.shift()
  }

  private readonly flushOutgoing: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
    if (this.outgoing.length === 0) return Effect.void
    const chunks = this.outgoing
    this.outgoing = []
    return Effect.forEach(chunks, (chunk) => this.send(chunk), { discard: true })
  })

  private send(bytes: Uint8Array): Effect.Effect<void, ConnectionError> {
    return this.writer
      .write(bytes)
      .pipe(
        Effect.mapError((e) =>
          this.lost(closedError(`The connection to ${this.description} failed: ${socketMessage(e)}`, e))
        )
      )
  }

  private lost(error: ConnectionError): ConnectionError {
    this.failure ??= error
    return this.failure
  }

  readonly read: Effect.Effect<Uint8Array, ConnectionError> = Effect.suspend(() => {
    const chunk = this.buffered.shift()
    if (chunk !== undefined) return Effect.succeed(chunk)
    if (this.failure !== undefined) return Effect.fail(this.failure)
    return this.flushOutgoing.pipe(
      Effect.andThen(this.reader.pull),
      Effect.mapError((e) =>
        this.sockets.isSocketError(e)
          ? this.lost(
              e.reason._tag === "SocketCloseError"
                ? closedError(`The server closed the connection (${this.description})`, e)
                : closedError(`The connection to ${this.description} failed: ${socketMessage(e)}`, e)
            )
          : e
      ),
      Effect.flatMap((batch) => {
        for (const c of batch) {
          const bytes = toBytes(c)
          if (bytes.length > 0) this.buffered.push(bytes)
        }
        return this.read
      })
    )
  })

  write(bytes: Uint8Array): Effect.Effect<void, ConnectionError> {
    return Effect.suspend(() => {
      if (this.failure !== undefined) return Effect.fail(this.failure)
      if (this.closed) return Effect.fail(closedError(`The connection to ${this.description} is closed`))
      return Effect.andThen(this.flushOutgoing, this.send(bytes))
    })
  }

  writeNow(bytes: Uint8Array): void {
    if (this.failure === undefined && !this.closed) this.outgoing.push(bytes)
  }

  upgrade(_options: Tls.ConnectionOptions): Effect.Effect<void, ConnectionError> {
    return Effect.fail(tlsError(`TLS is not available over ${this.description}`))
  }

  end(lastBytes: Uint8Array): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closed) return Effect.void
      const goodbye =
        this.failure === undefined
          ? this.flushOutgoing.pipe(
              Effect.andThen(this.send(lastBytes)),
              Effect.andThen(this.writer.write(new this.sockets.CloseEvent(1000)))
            )
          : Effect.void
      this.closed = true
      return goodbye.pipe(
        Effect.timeoutOption(Duration.seconds(1)),
        Effect.ignore,
        Effect.andThen(
          Effect.suspend(() => {
            // A read still waiting in another fiber fails once the scope closes the connection.
            this.lost(closedError(`The connection to ${this.description} was closed by the client`))
            return Scope.close(this.scope, Exit.void)
          })
        )
      )
    })
  }

  destroy(): void {
    if (this.closed) return
    this.closed = true
    this.lost(closedError(`The connection to ${this.description} was closed by the client`))
    Effect.runForkWith(this.context)(Scope.close(this.scope, Exit.void))
  }
}
