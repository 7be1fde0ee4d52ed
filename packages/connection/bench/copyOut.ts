/**
 * COPY TO STDOUT micro-benchmark (a benchmark, not a test): how fast `Connection.copyOut` drains a 1,000,000-row,
 * 6-column table from an embedded PostgreSQL 18, raw (the CopyData batches only, every payload's length summed) and
 * with the COPY text decoder of `@pgcdc/protocol` (every field split and unescaped: `cursor` without making strings,
 * `decode` into `string | null` arrays as a snapshot reader without typed values would).
 *
 * The table is `bench_copy (id bigint, name text, amount numeric(12,2), created timestamptz, flag boolean, note
 * text)`; one row in ten has a tab and a backslash in `note`, so the unescaping path is part of the measure. Rows/s
 * and MB/s count the CopyData payloads (the rows' text, newline included), not the protocol framing. Each pass is a
 * new COPY of the whole table (warm buffer cache after the first pass, which is not counted); the median and best of
 * the passes are printed. The server shares the machine's cores with the client, so this measures the pair.
 *
 * Run: node_modules/.bin/node packages/connection/bench/copyOut.ts [--rows N] [--passes N]
 *
 * It deliberately does not decode values by type (that is the replication package's value readers) nor compare
 * other clients.
 */
import { CopyTextCursor, unsafeDecodeCopyTextRow } from "@pgcdc/protocol"
import { TestDatabase } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { Connection, type ConnectionShape, type CopyDataFrames } from "../src/index.ts"

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? undefined : process.argv[i + 1]
}

const ROWS = Number(arg("rows") ?? "1000000")
const PASSES = Number(arg("passes") ?? "5")
const COLUMNS = 6
const SQL = "COPY bench_copy TO STDOUT"

type Mode = "raw" | "cursor" | "decode"

interface Pass {
  readonly seconds: number
  /** User + system CPU time of this process (the client side) during the pass. */
  readonly cpuSeconds: number
  readonly rows: number
  readonly bytes: number
  /** Stream elements (socket reads). */
  readonly reads: number
}

/** What each mode does with one read's payloads; returns their byte count. */
const consumers: Record<Mode, (f: CopyDataFrames) => number> = {
  raw: (f) => {
    let bytes = 0
    for (let i = 0; i < f.buffers.length; i++) bytes += f.ends[i]! - f.starts[i]!
    return bytes
  },
  cursor: (() => {
    const cursor = new CopyTextCursor()
    return (f: CopyDataFrames) => {
      let bytes = 0
      for (let i = 0; i < f.buffers.length; i++) {
        cursor.reset(f.buffers[i]!, COLUMNS, f.starts[i], f.ends[i])
        for (let c = 0; c < COLUMNS; c++) cursor.next()
        bytes += f.ends[i]! - f.starts[i]!
      }
      return bytes
    }
  })(),
  decode: (() => {
    let sink = 0
    return (f: CopyDataFrames) => {
      let bytes = 0
      for (let i = 0; i < f.buffers.length; i++) {
        const row = unsafeDecodeCopyTextRow(f.buffers[i]!, COLUMNS, f.starts[i], f.ends[i])
        // Keep the strings observable so the decode cannot be optimised away.
        sink += row[5] === null ? 0 : row[5]!.length
        bytes += f.ends[i]! - f.starts[i]!
      }
      if (sink < 0) console.log(sink)
      return bytes
    }
  })()
}

