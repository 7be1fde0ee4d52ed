/**
 * The snapshot row codec alone, offline: how many µs of CPU per row pgcdc's snapshot spends decoding the benchmark
 * table's COPY text (the COPY text cursor, every column's value reader and the row object), without a server, a
 * socket or Effect's runtime, so a change to a reader can be measured on a busy machine in seconds.
 *
 *   node benchmarks/src/snapshot/snapshotDecode.ts capture FILE [ROWS]   # the table's COPY text, once (PostgreSQL 15)
 *   node benchmarks/src/snapshot/snapshotDecode.ts decode FILE [PASSES]  # µs per row of each pass, and the best
 *   node benchmarks/src/snapshot/snapshotDecode.ts columns FILE          # what each column's reader adds
 *
 * `columns` times the codec with every reader replaced by one that skips its bytes, then with each real reader alone,
 * so the differences are each reader's own cost (the sum is below the whole: the whole has more garbage to collect).
 * Rows lie in buffers of about 64 kB, as socket reads deliver them. It deliberately measures no wall time and no
 * part of the service (benchSnapshot.ts does).
 */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import type { Reader } from "@pgcdc/protocol"
import type { SnapshotTable } from "@pgcdc/replication/internal/snapshot/plan"
import { SnapshotRowCodec } from "@pgcdc/replication/internal/snapshot/rowCodec"
import { TestDatabase } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import { connectAdmin } from "../Driver.ts"
import { copySql, createSnapshotTable, snapshotColumns, snapshotTable, textSettingsOptions } from "./SnapshotTable.ts"

const capture = (file: string, rows: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const db = yield* TestDatabase.make({ major: 15 })
      const admin = yield* Effect.acquireRelease(
        Effect.promise(() => connectAdmin(db)),
        (c) => Effect.promise(() => c.end())
      )
      yield* Effect.promise(() => createSnapshotTable(admin, rows))
      const text = execFileSync(process.env.PSQL ?? "psql", ["-X", "-q", "-c", copySql], {
        env: {
          ...process.env,
          PGHOST: db.host,
          PGPORT: String(db.port),
          PGUSER: db.user,
          PGPASSWORD: db.password,
          PGDATABASE: db.database,
          PGOPTIONS: textSettingsOptions
        },
        maxBuffer: 2 ** 31 - 1
      })
      writeFileSync(file, text)
    })
  )

interface Rows {
  readonly buffers: ReadonlyArray<Uint8Array>
  readonly starts: ReadonlyArray<number>
  readonly ends: ReadonlyArray<number>
}

/** The rows of a COPY text file, each in a buffer of about 64 kB holding whole rows. */
const rowsOf = (file: string): Rows => {
  const data = readFileSync(file)
  const buffers: Array<Uint8Array> = []
  const starts: Array<number> = []
  const ends: Array<number> = []
  let at = 0
  while (at < data.length) {
    let to = Math.min(data.length, at + 65536)
    while (to < data.length && data[to - 1] !== 0x0a) to++
    const chunk = data.subarray(at, to)
    for (let i = 0; i < chunk.length; ) {
      const nl = chunk.indexOf(0x0a, i)
      buffers.push(chunk)
      starts.push(i)
      ends.push(nl + 1)
      i = nl + 1
    }
    at = to
  }
  return { buffers, starts, ends }
}

/** The table as the snapshot's plan describes it (plan.ts), for the codec. */
const typeOids: Record<(typeof snapshotColumns)[number], number> = {
  id: 20,
  name: 25,
  amount: 1700,
  created: 1184,
  active: 16,
  payload: 3802,
  tags: 1009
}
const arrays = new Map([[1009, 25]])
const table: SnapshotTable = {
  table: {
    relationId: 1,
    schema: "public",
    name: snapshotTable,
    replicaIdentity: "d",
    columns: snapshotColumns.map((name) => ({ name, typeOid: typeOids[name], typeModifier: -1, isKey: name === "id" }))
  },
  columns: snapshotColumns.map((c) => `"${c}"`),
  filter: undefined,
  sources: [],
  estimatedRows: 0,
  types: { elementOf: (oid) => arrays.get(oid) }
}

/** CPU µs per row of one pass: decode every row and read every value, as the benchmark's consumer does. */
const pass = (codec: SnapshotRowCodec, rows: Rows): number => {
  const { buffers, starts, ends } = rows
  let values = 0
  const t0 = process.cpuUsage()
  for (let r = 0; r < buffers.length; r++) {
    const row = codec.decode(buffers[r]!, starts[r]!, ends[r]!)
    for (let c = 0; c < snapshotColumns.length; c++) if (row[snapshotColumns[c]!] !== null) values++
  }
  const used = process.cpuUsage(t0)
  if (values === 0) throw new Error("no value decoded")
  return (used.user + used.system) / buffers.length
}

const best = (codec: SnapshotRowCodec, rows: Rows, passes: number): number =>
  Math.min(...Array.from({ length: passes }, () => pass(codec, rows)))

const [command, file = "/tmp/snapshot-copy.txt", count] = process.argv.slice(2)
if (command === "capture") {
  await Effect.runPromise(capture(file, Number(count ?? "1000000")))
} else if (command === "decode") {
  const rows = rowsOf(file)
  const codec = new SnapshotRowCodec(table)
  const times = Array.from({ length: Number(count ?? "5") }, () => pass(codec, rows))
  console.log(
    `${rows.buffers.length} rows; µs per row: ${times.map((t) => t.toFixed(3)).join(" ")}; best ${Math.min(...times).toFixed(3)}`
  )
} else if (command === "columns") {
  const rows = rowsOf(file)
  const codec = new SnapshotRowCodec(table)
  const readers = (codec as unknown as { readers: Array<(r: Reader, n: number) => unknown> }).readers
  const real = [...readers]
  const skip = (r: Reader, n: number): number => {
    r.pos += n
    return 0
  }
  const all = best(codec, rows, 3)
  readers.fill(skip)
  const none = best(codec, rows, 3)
  console.log(`${rows.buffers.length} rows; µs per row: ${all.toFixed(3)}, of which cursor and row ${none.toFixed(3)}`)
  for (let k = 0; k < readers.length; k++) {
    readers[k] = real[k]!
    console.log(`  ${snapshotColumns[k]}: +${(best(codec, rows, 3) - none).toFixed(3)}`)
    readers[k] = skip
  }
} else {
  console.error("usage: snapshotDecode.ts capture FILE [ROWS] | decode FILE [PASSES] | columns FILE")
  process.exit(1)
}
