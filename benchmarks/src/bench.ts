/**
 * The benchmark driver: `node src/bench.ts [--quick] [--runs N] [--workloads A,B,C] [--clients id,...]
 * [--no-decode] [--out FILE]`.
 *
 * Starts one embedded PostgreSQL 18, and for each workload: creates one slot per client and run, runs the workload
 * once, writes the end marker, then lets every client drain its own slot in its own process, one client at a time,
 * runs interleaved (run 1 of every client, then run 2...). Then captures a bulk-insert stream once and runs the decode
 * micro-benchmark. Prints a Markdown report (also written to --out).
 *
 * It deliberately installs nothing: without pg_recvlogical it prints the command that installs it and stops.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import type pg from "pg"
import type { ClientConfig } from "./ChildProtocol.ts"
import {
  baselineClients,
  type ClientId,
  type ClientSpec,
  childNodeArgs,
  clientById,
  clients,
  prepareBaseline,
  scriptPath,
  setExtraNodeFlags
} from "./Clients.ts"
import * as Capture from "./decode/Capture.ts"
import { decoders } from "./decode/Decoders.ts"
import { connectAdmin, log, requireNode24, runInterleaved, versionOf } from "./Driver.ts"
import { describeMachine } from "./Machine.ts"
import { type DecodeResult, render, type WorkloadResult } from "./Report.ts"
import { runNodeClient, runRecvlogical } from "./Runner.ts"
import { median } from "./Stats.ts"
import {
  createSchema,
  createSlots,
  dataTable,
  dropSlots,
  endTable,
  fullSizes,
  publication,
  quickSizes,
  resetData,
  type Sizes,
  type WorkloadName,
  workloads,
  writeEndMarker
} from "./Workloads.ts"

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    workloads: { type: "string", default: "A,B,C" },
    clients: { type: "string", default: clients.map((c) => c.id).join(",") },
    "no-decode": { type: "boolean", default: false },
    "decode-passes": { type: "string" },
    out: { type: "string" },
    profile: { type: "string" },
    "keep-capture": { type: "string" },
    "node-flags": { type: "string" },
    baseline: { type: "string" },
    help: { type: "boolean", default: false }
  }
})

if (args.help) {
  console.log(`usage: node src/bench.ts [--quick] [--runs N] [--workloads A,B,C] [--clients ${clients.map((c) => c.id).join(",")}]
                          [--no-decode] [--decode-passes N] [--out FILE] [--profile DIR] [--keep-capture FILE]
                          [--node-flags="FLAGS"] [--baseline DIR]
  --quick     smaller workloads (A 20,000 rows, B 2,000 + 2,000 transactions, C 100,000 rows), 1 run
  --profile   write a V8 CPU profile of every Node client run into DIR (open in Chrome DevTools; slows the clients)
  --keep-capture  also copy the decode micro-benchmark's capture to FILE, to rerun one decoder on it:
              node src/decode/decodeChild.ts <decoder> FILE [passes]
  --baseline  also run the pgcdc clients against another checkout, built at DIR (git worktree add DIR REV; pnpm
              install; tsc -b), and report this checkout's ÷ the baseline's; this checkout's client scripts are
              copied into DIR/benchmarks/build/current-clients, so both sides run the same consumer code
  --node-flags  extra Node/V8 flags for every Node client and decoder alike (space-separated; the report names them),
              e.g. --node-flags=--min-semi-space-size=16 (with "=": the flags start with a dash)`)
  process.exit(0)
}

const quick = args.quick
const nodeFlags = (args["node-flags"] ?? "").split(/\s+/).filter((f) => f !== "")
setExtraNodeFlags(nodeFlags)
const sizes: Sizes = quick ? quickSizes : fullSizes
const runs = Number(args.runs ?? (quick ? "1" : "3"))
const decodePasses = Number(args["decode-passes"] ?? (quick ? "3" : "5"))
const workloadNames = args.workloads.split(",").map((w) => w.trim().toUpperCase()) as Array<WorkloadName>
for (const w of workloadNames) if (!(w in workloads)) throw new Error(`unknown workload ${w} (A, B or C)`)
const chosen: Array<ClientSpec> = args.clients.split(",").map((id) => {
  const spec = clientById(id.trim())
  if (spec === undefined) throw new Error(`unknown client ${id} (${clients.map((c) => c.id).join(", ")})`)
  return spec
})
if (args.baseline !== undefined) prepareBaseline(path.resolve(args.baseline))
const selected: Array<ClientSpec> = [
  ...chosen,
  ...(args.baseline === undefined ? [] : baselineClients(path.resolve(args.baseline), chosen))
]

// ---- prerequisites ------------------------------------------------------------------------------------------------

const recvlogicalBinary = process.env.PG_RECVLOGICAL ?? "pg_recvlogical"
let recvlogicalVersion = "not used"
if (selected.some((c) => c.id === "recvlogical")) {
  const version = versionOf(recvlogicalBinary)
  if (version === undefined) {
    console.error(
      [
        "pg_recvlogical (PostgreSQL's own logical replication receiver, the benchmark's floor) is not installed.",
        "On Debian or Ubuntu install it with:",
        "",
        "  apt-get install -y postgresql-client",
        "",
        "or point PG_RECVLOGICAL at the binary, or leave it out: --clients pglr,postgresjs,pgcdc-core,pgcdc"
      ].join("\n")
    )
    process.exit(1)
  }
  recvlogicalVersion = version
}
requireNode24()

// ---- one workload -------------------------------------------------------------------------------------------------

const runWorkload = async (db: TestDatabaseInfo, admin: pg.Client, name: WorkloadName): Promise<WorkloadResult> => {
  const workload = workloads[name]
  const slotOf = (client: ClientId, run: number) =>
    `bench_${name.toLowerCase()}_${client.replace(/[^a-z0-9]/g, "_")}_${run}`
  const slots = selected.flatMap((c) => Array.from({ length: runs }, (_, i) => slotOf(c.id, i + 1)))
  await dropSlots(admin, slots)
  await resetData(admin)
  await createSlots(admin, slots)
  log(`${name}: running the workload (${workload.title(sizes)})`)
  const t0 = performance.now()
  await workload.run(admin, sizes)
  const endLsn = await writeEndMarker(admin, name)
  log(`${name}: workload took ${((performance.now() - t0) / 1000).toFixed(1)} s; end position ${endLsn}`)
  const server = { host: db.host, port: db.port, user: db.user, password: db.password, database: db.database }
  const { measured, failures } = await runInterleaved(name, selected, runs, async (spec, run) => {
    const slot = slotOf(spec.id, run)
    const applicationName = `${slot}_app`
    try {
      return spec.script === undefined
        ? await runRecvlogical(admin, {
            binary: recvlogicalBinary,
            ...server,
            slot,
            publication,
            endLsn,
            applicationName
          })
        : await runNodeClient(
            admin,
            spec.script,
            {
              ...server,
              slot,
              publication,
              endTable,
              dataTable,
              applicationName
            } satisfies ClientConfig,
            args.profile === undefined
              ? []
              : ["--cpu-prof", `--cpu-prof-dir=${args.profile}`, `--cpu-prof-name=${slot}.cpuprofile`],
            "walsender",
            spec.args
          )
    } finally {
      await dropSlots(admin, [slot])
    }
  })
  await dropSlots(admin, slots)
  return {
    workload: name,
    title: workload.title(sizes),
    expectedChanges: workload.expectedChanges(sizes),
    runs: measured,
    failures
  }
}

// ---- decode micro-benchmark ---------------------------------------------------------------------------------------

const decodeChild = scriptPath("./decode/decodeChild.ts")

const runDecode = async (admin: pg.Client, dir: string): Promise<Array<DecodeResult>> => {
  const slot = "bench_capture"
  await dropSlots(admin, [slot])
  await resetData(admin)
  await createSlots(admin, [slot])
  await workloads.A.run(admin, sizes)
  log(`decode: capturing ${sizes.bulkRows} inserted rows with pg_logical_slot_peek_binary_changes`)
  const captured = await Capture.capture(admin, slot, publication)
  await dropSlots(admin, [slot])
  const file = path.join(dir, "capture.bin")
  Capture.write(file, captured)
  if (args["keep-capture"] !== undefined) Capture.write(args["keep-capture"], captured)
  const rows = sizes.bulkRows
  const out: Array<DecodeResult> = []
  for (const decoder of decoders) {
    const stdout = await new Promise<string>((resolve, reject) => {
      const profile =
        args.profile === undefined
          ? []
          : ["--cpu-prof", `--cpu-prof-dir=${args.profile}`, `--cpu-prof-name=decode_${decoder.id}.cpuprofile`]
      const child = spawn(
        process.execPath,
        [...childNodeArgs(), ...profile, decodeChild, decoder.id, file, String(decodePasses)],
        {
          stdio: ["ignore", "pipe", "inherit"]
        }
      )
      let text = ""
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (chunk: string) => {
        text += chunk
      })
      child.once("exit", (code) =>
        code === 0 ? resolve(text) : reject(new Error(`${decoder.id} exited with ${code}`))
      )
    }).catch((error: unknown) => {
      log(`decode ${decoder.label}: FAILED ${String(error)}`)
      return undefined
    })
    if (stdout === undefined) continue
    const result = JSON.parse(stdout.trim().split("\n").pop()!) as {
      firstMs: number
      times: Array<number>
      rowsSeen: number
    }
    const passMs = median(result.times)
    log(`decode ${decoder.label}: ${passMs.toFixed(1)} ms per pass`)
    out.push({
      id: decoder.id,
      label: decoder.label,
      messages: captured.payloads.length,
      rows,
      bytes: captured.bytes,
      passMs,
      firstPassMs: result.firstMs,
      passes: result.times.length,
      rowsSeen: result.rowsSeen
    })
  }
  return out
}

// ---- main ---------------------------------------------------------------------------------------------------------

const main = Effect.gen(function* () {
  const db = yield* TestDatabase.make({
    major: 18,
    // Room for one slot per client and run; no checkpoint storms while a million rows are written.
    settings: { max_replication_slots: "64", max_wal_senders: "64", max_wal_size: "8GB" }
  })
  log(`PostgreSQL ${db.serverVersionNum} on port ${db.port} (${db.source})`)
  const admin = yield* Effect.acquireRelease(
    Effect.promise(() => connectAdmin(db)),
    (c) => Effect.promise(() => c.end())
  )
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(path.join(os.tmpdir(), "pgcdc-bench-"))),
    (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
  )
  const postgres = yield* Effect.promise(() => admin.query<{ server_version: string }>("SHOW server_version"))
  const machine = describeMachine(postgres.rows[0]!.server_version, `pg_recvlogical: ${recvlogicalVersion}`, nodeFlags)
  yield* Effect.promise(() => createSchema(admin))
  const results: Array<WorkloadResult> = []
  for (const name of workloadNames) results.push(yield* Effect.promise(() => runWorkload(db, admin, name)))
  const decode = args["no-decode"] ? [] : yield* Effect.promise(() => runDecode(admin, dir))
  const header = `## Results (${quick ? "--quick" : "full"} run, ${runs} run${runs === 1 ? "" : "s"} per client, medians; ${new Date().toISOString().slice(0, 16)}Z)`
  return render(machine, results, decode, selected, header)
})

const t0 = performance.now()
const report = await Effect.runPromise(Effect.scoped(main))
console.log(report)
if (args.out !== undefined) writeFileSync(args.out, `${report}\n`)
log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