const pass = (conn: ConnectionShape, mode: Mode) =>
  Effect.scoped(
    Effect.gen(function* () {
      const consume = consumers[mode]
      const started = performance.now()
      const cpu = process.cpuUsage()
      const copy = yield* conn.copyOut(SQL)
      let rows = 0
      let bytes = 0
      let reads = 0
      yield* Stream.runForEach(copy.frames, (f) =>
        Effect.sync(() => {
          reads++
          rows += f.buffers.length
          bytes += consume(f)
        })
      )
      const seconds = (performance.now() - started) / 1000
      const used = process.cpuUsage(cpu)
      const cpuSeconds = (used.user + used.system) / 1e6
      const counted = yield* copy.rowCount
      if (counted !== ROWS || rows !== ROWS)
        throw new Error(`expected ${ROWS} rows, read ${rows}, COPY said ${counted}`)
      return { seconds, cpuSeconds, rows, bytes, reads } satisfies Pass
    })
  )

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const report = (mode: Mode, passes: ReadonlyArray<Pass>): string => {
  const { rows, bytes } = passes[0]!
  const fmt = (seconds: number) =>
    `${(rows / seconds / 1e6).toFixed(2)} M rows/s, ${(bytes / seconds / 1e6).toFixed(0)} MB/s (${seconds.toFixed(3)} s)`
  const times = passes.map((p) => p.seconds)
  const cpu = median(passes.map((p) => p.cpuSeconds))
  const perRead = rows / median(passes.map((p) => p.reads))
  return `${mode.padEnd(7)} median ${fmt(median(times))}   best ${fmt(Math.min(...times))}   client CPU ${((cpu / rows) * 1e9).toFixed(0)} ns/row, ${perRead.toFixed(0)} rows/read`
}

const main = Effect.gen(function* () {
  const db = yield* TestDatabase.make({ major: 18 })
  const conn = yield* Connection.make({
    host: db.host,
    port: db.port,
    user: db.user,
    password: Redacted.make(db.password),
    database: db.database,
    applicationName: "pgcdc-copyout-bench"
  })
  yield* conn.query(
    "CREATE TABLE bench_copy (id bigint, name text, amount numeric(12,2), created timestamptz, flag boolean, note text)"
  )
  yield* conn.query(
    `INSERT INTO bench_copy SELECT i, 'name-' || i, ((i::bigint * 7919) % 10000000) / 100.0,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => i), i % 2 = 0,
       CASE WHEN i % 10 = 0 THEN E'tab\\there, back\\\\slash' ELSE md5(i::text) END
     FROM generate_series(1, ${ROWS}) AS i`
  )
  yield* conn.query("VACUUM ANALYZE bench_copy")
  const sizes = yield* conn.query("SELECT pg_size_pretty(pg_table_size('bench_copy'))")
  console.log(`bench_copy: ${ROWS} rows, ${COLUMNS} columns, ${sizes[0]!.rows[0]![0]} on disk; ${PASSES} passes each`)
  const warm = yield* pass(conn, "raw")
  console.log(`warm-up: ${warm.rows} rows, ${(warm.bytes / 1e6).toFixed(1)} MB of row text`)
  const modes: ReadonlyArray<Mode> = ["raw", "cursor", "decode"]
  const results = new Map<Mode, Array<Pass>>(modes.map((m) => [m, []]))
  // Interleaved, so that a slower period of the shared machine does not land on one mode only.
  for (let p = 0; p < PASSES; p++) for (const mode of modes) results.get(mode)!.push(yield* pass(conn, mode))
  for (const mode of modes) console.log(report(mode, results.get(mode)!))

  // The decoder alone, without the server: the payloads of one copy kept in memory (their buffers are never reused).
  const kept: Array<CopyDataFrames> = []
  yield* Effect.scoped(
    Effect.gen(function* () {
      const copy = yield* conn.copyOut(SQL)
      yield* Stream.runForEach(copy.frames, (f) => Effect.sync(() => kept.push(f)))
    })
  )
  for (const mode of ["cursor", "decode"] as const) {
    const times: Array<number> = []
    let bytes = 0
    for (let p = 0; p < PASSES; p++) {
      const started = performance.now()
      bytes = 0
      for (const f of kept) bytes += consumers[mode](f)
      times.push((performance.now() - started) / 1000)
    }
    const t = median(times)
    console.log(
      `${mode.padEnd(7)} in memory: ${(ROWS / t / 1e6).toFixed(2)} M rows/s, ${(bytes / t / 1e6).toFixed(0)} MB/s (${((t / ROWS) * 1e9).toFixed(0)} ns/row)`
    )
  }
})

await Effect.runPromise(Effect.scoped(main))
