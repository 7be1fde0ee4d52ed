/**
 * What importing costs: for each set of modules, fresh Node processes (the Node running this script) that import it
 * and report the CPU time and resident memory when the imports are done (Node's own start-up included, as the
 * replication benchmark's start-up table counts it), and how many modules Node loaded (counted by an in-thread
 * resolve hook, in a separate process, so that counting does not weigh on the timed runs). Prints a Markdown table
 * of medians.
 *
 * It deliberately measures imports only: connecting, reading and decoding are the replication benchmark's.
 *
 *   node --conditions=pgcdc-build build/src/benchImports.js [--runs N]
 *
 * Copied into another checkout's benchmarks/build/src (with Stats.js), it measures that checkout's packages.
 */
import { execFileSync } from "node:child_process"
import { parseArgs } from "node:util"
import { median } from "./Stats.ts"

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "7" } } })
const runs = Number(args.runs)

interface ImportSet {
  readonly label: string
  readonly modules: ReadonlyArray<string>
}

const sets: ReadonlyArray<ImportSet> = [
  { label: "nothing (Node alone)", modules: [] },
  { label: "`effect/Effect`", modules: ["effect/Effect"] },
  {
    label: "`effect/Effect`, `Stream`, `Layer`, `Queue` (the runtime of any Effect stream consumer)",
    modules: ["effect/Effect", "effect/Stream", "effect/Layer", "effect/Queue"]
  },
  { label: "`effect/Schema`", modules: ["effect/Schema"] },
  { label: "`effect/Config`", modules: ["effect/Config"] },
  { label: "`@pgcdc/protocol`", modules: ["@pgcdc/protocol"] },
  {
    label: "`@pgcdc/connection` and `@pgcdc/replication` (what the pgcdc clients import)",
    modules: ["@pgcdc/connection", "@pgcdc/replication"]
  },
  { label: "`@pgcdc/replication/rows` (typed rows, opt-in)", modules: ["@pgcdc/replication/rows"] },
  { label: "`pg` and `pg-logical-replication`", modules: ["pg", "pg-logical-replication"] },
  { label: "`postgres`", modules: ["postgres"] }
]

const importAll = (modules: ReadonlyArray<string>): string =>
  modules.map((m) => `await import(${JSON.stringify(m)});`).join("")

const node = (script: string): string =>
  execFileSync(process.execPath, ["--conditions=pgcdc-build", "--input-type=module", "-e", script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

const timed = (modules: ReadonlyArray<string>): { readonly cpuMs: number; readonly rssMb: number } => {
  const out = node(
    `${importAll(modules)}const u = process.cpuUsage(); console.log(JSON.stringify({ cpuMs: (u.user + u.system) / 1000, rssMb: process.memoryUsage().rss / 1048576 }))`
  )
  return JSON.parse(out) as { cpuMs: number; rssMb: number }
}

const counted = (modules: ReadonlyArray<string>): number => {
  const out = node(
    `import { registerHooks } from "node:module"; const seen = new Set(); registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.startsWith("file:")) seen.add(r.url); return r } }); ${importAll(modules)}console.log(seen.size)`
  )
  return Number(out.trim())
}

const rows: Array<string> = []
for (const set of sets) {
  // An entry point this checkout does not have (another checkout's, for comparison) gets a row saying so.
  try {
    counted(set.modules)
  } catch {
    rows.push(`| ${set.label} | not importable here | | |`)
    continue
  }
  const measured = Array.from({ length: runs }, () => timed(set.modules))
  const cpu = measured.map((m) => m.cpuMs)
  rows.push(
    `| ${set.label} | ${counted(set.modules)} | ${median(cpu).toFixed(0)} (${Math.min(...cpu).toFixed(0)}–${Math.max(...cpu).toFixed(0)}) | ${median(measured.map((m) => m.rssMb)).toFixed(0)} |`
  )
}
console.log(`Imports, ${runs} fresh processes each, medians (range); Node ${process.version}:\n`)
console.log("| imported | modules loaded | CPU when done (ms) | resident memory then (MB) |")
console.log("|---|---:|---:|---:|")
for (const row of rows) console.log(row)
