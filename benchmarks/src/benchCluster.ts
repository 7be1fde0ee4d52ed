/**
 * The cluster benchmark driver: `node src/benchCluster.ts [--quick] [--per-slot N] [--runs N] [--variants
 * separate,cluster] [--out FILE]`.
 *
 * Starts one embedded PostgreSQL 18, four tables each with its own publication (cluster/ClusterWorkload.ts), the
 * slots of every run, then a backlog of single-row transactions (`--per-slot` per table) before any consumer starts.
 * Each run drains its four slots with one variant (cluster/DrainRun.ts): (a) four plain @pgcdc/replication consumer
 * processes of one slot each, or (b) three @pgcdc/cluster runner processes with a SlotConsumer for each slot (pgcdc's
 * default sharding timings, runner storage in another database of the same server). Both run the same consumer
 * (cluster/DrainProtocol.ts). Runs are interleaved, the order rotating. Prints a Markdown report (also to --out).
 */
import { writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { ClusterOptions } from "@pgcdc/cluster"
import { freePort, TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { scriptPath } from "./Clients.ts"
import {
  type ClusterResult,
  type DrainMeasurement,
  renderCluster,
  type VariantId,
  type VariantInfo
} from "./cluster/ClusterReport.ts"
import {
  createSchema,
  databaseOf,
  publicationOf,
  slotCount,
  slotNames,
  targetSchema,
  writeBacklog
} from "./cluster/ClusterWorkload.ts"
import type { DrainConfig } from "./cluster/DrainProtocol.ts"
import { runDrain } from "./cluster/DrainRun.ts"
import { connectAdmin, log, requireNode24 } from "./Driver.ts"
import { megabytes, seconds } from "./Format.ts"
import { describeMachine } from "./Machine.ts"

const allVariants: ReadonlyArray<VariantInfo> = [
  { id: "separate", label: "(a) four single-slot processes (@pgcdc/replication)", processes: slotCount },
  { id: "cluster", label: "(b) three @pgcdc/cluster runners, a SlotConsumer per slot", processes: 3 }
]

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "per-slot": { type: "string" },
    runs: { type: "string" },
    variants: { type: "string", default: allVariants.map((v) => v.id).join(",") },
    consumer: { type: "string", default: "noop" },
    layout: { type: "string", default: "tables" },
    out: { type: "string" },
    help: { type: "boolean", default: false }
  }
})

if (args.help) {
  console.log(`usage: node src/benchCluster.ts [--quick] [--per-slot N] [--runs N] [--variants separate,cluster]
                              [--consumer noop|sink] [--layout tables|databases] [--out FILE]
  --quick      10,000 transactions per slot, 1 run (default: 50,000 per slot, 3 runs, medians)
  --consumer   noop (default): commit every transaction and nothing else; sink: apply it to a target database
               of the same server with @pgcdc/sink-postgres (exactly once)
  --layout     tables (default): the four tables in one database, every walsender decodes all the WAL;
               databases: each table in a database of its own (four tenants), the consumers' share grows`)
  process.exit(0)
}

const perSlot = Number(args["per-slot"] ?? (args.quick ? "10000" : "50000"))
const runs = Number(args.runs ?? (args.quick ? "1" : "3"))
const consumer = args.consumer
if (consumer !== "noop" && consumer !== "sink") throw new Error(`--consumer is noop or sink, not ${consumer}`)
const layout = args.layout
if (layout !== "tables" && layout !== "databases") throw new Error(`--layout is tables or databases, not ${layout}`)
const variants = args.variants.split(",").map((id) => {
  const v = allVariants.find((x) => x.id === id.trim())
  if (v === undefined) throw new Error(`unknown variant ${id} (${allVariants.map((x) => x.id).join(", ")})`)
  return v
})
/** Commits reach the server this soon (Replication `flushDelay`, default 1 s): the end is seen within a poll or two. */
const flushDelayMs = 20
/**
 * A join-triggered rebalance comes after the join debounce and a refresh of the assignments: the gates open once
 * nothing changed for that long plus another refresh. Both variants wait as long, so both walsenders have had the
 * same time to fill their consumers' buffers before the drain is timed.
 */
const timings = ClusterOptions.defaults
const settleMs =
  Duration.toMillis(timings.runnerJoinDebounce) + 2 * Duration.toMillis(timings.refreshAssignmentsInterval)
const storageDatabase = "cb_cluster"
requireNode24()

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")

const urlOf = (db: TestDatabaseInfo, database: string) =>
  `postgres://${db.user}:${db.password}@${db.host}:${db.port}/${database}?sslmode=disable`

/** The sink's target database of one run of one variant (`--consumer sink`). */
const targetOf = (variant: VariantId, run: number) => `cb_target_${variant}_${run}`

const configsOf = async (db: TestDatabaseInfo, variant: VariantId, run: number): Promise<Array<DrainConfig>> => {
  const slots = slotNames(variant, run).map((slot, i) => ({
    slot,
    publication: publicationOf(i),
    database: databaseOf(layout, db, i)
  }))
  const base = {
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    flushDelayMs,
    targetDatabase: consumer === "sink" ? targetOf(variant, run) : undefined
  }
  if (variant === "separate") return slots.map((s) => ({ ...base, slots: [s] }))
  const configs: Array<DrainConfig> = []
  for (let i = 0; i < 3; i++) {
    const port = await Effect.runPromise(freePort)
    configs.push({
      ...base,
      slots,
      cluster: { port, storageUrl: urlOf(db, storageDatabase), tablePrefix: `cb_run${run}` }
    })
  }
  return configs
}

