/**
 * Per-read micro-benchmark of the path from socket to consumer (a benchmark, not a test): what one socket read costs
 * the replication service when each read holds one small transaction, which is how a caught-up consumer receives
 * its changes (the walsender sends each transaction as it is committed) and how workload B of the repository
 * benchmark ends up when the client is faster than the walsender.
 *
 * The real pieces run: the session reader (`readSession`), the queue and permits, the
 * consumer's side (`Delivery`) and `Stream.fromPull` over `pullOne` (`stream`) or `pullBatch` (`batches`), with a
 * consumer that commits each transaction's end as the service's `commit` does (one synchronous state step, a wake of
 * the feedback loop when one is due). The server is replaced by a loopback socket that receives one prepared chunk
 * per read, written when the reader asks for the next one, so every read comes from the event loop as a replication
 * socket's does, and every run sees the same reads (unlike the repository benchmark, whose read sizes follow the
 * race with the walsender); the connection's framing by the same loop over message lengths. `--mode pull` runs that
 * source alone: the floor that the service's work adds to. `--mode direct` is a bound: one fiber that reads, decodes
 * and commits, without the queue, permits, Delivery or the reader fiber.
 *
 * Run (from the repository root): node_modules/.bin/node packages/replication/bench/perRead.ts [--reads N] [--txns-per-read N]
 *      [--runs N] [--mode pull|direct|stream|batches] [--source socket|immediate]
 * Profile: add `--cpu-prof --cpu-prof-dir=/tmp/prof` before the script path.
 *
 * It deliberately leaves out the server and the feedback loop's status updates (nothing is written back). The socket's
 * cost, the script's own writes included, is in every mode, `pull` too: the service's own CPU per read is a mode's
 * figure minus `pull`'s.
 */
import * as Net from "node:net"
import type { CopyDataFrames } from "@pgcdc/connection"
import {
  encodePgoutputToBytes,
  encodeReplicationToBytes,
  Lsn,
  type PgoutputMessage,
  readXLogDataPositions,
  xlogDataHeaderLength
} from "@pgcdc/protocol"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type { ReplicationError } from "../src/ReplicationError.ts"
import { lsnToConfirm, type WalMessage } from "../src/WalMessage.ts"
import { BackfillDesk, type BackfillRegistration, type ChunkRows } from "../src/internal/backfill/desk.ts"
import type { Signal as BackfillSignal } from "../src/internal/backfill/watermark.ts"
import { WalDecoder } from "../src/internal/decoder/WalDecoder.ts"
import { Delivery } from "../src/internal/delivery.ts"
import * as Feedback from "../src/internal/feedbackState.ts"
import { commitSignal, type Signal } from "../src/internal/feedbackLoop.ts"
import type { Received } from "../src/internal/received.ts"
import { ReceivedBatch, readSession } from "../src/internal/sessionReader.ts"

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? fallback : process.argv[i + 1]!
}
const READS = Number(arg("reads", "20000"))
const TXNS_PER_READ = Number(arg("txns-per-read", "1"))
const RUNS = Number(arg("runs", "5"))
const MODE = arg("mode", "batches")
/** `immediate`: each chunk after a `setImmediate` instead of through the socket (no syscalls: steadier, for A/B). */
const SOURCE = arg("source", "socket")

const options = { protoVersion: 1, inStream: false } as const
let lsn = 0x1000000n

