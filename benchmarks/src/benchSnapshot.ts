/**
 * The snapshot benchmark driver: `node src/benchSnapshot.ts [--quick] [--rows N] [--runs N] [--clients id,...]
 * [--major N] [--out FILE] [--profile DIR] [--node-flags=FLAGS]`.
 *
 * Starts one embedded PostgreSQL of pg_dump's major (pg_dump refuses a newer server), fills a mixed-type table
 * (snapshot/SnapshotTable.ts), reads its COPY text once to count its bytes (which also warms the page cache), then
 * lets every client read the whole table in its own process, one client at a time, runs interleaved (run 1 of every
 * client, then run 2..., the order rotating). Prints a Markdown report (also written to --out).
 *
 * It deliberately installs nothing: without psql or pg_dump it prints the command that installs them and stops.
 */
import { spawn } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as os from "node:os"
import { parseArgs } from "node:util"
import { pagesPerChunk } from "@pgcdc/replication/internal/snapshot/snapshotPhase"
import { type Major, majors, TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import { setExtraNodeFlags } from "./Clients.ts"
import { connectAdmin, log, requireNode24, runInterleaved, versionOf } from "./Driver.ts"
import { describeMachine } from "./Machine.ts"
import { type SnapshotClient, snapshotClients } from "./snapshot/SnapshotClients.ts"
import { renderSnapshot } from "./snapshot/SnapshotReport.ts"
import { copySql, createSnapshotTable, tableSizes, textSettingsOptions } from "./snapshot/SnapshotTable.ts"

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rows: { type: "string" },
    runs: { type: "string" },
    clients: { type: "string", default: snapshotClients.map((c) => c.id).join(",") },
    major: { type: "string" },
    out: { type: "string" },
    profile: { type: "string" },
    "node-flags": { type: "string" },
    help: { type: "boolean", default: false }
  }
})

if (args.help) {
  console.log(`usage: node src/benchSnapshot.ts [--quick] [--rows N] [--runs N] [--clients ${snapshotClients.map((c) => c.id).join(",")}]
                                  [--major N] [--out FILE] [--profile DIR] [--node-flags="FLAGS"]
  --quick     100,000 rows, 1 run (default: 1,000,000 rows, 3 runs, medians)
  --major     the embedded server's major (default: pg_dump's, which refuses newer servers)
  --profile   write a V8 CPU profile of every Node client run into DIR (open in Chrome DevTools; slows the clients)
  --node-flags  extra Node/V8 flags for every Node client (space-separated; the report names them)
  PSQL=/path, PG_DUMP=/path pick other binaries`)
  process.exit(0)
}

const rowCount = Number(args.rows ?? (args.quick ? "100000" : "1000000"))
const runs = Number(args.runs ?? (args.quick ? "1" : "3"))
const nodeFlags = (args["node-flags"] ?? "").split(/\s+/).filter((f) => f !== "")
setExtraNodeFlags(nodeFlags)
const selected: Array<SnapshotClient> = args.clients.split(",").map((id) => {
  const client = snapshotClients.find((c) => c.id === id.trim())
  if (client === undefined) throw new Error(`unknown client ${id} (${snapshotClients.map((c) => c.id).join(", ")})`)
  return client
})

// ---- prerequisites ------------------------------------------------------------------------------------------------

const psql = process.env.PSQL ?? "psql"
const pgDump = process.env.PG_DUMP ?? "pg_dump"
const psqlVersion = versionOf(psql)
const pgDumpVersion = versionOf(pgDump)
if (psqlVersion === undefined || pgDumpVersion === undefined) {
  console.error(
    [
      `${psqlVersion === undefined ? psql : pgDump} is not installed (psql and pg_dump are the peers of this benchmark).`,
      "On Debian or Ubuntu install them with:",
      "",
      "  apt-get install -y postgresql-client",
      "",
      "or point PSQL and PG_DUMP at the binaries."
    ].join("\n")
  )
  process.exit(1)
}
requireNode24()

/** pg_dump dumps servers up to its own major: the server runs that major unless --major says otherwise. */
const major = ((): Major => {
  const wanted = Number(args.major ?? /\s(\d+)\.\d+/.exec(pgDumpVersion)?.[1])
  const found = majors.find((m) => m === wanted)
  if (found === undefined) {
    console.error(
      `No embedded PostgreSQL ${wanted} (${pgDumpVersion}); the workspace has ${majors.join(", ")}: pass --major`
    )
    process.exit(1)
  }
  return found
})()

// ---- measuring ----------------------------------------------------------------------------------------------------

/** Reads the COPY text once through psql and counts its bytes (the unit of every MB/s), warming the page cache. */
const copyTextBytes = (db: TestDatabaseInfo): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(psql, ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", copySql], {
      stdio: ["ignore", "pipe", "inherit"],
      env: {
        ...process.env,
        PGHOST: db.host,
        PGPORT: String(db.port),
        PGUSER: db.user,
        PGPASSWORD: db.password,
        PGDATABASE: db.database,
        PGOPTIONS: textSettingsOptions
      }
    })
    let bytes = 0
    child.stdout.on("data", (chunk: Buffer) => {
      bytes += chunk.length
    })
    child.once("error", reject)
    child.once("exit", (code) => (code === 0 ? resolve(bytes) : reject(new Error(`psql exited with ${code}`))))
  })

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")

const main = Effect.gen(function* () {
  const db = yield* TestDatabase.make({ major })
  log(`PostgreSQL ${db.serverVersionNum} on port ${db.port} (${db.source}); load average ${load()}`)
  const admin = yield* Effect.acquireRelease(
    Effect.promise(() => connectAdmin(db)),
    (c) => Effect.promise(() => c.end())
  )
  const version = yield* Effect.promise(() => admin.query<{ server_version: string }>("SHOW server_version"))
  const machine = describeMachine(
    version.rows[0]!.server_version,
    `psql: ${psqlVersion}, pg_dump: ${pgDumpVersion}`,
    nodeFlags
  )
  log(`filling the table with ${rowCount.toLocaleString("en-US")} rows`)
  yield* Effect.promise(() => createSnapshotTable(admin, rowCount))
  const sizes = yield* Effect.promise(() => tableSizes(admin))
  const bytes = yield* Effect.promise(() => copyTextBytes(db))
  const facts = {
    ...sizes,
    copyTextBytes: bytes,
    pagesPerChunk,
    chunks: Math.max(1, Math.ceil(sizes.heapPages / pagesPerChunk))
  }
  log(
    `table: ${facts.rows} rows, ${(facts.totalBytes / 1048576).toFixed(0)} MB total, ${facts.heapPages} heap pages (${facts.chunks} pgcdc chunk(s)), COPY text ${(bytes / 1048576).toFixed(1)} MB`
  )
  const loadBeforeRuns = load()
  const { measured, failures } = yield* Effect.promise(() =>
    runInterleaved("snapshot", selected, runs, (client, run) =>
      client.run(
        { admin, db, psql, pgDump, profile: args.profile },
        `snap_${client.id.replace(/[^a-z0-9]/g, "_")}_${run}`
      )
    )
  )
  const header = `## Snapshot throughput (${rowCount.toLocaleString("en-US")} rows, ${runs} run${runs === 1 ? "" : "s"} per client, medians; ${new Date().toISOString().slice(0, 16)}Z; load average before the first measured run ${loadBeforeRuns})`
  return renderSnapshot(machine, { facts, clients: selected, runs: measured, failures }, header)
})

const t0 = performance.now()
const report = await Effect.runPromise(Effect.scoped(main))
console.log(report)
if (args.out !== undefined) writeFileSync(args.out, `${report}\n`)
log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