/** An empty target database with the four tables, for the sinks of one run of one variant. */
const createTarget = async (db: TestDatabaseInfo, database: string): Promise<void> => {
  const admin = await connectAdmin(db)
  await admin.query(`CREATE DATABASE ${database}`)
  await admin.end()
  const target = await connectAdmin({ ...db, database })
  await target.query(targetSchema)
  await target.end()
}

const main = Effect.gen(function* () {
  const db = yield* TestDatabase.make({
    major: 18,
    settings: { max_replication_slots: String(runs * variants.length * slotCount + 8), max_wal_senders: "32" }
  })
  log(`PostgreSQL ${db.serverVersionNum} on port ${db.port} (${db.source}); load average ${load()}`)
  const admin = yield* Effect.acquireRelease(
    Effect.promise(() => connectAdmin(db)),
    (c) => Effect.promise(() => c.end())
  )
  const version = yield* Effect.promise(() => admin.query<{ server_version: string }>("SHOW server_version"))
  const machine = describeMachine(version.rows[0]!.server_version, "no peers (pgcdc against itself)", [])
  yield* Effect.promise(async () => {
    await admin.query(`CREATE DATABASE ${storageDatabase}`)
    const slotSets = Array.from({ length: runs }, (_, r) => variants.map((v) => slotNames(v.id, r + 1))).flat()
    await createSchema(admin, db, layout, slotSets)
    if (consumer === "sink") {
      for (let run = 1; run <= runs; run++) for (const v of variants) await createTarget(db, targetOf(v.id, run))
    }
  })
  log(`writing the backlog: ${perSlot.toLocaleString("en-US")} transactions per slot, ${slotCount} slots`)
  const t0 = performance.now()
  const endLsns = yield* Effect.promise(() => writeBacklog(admin, db, layout, perSlot))
  const wal = yield* Effect.promise(() =>
    admin.query<{ bytes: string }>(
      "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), min(restart_lsn))::text AS bytes FROM pg_replication_slots"
    )
  )
  const walMb = Number(wal.rows[0]!.bytes) / 1048576
  log(
    `backlog written in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${walMb.toFixed(0)} MB of WAL, ends at ${endLsns.join(", ")}`
  )

  const measured = new Map<VariantId, Array<DrainMeasurement>>()
  const failures = new Map<VariantId, string>()
  const logDir = os.tmpdir()
  const loadBeforeRuns = load()
  for (let run = 1; run <= runs; run++) {
    const order = variants.map((_, i) => variants[(i + run - 1) % variants.length]!)
    for (const variant of order) {
      if (failures.has(variant.id)) continue
      const logFile = path.join(logDir, `pgcdc-bench-cluster-${variant.id}-${run}.log`)
      try {
        const m = yield* Effect.promise(async () =>
          runDrain({
            admin,
            script: scriptPath(
              variant.id === "separate" ? "./cluster/clients/singleSlot.ts" : "./cluster/clients/clusterRunner.ts"
            ),
            configs: await configsOf(db, variant.id, run),
            slots: slotNames(variant.id, run),
            endLsns,
            settleMs,
            logFile,
            timeoutMs: 10 * 60_000
          })
        )
        measured.set(variant.id, [...(measured.get(variant.id) ?? []), m])
        log(
          `run ${run} ${variant.id}: start-up ${seconds(m.startupMs)} s, drain ${seconds(m.drainMs)} s (slots ${m.slotDrainMs.map(seconds).join(", ")}), CPU drain ${seconds(m.cpuDrainMs)} s (busiest process ${seconds(m.busiestCpuDrainMs)} s, walsenders ${m.walsenderCpuDrainMs.map(seconds).join(", ")} s) + start-up ${seconds(m.cpuStartupMs)} s, peak RSS ${megabytes(m.peakRssKb)} MB, placement ${m.placement.join("+")}, moves ${m.startupMoves}/${m.movesDuringDrain}; load ${load()}`
        )
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        failures.set(variant.id, message)
        log(`run ${run} ${variant.id}: FAILED ${message}`)
      }
    }
  }
  const result: ClusterResult = { perSlot, slots: slotCount, variants, runs: measured, failures }
  const header = `## Cluster drain, ${consumer === "noop" ? "no-op consumer" : "exactly-once sink"}, ${layout === "tables" ? "four tables in one database" : "four databases"} (${slotCount} slots × ${perSlot.toLocaleString("en-US")} transactions, ${runs} run${runs === 1 ? "" : "s"} per variant, medians; ${new Date().toISOString().slice(0, 16)}Z; load average before the first measured run ${loadBeforeRuns}, after the last ${load()})`
  const facts = `- Backlog: ${perSlot.toLocaleString("en-US")} single-row INSERT transactions per slot and a closing transaction, ${layout === "tables" ? `round-robin over the four tables of one database: ${walMb.toFixed(0)} MB of WAL that every slot's walsender decodes` : `each table in a database of its own, written by four sessions at once: ${walMb.toFixed(0)} MB of WAL, every walsender skipping the other databases' records`}; ${consumer === "noop" ? "consumers commit every transaction and do nothing else (no-op consumer)" : "consumers apply every transaction to a target database of the same server with @pgcdc/sink-postgres (exactly once, up to 500 source transactions per target transaction)"}, \`flushDelay\` ${flushDelayMs} ms in both variants; in both variants the gates open once nothing changed for ${(settleMs / 1000).toFixed(0)} s (a placement change, a process or consumer starting).`
  return renderCluster(machine, result, header, facts)
})

const started = performance.now()
const report = await Effect.runPromise(Effect.scoped(main))
console.log(report)
if (args.out !== undefined) writeFileSync(args.out, `${report}\n`)
log(`done in ${((performance.now() - started) / 1000).toFixed(0)} s`)
