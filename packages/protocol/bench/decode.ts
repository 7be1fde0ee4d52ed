/**
 * Decode micro-benchmark (a benchmark, not a test): how fast the hot path turns replication CopyData payloads into
 * pgoutput messages.
 *
 * The workload is a bulk insert of 100k rows synthesized with the encoder from templates captured from PostgreSQL 18
 * (test/fixtures/pg18): the `bulk` rows of the streamed fixture (id, 32-character text, enum) and the wide `items`
 * row of the dml fixture (8 columns: int, text, enum, domain, bytea, timestamptz, numeric, with the 5,000-character
 * TOAST value replaced by a short one). Each row is wrapped in XLogData and the loop does what the replication stream
 * does per message: `unsafeDecodeReplication`, then `unsafeDecodePgoutput` on the payload view.
 *
 * Run (from the repository root): node_modules/.bin/node packages/protocol/bench/decode.ts
 *
 * It deliberately measures decoding only: no socket, no framing, no value decoding by type.
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import * as Lsn from "../src/Lsn.ts"
import { encodePgoutput, unsafeDecodePgoutput } from "../src/pgoutput/PgoutputCodec.ts"
import type { Insert, PgoutputMessage, PgoutputOptions } from "../src/pgoutput/PgoutputMessage.ts"
import { encodeReplication, unsafeDecodeReplication } from "../src/replication/ReplicationMessage.ts"
import { Writer } from "../src/Writer.ts"

const ROWS = 100_000
const ROUNDS = 12
const WARMUP_ROUNDS = 3

const fixture = (name: string): ReadonlyArray<Uint8Array> =>
  readFileSync(path.join(import.meta.dirname, "..", "test", "fixtures", "pg18", `${name}.hex`), "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => Uint8Array.from(Buffer.from(l.split(" ")[1]!, "hex")))

const firstInsert = (lines: ReadonlyArray<Uint8Array>, options: PgoutputOptions): Insert => {
  let inStream = options.inStream
  for (const bytes of lines) {
    const m: PgoutputMessage = unsafeDecodePgoutput(bytes, { ...options, inStream })
    if (m._tag === "StreamStart") inStream = true
    else if (m._tag === "StreamStop") inStream = false
    else if (m._tag === "Insert") return m
  }
  throw new Error("no Insert in the fixture")
}

interface Workload {
  readonly name: string
  readonly buffer: Uint8Array
  /** Start and end offsets of each XLogData payload in `buffer`. */
  readonly bounds: Int32Array
  readonly options: PgoutputOptions
}

/** 100k XLogData payloads in one buffer, each an Insert from `vary` (a captured template with a fresh id). */
const synthesize = (name: string, vary: (row: number) => Insert): Workload => {
  const options: PgoutputOptions = { protoVersion: 4, inStream: false, streaming: "on" }
  const w = new Writer(1 << 20)
  const payload = new Writer(1024)
  const bounds = new Int32Array(ROWS * 2)
  let lsn = 0x1_0000_0000n
  for (let i = 0; i < ROWS; i++) {
    payload.clear()
    encodePgoutput(vary(i), payload, options)
    const data = payload.buf.subarray(0, payload.pos)
    bounds[2 * i] = w.pos
    encodeReplication(
      { _tag: "XLogData", walStart: Lsn.unsafeMake(lsn), walEnd: Lsn.unsafeMake(lsn), serverTime: 0n, data },
      w
    )
    bounds[2 * i + 1] = w.pos
    lsn += BigInt(data.length)
  }
  return { name, buffer: w.toBytes(), bounds, options }
}

const bulkTemplate = firstInsert(fixture("streamed"), { protoVersion: 4, inStream: false, streaming: "on" })
const itemsTemplate = firstInsert(fixture("dml"), { protoVersion: 1, inStream: false })

const workloads: ReadonlyArray<Workload> = [
  synthesize("bulk (3 columns, 32-char text)", (i) => ({
    ...bulkTemplate,
    xid: undefined,
    newTuple: [String(i + 1), ...bulkTemplate.newTuple.slice(1)]
  })),
  synthesize("items (8 mixed columns)", (i) => ({
    ...itemsTemplate,
    newTuple: [String(i + 1), "alpha", "a short value instead of the TOAST one", ...itemsTemplate.newTuple.slice(3)]
  }))
]

let sink = 0

const run = (w: Workload): number => {
  const { buffer, bounds, options } = w
  const start = performance.now()
  for (let i = 0; i < ROWS; i++) {
    const x = unsafeDecodeReplication(buffer, bounds[2 * i]!, bounds[2 * i + 1]!)
    if (x._tag !== "XLogData") throw new Error("expected XLogData")
    const m = unsafeDecodePgoutput(x.data, options)
    if (m._tag === "Insert") sink += m.newTuple.length
  }
  return performance.now() - start
}

console.log(`node ${process.versions.node}, ${ROWS} rows per round, ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up`)
for (const w of workloads) {
  for (let r = 0; r < WARMUP_ROUNDS; r++) run(w)
  const times: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) times.push(run(w))
  times.sort((a, b) => a - b)
  const median = times[Math.floor(times.length / 2)]!
  const best = times[0]!
  const mb = w.buffer.length / 1e6
  console.log(
    `${w.name}: ${(w.buffer.length / ROWS).toFixed(0)} B/msg, median ${median.toFixed(1)} ms/round → ` +
      `${(mb / (median / 1000)).toFixed(0)} MB/s, ${(((ROWS / median) * 1000) / 1e6).toFixed(2)} M msgs/s ` +
      `(best ${(mb / (best / 1000)).toFixed(0)} MB/s, ${(((ROWS / best) * 1000) / 1e6).toFixed(2)} M msgs/s)`
  )
}
if (sink === 0) console.log("(nothing decoded)")
