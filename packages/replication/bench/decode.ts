/**
 * Decode micro-benchmark of the replication decode path (a benchmark, not a test): how many nanoseconds per row
 * `@pgcdc/protocol` alone (XLogData + pgoutput, values as text) and `WalDecoder` (table resolved, every value decoded
 * by type OID into a row by column name) take on a real captured stream.
 *
 * The stream is the one of the repository benchmark (benchmarks/, workload A): a 200,000-row bulk insert into
 * `bench_rows (id bigint primary key, name text, amount numeric(12,2), created timestamptz, payload jsonb)`,
 * captured once from an embedded PostgreSQL 18 with `pg_logical_slot_peek_binary_changes` (protocol version 1) and
 * wrapped in XLogData headers, i.e. the exact CopyData payloads a client receives. The capture is cached in a file
 * (default `/tmp/pgcdc-decode-capture.bin`, format: repeated [uint32 length][payload]) so later runs need no server.
 *
 * Run (from the repository root): node_modules/.bin/node packages/replication/bench/decode.ts [--rows N] [--passes N] [--file F]
 *      [--only protocol|walDecoder]
 * Profile: add `--cpu-prof --cpu-prof-dir=/tmp/prof` before the script path.
 *
 * It deliberately measures decoding only: no socket, no framing, no Effect runtime.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { unsafeDecodePgoutput, unsafeDecodeReplication } from "@pgcdc/protocol"
import { WalDecoder } from "../src/internal/decoder/WalDecoder.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

const ROWS = Number(arg("rows") ?? "200000")
const PASSES = Number(arg("passes") ?? "7")
const FILE = arg("file") ?? `/tmp/pgcdc-decode-capture-${ROWS}.bin`
const ONLY = arg("only")

const rowValues = (i: string): string =>
  `${i}, 'name-' || ${i}, ((${i}::bigint * 7919) % 10000000) / 100.0,
   timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => ${i}),
   jsonb_build_object('id', ${i}, 'tags', jsonb_build_array('red', 'green'), 'score', (${i} % 1000) / 10.0,
                      'nested', jsonb_build_object('ok', ${i} % 2 = 0, 'label', 'item ' || ${i}))`

/** Starts an embedded PostgreSQL 18, runs the bulk insert and peeks its changes as XLogData payloads. */
const captureFromServer = async (): Promise<ReadonlyArray<Uint8Array>> => {
  const { Effect } = await import("effect")
  const { TestDatabase } = await import("@pgcdc/testing")
  const pg = (await import("pg")).default
  return Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const db = yield* TestDatabase.make({ major: 18 })
        return yield* Effect.promise(async () => {
          const client = new pg.Client({
            host: db.host,
            port: db.port,
            user: db.user,
            password: db.password,
            database: db.database
          })
          await client.connect()
          // Logical decoding reads only flushed WAL: make the insert's commit flushed when it returns.
          await client.query("SET synchronous_commit = on")
          await client.query(
            "CREATE TABLE bench_rows (id bigint PRIMARY KEY, name text, amount numeric(12,2), created timestamptz, payload jsonb)"
          )
          await client.query("CREATE PUBLICATION bench_pub FOR TABLE bench_rows")
          await client.query("SELECT pg_create_logical_replication_slot('bench_capture', 'pgoutput')")
          await client.query(`INSERT INTO bench_rows SELECT ${rowValues("i")} FROM generate_series(1, ${ROWS}) AS i`)
          const result = await client.query<{ lsn: string; data: Buffer }>(
            "SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes('bench_capture', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_pub')"
          )
          await client.end()
          return result.rows.map((row) => {
            const payload = Buffer.alloc(25 + row.data.length)
            payload[0] = 0x77 // 'w'
            const [hi, lo] = row.lsn.split("/")
            const lsn = (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)
            payload.writeBigUInt64BE(lsn, 1)
            payload.writeBigUInt64BE(lsn, 9)
            row.data.copy(payload, 25)
            return payload
          })
        })
      })
    )
  )
}

const load = async (): Promise<ReadonlyArray<Uint8Array>> => {
  if (!existsSync(FILE)) {
    console.log(`capturing ${ROWS} rows from an embedded PostgreSQL 18 into ${FILE}`)
    const payloads = await captureFromServer()
    const total = payloads.reduce((n, p) => n + 4 + p.length, 0)
    const out = Buffer.alloc(total)
    let at = 0
    for (const p of payloads) {
      out.writeUInt32BE(p.length, at)
      out.set(p, at + 4)
      at += 4 + p.length
    }
    writeFileSync(FILE, out)
  }
  const all = readFileSync(FILE)
  const payloads: Array<Uint8Array> = []
  let at = 0
  while (at < all.length) {
    const length = all.readUInt32BE(at)
    // Each payload its own buffer, as a socket reader hands them out.
    payloads.push(Buffer.from(all.subarray(at + 4, at + 4 + length)))
    at += 4 + length
  }
  return payloads
}

const payloads = await load()
const pgoutputOptions = { protoVersion: 1, inStream: false } as const

const protocolOnly = (): number => {
  let rows = 0
  for (const payload of payloads) {
    const m = unsafeDecodeReplication(payload)
    if (m._tag !== "XLogData") continue
    const message = unsafeDecodePgoutput(m.data, pgoutputOptions)
    if (message._tag === "Insert") rows++
  }
  return rows
}

const walDecoder = (): number => {
  // One decoder per pass, as one per replication session.
  const decoder = new WalDecoder({ protoVersion: 1 })
  let rows = 0
  for (const payload of payloads) {
    const m = unsafeDecodeReplication(payload)
    if (m._tag !== "XLogData") continue
    const message = decoder.unsafeDecode(m)
    if (message._tag === "Insert") rows++
  }
  return rows
}

const measure = (name: string, pass: () => number): void => {
  pass()
  pass()
  const times: Array<number> = []
  // CPU time of this process (user + system): less disturbed than wall time by other work on a busy machine.
  const cpu: Array<number> = []
  let rows = 0
  for (let i = 0; i < PASSES; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    rows = pass()
    times.push(performance.now() - t0)
    const c = process.cpuUsage(c0)
    cpu.push((c.user + c.system) / 1000)
  }
  const median = (xs: Array<number>): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const perRow = (ms: number): string => ((ms * 1e6) / rows).toFixed(0)
  const wall = median(times)
  const cpuMedian = median(cpu)
  console.log(
    `${name}: wall median ${perRow(wall)} ns/row (best ${perRow(times[0]!)}), ` +
      `CPU median ${perRow(cpuMedian)} ns/row (best ${perRow(cpu[0]!)}), ${rows} rows`
  )
}

console.log(`node ${process.versions.node}, ${payloads.length} payloads, ${PASSES} passes after 2 warm-up`)
if (ONLY === undefined || ONLY === "protocol") measure("protocol (XLogData + pgoutput)", protocolOnly)
if (ONLY === undefined || ONLY === "walDecoder") measure("WalDecoder (values decoded)", walDecoder)
