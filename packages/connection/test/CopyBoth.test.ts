/**
 * CopyBoth against a scripted peer (no database needed): payloads arrive intact and in batches (as views, or as
 * offsets with `frames`), a message larger than a socket read is reassembled, views stay valid, the server's
 * CopyDone ends the stream, an ErrorResponse fails it and leaves the session usable, and backpressure holds: while
 * the stream is not pulled the peer cannot push more than the socket buffers hold.
 */
import { assert, describe, it } from "@effect/vitest"
import { encodeBackendToBytes, Framer, unsafeDecodeFrontend } from "@pgcdc/protocol"
import { Effect, Pull, Redacted, Schedule, Stream } from "effect"
import type * as Net from "node:net"
import { Connection, type ConnectionConfig } from "../src/index.ts"
import { fakePeer, sessionStart } from "./support/FakePeer.ts"

const config = (port: number): ConnectionConfig => ({
  host: "127.0.0.1",
  port,
  user: "alice",
  password: Redacted.make("secret"),
  database: "db",
  sslmode: "disable",
  replication: "logical"
})

const copyData = (payload: Uint8Array) => encodeBackendToBytes({ _tag: "CopyData", data: payload })
const copyBothResponse = encodeBackendToBytes({ _tag: "CopyBothResponse", format: 0, columnFormats: [] })
const endOfCopy = Buffer.concat([
  encodeBackendToBytes({ _tag: "CommandComplete", commandTag: "START_REPLICATION" }),
  encodeBackendToBytes({ _tag: "ReadyForQuery", status: "I" })
])
const ready = encodeBackendToBytes({ _tag: "ReadyForQuery", status: "I" })

interface PeerHandlers {
  /** A Query arrived (START_REPLICATION or anything else). */
  readonly query: (socket: Net.Socket, sql: string) => void
  /** The client's CopyDone arrived. */
  readonly copyDone?: (socket: Net.Socket) => void
  /** CopyData from the client. */
  readonly copyData?: (socket: Net.Socket, data: Uint8Array) => void
}

/** A peer that completes the session start and then hands frontend messages to `handlers`. */
const copyPeer = (handlers: PeerHandlers) =>
  fakePeer((socket) => {
    const framer = new Framer({ mode: "startup" })
    socket.on("data", (chunk) => {
      framer.push(chunk)
      while (framer.next()) {
        if (framer.mode === "startup") {
          framer.setTyped()
          socket.write(sessionStart())
          continue
        }
        const msg = unsafeDecodeFrontend(framer.buf, framer.start, framer.end)
        if (msg._tag === "Query") handlers.query(socket, msg.sql)
        else if (msg._tag === "CopyDone") (handlers.copyDone ?? ((s) => s.write(endOfCopy)))(socket)
        else if (msg._tag === "CopyData") handlers.copyData?.(socket, msg.data)
      }
    })
  })

const payload = (i: number, size = 16) => {
  const bytes = new Uint8Array(size)
  new DataView(bytes.buffer).setUint32(0, i)
  bytes.fill(i % 251, 4)
  return bytes
}

