/**
 * `copyOut` against a scripted peer, for the answers PostgreSQL does not give on demand: a server that never ends an
 * abandoned copy (the session is marked broken when the timeout passes, under TestClock, instead of hanging), a
 * CopyBothResponse to a plain session (refused, the copy ended with our CopyDone, the session usable), and a FATAL
 * error before the copy starts (reported as itself, not as the closed socket that follows).
 */
import { assert, describe, it } from "@effect/vitest"
import { encodeBackendToBytes, Framer, unsafeDecodeFrontend, unsafeDecodeStartup } from "@pgcdc/protocol"
import { Effect, Fiber, Redacted, Stream } from "effect"
import { TestClock } from "effect/testing"
import type * as Net from "node:net"
import { Connection, type ConnectionConfig } from "../src/index.ts"
import { fakePeer, sessionStart } from "./support/FakePeer.ts"

const config = (port: number): ConnectionConfig => ({
  host: "127.0.0.1",
  port,
  user: "alice",
  password: Redacted.make("secret"),
  database: "db",
  sslmode: "disable"
})

const ready = encodeBackendToBytes({ _tag: "ReadyForQuery", status: "I" })
const row = (text: string) => encodeBackendToBytes({ _tag: "CopyData", data: new TextEncoder().encode(text) })

interface PeerHandlers {
  readonly query: (socket: Net.Socket, sql: string) => void
  readonly copyDone?: (socket: Net.Socket) => void
  readonly cancel?: () => void
}

/** A peer that starts sessions, reports CancelRequests and hands Query and CopyDone messages to `handlers`. */
const copyOutPeer = (handlers: PeerHandlers) =>
  fakePeer((socket) => {
    const framer = new Framer({ mode: "startup" })
    socket.on("data", (chunk) => {
      framer.push(chunk)
      while (framer.next()) {
        if (framer.mode === "startup") {
          if (unsafeDecodeStartup(framer.buf, framer.start, framer.end)._tag === "CancelRequest") {
            handlers.cancel?.()
            socket.destroy()
            return
          }
          framer.setTyped()
          socket.write(sessionStart())
          continue
        }
        const msg = unsafeDecodeFrontend(framer.buf, framer.start, framer.end)
        if (msg._tag === "Query") handlers.query(socket, msg.sql)
        else if (msg._tag === "CopyDone") handlers.copyDone?.(socket)
      }
    })
  })

describe("copyOut against a scripted peer", () => {
  it.effect("an abandoned copy the server never ends marks the session broken at the timeout, not a hang", () =>
    Effect.gen(function* () {
      let cancels = 0
      let cancelled: () => void = () => {}
      const cancelArrived = new Promise<void>((resolve) => {
        cancelled = resolve
      })
      const port = yield* copyOutPeer({
        query: (socket) =>
          socket.write(
            Buffer.concat([
              encodeBackendToBytes({ _tag: "CopyOutResponse", format: 0, columnFormats: [0] }),
              row("1\n"),
              row("2\n")
            ])
          ),
        cancel: () => {
          cancels++
          cancelled()
        }
      })
      const conn = yield* Connection.make(config(port))
      const copy = yield* conn.copyOut("COPY t TO STDOUT")
      assert.strictEqual(copy.columnCount, 1)
      const taking = yield* Effect.forkChild(copy.frames.pipe(Stream.take(1), Stream.runCollect))
      // The consumer has stopped and the CancelRequest went out; the peer ignores it and sends nothing more.
      yield* Effect.promise(() => cancelArrived)
      yield* TestClock.adjust("11 seconds")
      const first = yield* Fiber.join(taking)
      assert.strictEqual(first.length, 1)
      assert.strictEqual(cancels, 1)
      const error = yield* Effect.flip(conn.query("SELECT 1"))
      assert.strictEqual(error.reason, "Closed")
      assert.include(error.message, "did not end an abandoned COPY in time")
    })
  )

  it.effect("a CopyBothResponse is refused, the copy ended with CopyDone, and the session stays usable", () =>
    Effect.gen(function* () {
      let copyDones = 0
      const port = yield* copyOutPeer({
        query: (socket, sql) => {
          if (sql.startsWith("START_REPLICATION")) {
            socket.write(
              Buffer.concat([
                encodeBackendToBytes({ _tag: "CopyBothResponse", format: 0, columnFormats: [] }),
                row("x")
              ])
            )
          } else {
            socket.write(Buffer.concat([encodeBackendToBytes({ _tag: "CommandComplete", commandTag: "OK" }), ready]))
          }
        },
        copyDone: (socket) => {
          copyDones++
          socket.write(
            Buffer.concat([
              encodeBackendToBytes({ _tag: "CopyDone" }),
              encodeBackendToBytes({ _tag: "CommandComplete", commandTag: "START_REPLICATION" }),
              ready
            ])
          )
        }
      })
      const conn = yield* Connection.make(config(port))
      const error = yield* Effect.flip(Effect.scoped(conn.copyOut("START_REPLICATION SLOT s LOGICAL 0/0")))
      assert.strictEqual(error.reason, "Protocol")
      assert.include(error.message, "CopyBothResponse")
      assert.strictEqual(copyDones, 1)
      assert.strictEqual((yield* conn.query("anything"))[0]!.command, "OK")
    })
  )

  it.effect("a FATAL error before the copy starts is the error reported, not the closed socket after it", () =>
    Effect.gen(function* () {
      const port = yield* copyOutPeer({
        query: (socket) =>
          socket.end(
            encodeBackendToBytes({
              _tag: "ErrorResponse",
              severity: "FATAL",
              severityNonLocalized: "FATAL",
              code: "57P01",
              message: "terminating connection due to administrator command"
            })
          )
      })
      const conn = yield* Connection.make(config(port))
      const error = yield* Effect.flip(Effect.scoped(conn.copyOut("COPY t TO STDOUT")))
      assert.strictEqual(error.code, "57P01")
      assert.isTrue(error.isRetryable)
      assert.strictEqual((yield* Effect.flip(conn.query("SELECT 1"))).reason, "Closed")
    })
  )
})