/** One CopyData message carrying an XLogData around a pgoutput message. */
const copyData = (message: PgoutputMessage, walStart: bigint, walEnd = walStart): Uint8Array => {
  const payload = encodeReplicationToBytes({
    _tag: "XLogData",
    walStart: Lsn.unsafeMake(walStart),
    walEnd: Lsn.unsafeMake(walEnd),
    serverTime: 0n,
    data: encodePgoutputToBytes(message, options)
  })
  const out = new Uint8Array(5 + payload.length)
  out[0] = 0x64
  new DataView(out.buffer).setInt32(1, 4 + payload.length)
  out.set(payload, 5)
  return out
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

const relation: PgoutputMessage = {
  _tag: "Relation",
  xid: undefined,
  relationId: 16400,
  namespace: "public",
  relationName: "bench_rows",
  replicaIdentity: "d",
  columns: [
    { flags: 1, name: "id", typeOid: 20, typeModifier: -1 },
    { flags: 0, name: "name", typeOid: 25, typeModifier: -1 },
    { flags: 0, name: "amount", typeOid: 1700, typeModifier: 786438 },
    { flags: 0, name: "created", typeOid: 1184, typeModifier: -1 },
    { flags: 0, name: "payload", typeOid: 3802, typeModifier: -1 }
  ]
}

/** One transaction inserting one row like workload B's, as its three CopyData messages. */
const transaction = (i: number): Uint8Array => {
  const begin = lsn
  lsn += 0x100n
  const commit = lsn
  lsn += 0x10n
  const parts = [
    copyData({ _tag: "Begin", finalLsn: Lsn.unsafeMake(commit), commitTime: 0n, xid: 1000 + i }, begin),
    copyData(
      {
        _tag: "Insert",
        xid: undefined,
        relationId: 16400,
        newTuple: [
          String(i),
          `name-${i}`,
          `${(i * 7919) % 100000}.25`,
          "2026-01-01 00:00:00+00",
          `{"id": ${i}, "tags": ["red", "green"], "score": 4.5, "nested": {"ok": true, "label": "item ${i}"}}`
        ]
      },
      begin + 0x20n
    ),
    copyData(
      { _tag: "Commit", flags: 0, commitLsn: Lsn.unsafeMake(commit), endLsn: Lsn.unsafeMake(lsn), commitTime: 0n },
      commit,
      // The server's WAL end is at least the transaction's end.
      lsn
    )
  ]
  return concat(parts)
}

const prepare = (): ReadonlyArray<Uint8Array> => {
  const reads: Array<Uint8Array> = []
  for (let r = 0; r < READS; r++) {
    const parts: Array<Uint8Array> = r === 0 ? [copyData(relation, 0n)] : []
    for (let t = 0; t < TXNS_PER_READ; t++) parts.push(transaction(r * TXNS_PER_READ + t))
    reads.push(concat(parts))
  }
  return reads
}

/** A loopback TCP connection: the server's end writes the prepared chunks, the client's end is read. */
const socketPair = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ readonly server: Net.Socket; readonly client: Net.Socket; readonly listener: Net.Server }>(
        (resolve) => {
          const listener = Net.createServer({ noDelay: true }, (server) => resolve({ server, client, listener }))
          let client: Net.Socket
          listener.listen(0, "127.0.0.1", () => {
            const address = listener.address() as Net.AddressInfo
            client = Net.connect({ port: address.port, host: "127.0.0.1", noDelay: true })
          })
        }
      )
  ),
  ({ server, client, listener }) =>
    Effect.sync(() => {
      client.destroy()
      server.destroy()
      listener.close()
    })
)

/**
 * The frames of one prepared chunk per pull: each pull has the server's end write the next chunk and waits for the
 * client's end to read it, so every read comes from the event loop's poll phase, as a replication socket's does. The
 * CopyData payloads are handed out as offsets, as the connection's CopyDataPull hands them (its framing is a loop over
 * the chunk's message lengths, done here the same way). The copy ends after the last chunk.
 */
const scriptedFrames = (
  chunks: ReadonlyArray<Uint8Array>,
  sockets: { readonly server: Net.Socket; readonly client: Net.Socket } | undefined
): Stream.Stream<CopyDataFrames> => {
  let next = 0
  let waiting: ((chunk: Uint8Array) => void) | undefined
  sockets?.client.on("data", (data: Uint8Array) => {
    const w = waiting
    waiting = undefined
    w?.(data)
  })
  const pull: Effect.Effect<readonly [CopyDataFrames], Cause.Done> = Effect.callback((resume) => {
    if (next >= chunks.length) return resume(Cause.done())
    const expected = chunks[next++]!.length
    const deliver = (chunk: Uint8Array): void => {
      // One write, one read: a chunk split or merged by the kernel would change what is measured.
      if (chunk.length !== expected) throw new Error(`read ${chunk.length} bytes, wrote ${expected}`)
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      const buffers: Array<Uint8Array> = []
      const starts: Array<number> = []
      const ends: Array<number> = []
      for (let at = 0; at < chunk.length; ) {
        const end = at + 1 + view.getInt32(at + 1)
        buffers.push(chunk)
        starts.push(at + 5)
        ends.push(end)
        at = end
      }
      resume(Effect.succeed([{ buffers, starts, ends }] as const))
    }
    if (sockets === undefined) {
      const chunk = chunks[next - 1]!
      setImmediate(() => deliver(chunk))
      return
    }
    waiting = deliver
    sockets.server.write(chunks[next - 1]!)
  })
  return Stream.fromPull(Effect.succeed(pull))
}