describe("copyBoth", () => {
  it.live("delivers every payload in order, in batches, ending on the server's CopyDone", () =>
    Effect.gen(function* () {
      const count = 2000
      const received: Array<Uint8Array> = []
      const port = yield* copyPeer({
        query: (socket, sql) => {
          if (sql.startsWith("START_REPLICATION")) {
            const big = payload(count, 1 << 20)
            socket.write(
              Buffer.concat([
                copyBothResponse,
                ...Array.from({ length: count }, (_, i) => copyData(payload(i))),
                copyData(big),
                encodeBackendToBytes({ _tag: "CopyDone" })
              ])
            )
          } else {
            socket.write(
              Buffer.concat([
                encodeBackendToBytes({ _tag: "RowDescription", fields: [] }),
                encodeBackendToBytes({ _tag: "CommandComplete", commandTag: "SELECT 0" }),
                ready
              ])
            )
          }
        },
        copyData: (_socket, data) => void received.push(new Uint8Array(data))
      })
      const conn = yield* Connection.make(config(port))
      const batches = yield* Effect.scoped(
        Effect.gen(function* () {
          const copy = yield* conn.copyBoth("START_REPLICATION SLOT s LOGICAL 0/0")
          const batches = yield* copy.messages.pipe(Stream.chunks, Stream.runCollect)
          yield* copy.send(new Uint8Array([1, 2, 3]))
          yield* copy.done
          return batches
        })
      )
      const all = batches.flat()
      assert.strictEqual(all.length, count + 1)
      for (let i = 0; i < count; i++) assert.deepStrictEqual(all[i], payload(i))
      // The 1 MiB message spans many socket reads and is reassembled exactly.
      assert.deepStrictEqual(all[count], payload(count, 1 << 20))
      // Many messages per pull: the stream is not one Effect per message.
      assert.isBelow(batches.length, count / 10)
      assert.deepStrictEqual(received, [new Uint8Array([1, 2, 3])])
      // After the copy the session answers queries again.
      const r = yield* conn.query("SELECT")
      assert.strictEqual(r[0]!.command, "SELECT 0")
    })
  )

  it.live("frames: the same payloads as offsets into the reads, a message spanning reads included", () =>
    Effect.gen(function* () {
      const count = 2000
      const port = yield* copyPeer({
        query: (socket, sql) => {
          if (sql.startsWith("START_REPLICATION")) {
            socket.write(
              Buffer.concat([
                copyBothResponse,
                ...Array.from({ length: count }, (_, i) => copyData(payload(i))),
                copyData(payload(count, 1 << 20)),
                copyData(payload(count + 1)),
                encodeBackendToBytes({ _tag: "CopyDone" })
              ])
            )
          }
        }
      })
      const conn = yield* Connection.make(config(port))
      const reads = yield* Effect.scoped(
        Effect.gen(function* () {
          const copy = yield* conn.copyBoth("START_REPLICATION SLOT s LOGICAL 0/0")
          const reads = yield* copy.frames.pipe(Stream.runCollect)
          yield* copy.done
          return reads
        })
      )
      const all: Array<Uint8Array> = []
      for (const frames of reads) {
        assert.isAbove(frames.buffers.length, 0)
        assert.strictEqual(frames.starts.length, frames.buffers.length)
        assert.strictEqual(frames.ends.length, frames.buffers.length)
        for (let i = 0; i < frames.buffers.length; i++) {
          all.push(frames.buffers[i]!.slice(frames.starts[i], frames.ends[i]))
        }
      }
      assert.strictEqual(all.length, count + 2)
      for (let i = 0; i < count; i++) assert.deepStrictEqual(all[i], payload(i))
      assert.deepStrictEqual(all[count], payload(count, 1 << 20))
      assert.deepStrictEqual(all[count + 1], payload(count + 1))
      assert.isBelow(reads.length, count / 10)
    })
  )

  it.live("an ErrorResponse fails the stream with the server's fields; the session stays usable", () =>
    Effect.gen(function* () {
      const port = yield* copyPeer({
        query: (socket, sql) => {
          if (sql.startsWith("START_REPLICATION")) {
            socket.write(
              Buffer.concat([
                copyBothResponse,
                copyData(payload(1)),
                encodeBackendToBytes({
                  _tag: "ErrorResponse",
                  severity: "ERROR",
                  code: "55006",
                  message: 'replication slot "s" is active for PID 7'
                }),
                ready
              ])
            )
          } else {
            socket.write(Buffer.concat([encodeBackendToBytes({ _tag: "CommandComplete", commandTag: "OK" }), ready]))
          }
        }
      })
      const conn = yield* Connection.make(config(port))
      const error = yield* Effect.scoped(
        Effect.gen(function* () {
          const copy = yield* conn.copyBoth("START_REPLICATION SLOT s LOGICAL 0/0")
          const received: Array<Uint8Array> = []
          const error = yield* Effect.flip(
            copy.messages.pipe(Stream.runForEach((p) => Effect.sync(() => received.push(p))))
          )
          assert.deepStrictEqual(received, [payload(1)])
          return error
        })
      )
      assert.strictEqual(error.reason, "Server")
      assert.strictEqual(error.code, "55006")
      assert.isTrue(error.isRetryable)
      assert.strictEqual((yield* conn.query("anything"))[0]!.command, "OK")
    })
  )

  it.live(
    "CommandComplete inside the copy (a walsender exiting at shutdown) fails the stream as a retryable Closed error",
    () =>
      Effect.gen(function* () {
        const port = yield* copyPeer({
          query: (socket, sql) => {
            if (sql.startsWith("START_REPLICATION")) {
              // What walsender.c's WalSndDone sends when the server shuts down: CommandComplete, then it exits.
              socket.end(
                Buffer.concat([
                  copyBothResponse,
                  copyData(payload(1)),
                  encodeBackendToBytes({ _tag: "CommandComplete", commandTag: "COPY 0" })
                ])
              )
            }
          }
        })
        const conn = yield* Connection.make(config(port))
        const received: Array<Uint8Array> = []
        const error = yield* Effect.scoped(
          Effect.gen(function* () {
            const copy = yield* conn.copyBoth("START_REPLICATION SLOT s LOGICAL 0/0")
            return yield* Effect.flip(copy.messages.pipe(Stream.runForEach((p) => Effect.sync(() => received.push(p)))))
          })
        )
        assert.deepStrictEqual(received, [payload(1)])
        assert.strictEqual(error.reason, "Closed")
        assert.isTrue(error.isRetryable)
        assert.include(error.message, "CommandComplete")
        // The session is over: later calls say so instead of waiting on a socket the server closed.
        const after = yield* Effect.flip(conn.query("SELECT 1"))
        assert.strictEqual(after.reason, "Closed")
      })
  )

  it.live("does not read the socket while the stream is not pulled (backpressure)", () =>
    Effect.gen(function* () {
      const messageSize = 64 * 1024
      const messages = 1024
      const peer = { queued: 0, waiting: false, socket: undefined as Net.Socket | undefined }
      const accepted = () => peer.queued - (peer.socket?.writableLength ?? 0)
      const chunk = copyData(new Uint8Array(messageSize).fill(7))
      const total = messages * chunk.length
      const port = yield* copyPeer({
        query: (socket) => {
          peer.socket = socket
          socket.write(copyBothResponse)
          const pump = () => {
            peer.waiting = false
            while (peer.queued < total) {
              peer.queued += chunk.length
              if (!socket.write(chunk)) {
                peer.waiting = true
                socket.once("drain", pump)
                return
              }
            }
            socket.write(encodeBackendToBytes({ _tag: "CopyDone" }))
          }
          pump()
        }
      })
      const conn = yield* Connection.make(config(port))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const copy = yield* conn.copyBoth("START_REPLICATION SLOT s LOGICAL 0/0")
          const pull = yield* Stream.toPull(copy.messages)
          let received = (yield* pull).length
          // Stop pulling. The peer must end up blocked: its writes wait for a drain that never comes, and the number
          // of bytes the network took from it stops growing. Polled, because "nothing happens" has no event.
          let last = -1
          yield* Effect.suspend(() => {
            const now = accepted()
            const stalled = peer.waiting && now === last
            last = now
            return stalled ? Effect.void : Effect.fail("still moving")
          }).pipe(
            Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 50 }),
            Effect.orElseSucceed(() => assert.fail("the peer never blocked: the client reads without being pulled"))
          )
          assert.isBelow(accepted(), total / 2, "the client took data nobody pulled")
          // Pulling again drains everything, nothing lost.
          for (;;) {
            const batch = yield* pull.pipe(Pull.catchDone(() => Effect.succeed(undefined)))
            if (batch === undefined) break
            received += batch.length
          }
          assert.strictEqual(received, messages)
          yield* copy.done
        })
      )
    })
  )
})
