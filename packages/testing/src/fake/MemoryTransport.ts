/**
 * The in-memory transport: an Effect `Socket` whose other end is a fake server session, so a client that speaks
 * through `effect/socket` talks to the fake without a port.
 *
 * As the `Socket` contract asks, each acquisition of `reader` dials a new connection (a new session, with its
 * timer fiber) that lives as long as the acquisition's scope, and every end of it, a clean close by the server
 * included, fails `pull` with a `SocketError` wrapping a `SocketCloseError` (code 1000), after the bytes already
 * written have been pulled. The writer is detached from any one connection: a write
 * made before the first `reader` acquisition waits for it, and a `CloseEvent` closes the current connection.
 *
 * It deliberately does not support TLS upgrades: over memory the fake declines SSLRequest with 'N', so no handshake
 * is ever needed.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Latch from "effect/Latch"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import type { Session, SessionHost } from "./Session.ts"

/** Connects a host to the server and runs its timers for as long as the scope lives. */
export type Attach = (host: SessionHost) => Effect.Effect<Session, never, Scope.Scope>

/** Runs a synchronous step of the server under the caller's clock. */
export type Step = <A>(f: () => A) => Effect.Effect<A>

interface Live {
  readonly session: Session
}

const closed = (code: number, reason: string): Socket.SocketError =>
  new Socket.SocketError({ reason: new Socket.SocketCloseError({ code, closeReason: reason }) })

const encoder = new TextEncoder()

export const makeMemorySocket = (attach: Attach, step: Step): Effect.Effect<Socket.Socket> =>
  Effect.gen(function* () {
    const connected = yield* Latch.make(false)
    let live: Live | undefined

    const reader: Socket.Socket["reader"] = Effect.gen(function* () {
      const queue = yield* Queue.unbounded<Uint8Array, Socket.SocketError>()
      let dropped = false
      const session = yield* attach({
        write: (bytes) => {
          Queue.offerUnsafe(queue, bytes)
        },
        close: () => {
          Queue.failCauseUnsafe(queue, Cause.fail(closed(1000, "server closed the connection")))
        }
      })
      const current: Live = { session }
      live = current
      yield* connected.open
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          if (live === current) {
            live = undefined
            yield* connected.close
          }
          dropped = true
          yield* Queue.failCause(queue, Cause.fail(closed(1000, "socket scope closed")))
        })
      )
      return {
        pull: Effect.suspend(() => (dropped ? Effect.fail(closed(1000, "socket scope closed")) : Queue.takeAll(queue))),
        upgrade: Socket.SocketUpgradeError.unsupported
      }
    })

    const write = (chunk: Uint8Array | string | Socket.CloseEvent): Effect.Effect<void, Socket.SocketError> =>
      Effect.gen(function* () {
        yield* connected.await
        const current = live
        if (current === undefined || current.session.closed) {
          return yield* Effect.fail(
            new Socket.SocketError({ reason: new Socket.SocketWriteError({ cause: new Error("connection closed") }) })
          )
        }
        if (Socket.isCloseEvent(chunk)) {
          yield* step(() => current.session.transportClosed())
          return
        }
        const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk
        yield* step(() => current.session.receive(bytes))
      })

    const writer: Socket.Socket["writer"] = Effect.succeed({
      write,
      writeAll: (chunks) => Effect.forEach(chunks, write, { discard: true })
    })

    return Socket.make({ reader, writer })
  })