const run = (chunks: ReadonlyArray<Uint8Array>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const frames = scriptedFrames(chunks, SOURCE === "socket" ? yield* socketPair : undefined)
      const total = READS * TXNS_PER_READ
      let commits = 0
      let changes = 0
      const onMessage = (m: WalMessage): Lsn.Lsn | undefined => {
        if (m._tag === "Insert") changes++
        else if (m._tag === "Commit") {
          commits++
          return lsnToConfirm(m)
        }
        return undefined
      }
      if (MODE === "pull") {
        // The floor: only the transport and the framing (what every mode pays before the service's work).
        let n = 0
        yield* Stream.runForEachWhile(frames, () => Effect.succeed(++n < READS))
        return
      }
      if (MODE === "direct") {
        // A bound, not the service: one fiber reads, decodes every message of the read at once and commits the last
        // transaction, with the same feedback bookkeeping per read and per commit, and no queue, permits, Delivery or
        // second fiber. What a design whose consumer reads the socket itself could approach.
        const decoder = new WalDecoder({ protoVersion: 1 })
        const batch = new ReceivedBatch()
        const words = new Uint32Array(4)
        let state = Feedback.initial(Lsn.zero)
        let n = 0
        yield* Stream.runForEachWhile(frames, ({ buffers, starts, ends }) => {
          batch.reset()
          let last: Lsn.Lsn | undefined
          for (let i = 0; i < buffers.length; i++) {
            const buffer = buffers[i]!
            readXLogDataPositions(buffer, starts[i]!, words, 0)
            batch.data(words, 0)
            const m = decoder.unsafeDecodeBody(
              buffer,
              starts[i]! + xlogDataHeaderLength,
              ends[i]!,
              Lsn.fromWords(words[0]!, words[1]!),
              Lsn.fromWords(words[2]!, words[3]!)
            )
            last = onMessage(m) ?? last
          }
          state = Feedback.onDecoded(batch.apply(state, 0), last, decoder.inTransaction)
          if (last !== undefined) {
            const r = Feedback.commitWithSignal(state, last)
            if (Result.isFailure(r)) return Effect.die(new Error("commit beyond received"))
            state = r.success[0]
          }
          return Effect.succeed(++n < READS)
        })
        if (changes !== total) throw new Error(`expected ${total} changes, saw ${changes}`)
        return
      }
      const state = yield* Ref.make(Feedback.initial(Lsn.zero))
      const signals = yield* Queue.unbounded<Signal, ReplicationError>()
      const queue = yield* Queue.unbounded<Received, ReplicationError | Cause.Done>()
      const permits = yield* Semaphore.make(10_000)
      const desk = new BackfillDesk({
        registrations: yield* Queue.unbounded<BackfillRegistration>(),
        chunks: yield* Queue.unbounded<ChunkRows>(),
        signals: yield* Queue.unbounded<BackfillSignal>(),
        userMessages: false,
        progressSchema: "pgcdc"
      })
      const delivery = new Delivery({ queue, permits, state, endLsn: undefined, desk })
      delivery.beginSession(1, Lsn.zero)
      yield* Effect.forkScoped(
        Effect.ignore(
          readSession(frames, {
            session: 1,
            decoder: new WalDecoder({ protoVersion: 1 }),
            endLsn: undefined,
            slice: 512,
            permits,
            queue,
            state,
            signals
          })
        )
      )
      // The service's commit: one synchronous state step, and a wake of the feedback loop when one is due.
      const commit = (at: Lsn.Lsn): Effect.Effect<void> =>
        Effect.sync(() => {
          const r = Feedback.commitWithSignal(state.ref.current, at)
          if (Result.isFailure(r)) throw new Error("commit beyond received")
          const [next, signal] = r.success
          state.ref.current = next
          if (signal & Feedback.wakeFeedback) Queue.offerUnsafe(signals, commitSignal)
        })
      if (MODE === "stream") {
        yield* Stream.runForEachWhile(Stream.fromPull(Effect.succeed(delivery.pullOne)), (m) => {
          const at = onMessage(m)
          return at === undefined ? Effect.succeed(true) : Effect.as(commit(at), commits < total)
        })
      } else {
        yield* Stream.runForEachWhile(Stream.fromPull(Effect.succeed(delivery.pullBatch)), (batch) => {
          let last: Lsn.Lsn | undefined
          for (const m of batch) last = onMessage(m) ?? last
          return last === undefined ? Effect.succeed(true) : Effect.as(commit(last), commits < total)
        })
      }
      if (changes !== total) throw new Error(`expected ${total} changes, saw ${changes}`)
    })
  )

// Prepared once (the run never writes the chunks). No forced GC between runs: V8 drops optimised code in a forced
// full GC, so every run would re-optimise the hot path on the clock (measured: 24.6 against 13.1 us per read).
const chunks = prepare()
const results: Array<number> = []
const system: Array<number> = []
for (let r = 0; r < RUNS + 1; r++) {
  const before = process.cpuUsage()
  await Effect.runPromise(run(chunks))
  const used = process.cpuUsage(before)
  // The first run warms the JIT up and is not counted.
  if (r > 0) {
    results.push((used.user + used.system) / READS)
    system.push(used.system / READS)
  }
}
system.sort((a, b) => a - b)
results.sort((a, b) => a - b)
const median = results[Math.floor(results.length / 2)]!
console.log(
  `${MODE}: ${READS} reads of ${TXNS_PER_READ} one-row transaction(s), ${RUNS} runs: ` +
    `${median.toFixed(2)} µs of CPU per read (median; range ${results[0]!.toFixed(2)}-${results.at(-1)!.toFixed(2)}), ` +
    `${(median / TXNS_PER_READ).toFixed(2)} µs per transaction; of which system ${system[Math.floor(system.length / 2)]!.toFixed(2)} µs per read`
)
