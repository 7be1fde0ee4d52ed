/**
 * The chaos test from the command line, for long runs:
 *
 *   pnpm --filter @pgcdc/chaos chaos --seed 7 --duration 300 [--faults kill,stall,...] [--interval 20]
 *                                    [--consumer-bug buffered-journal] [--keep] [--json]
 *
 * Prints the seed and the fault schedule first, a line per fault as it happens, then the figures and the verdict.
 * Exit status 0 when the verifier passed, 1 when it found violations, 2 when the run itself could not be carried
 * out. Without --seed a random seed is chosen (and printed, so the run can be repeated).
 *
 * It does not run anything by itself beyond parsing the arguments: see Run.ts.
 */
import * as Effect from "effect/Effect"
import { parseArgs } from "node:util"
import { ConsumerBug } from "./ConsumerProtocol.ts"
import { type FaultKind, standardKinds } from "./FaultSchedule.ts"
import * as Report from "./Report.ts"
import { run } from "./Run.ts"

const allKinds: ReadonlyArray<FaultKind> = [...standardKinds, "freeze"]

const usage = `usage: chaos [--seed N] [--duration SECONDS] [--faults ${allKinds.join(",")}] [--interval MS]
             [--consumer-bug ${ConsumerBug.literals.join("|")}] [--keep] [--json]`

const fail = (message: string): never => {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const { values } = parseArgs({
  // pnpm passes a "--" through to the script when the user writes one.
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    seed: { type: "string" },
    duration: { type: "string", default: "30" },
    faults: { type: "string" },
    interval: { type: "string", default: "20" },
    "consumer-bug": { type: "string", default: "none" },
    keep: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : Number(values.seed)
if (!Number.isSafeInteger(seed)) fail(`--seed must be an integer, not ${values.seed}`)
const duration = Number(values.duration)
if (!(duration > 0)) fail(`--duration must be a positive number of seconds, not ${values.duration}`)
const interval = Number(values.interval)
if (!(interval >= 0)) fail(`--interval must be a number of milliseconds, not ${values.interval}`)
const kinds = values.faults?.split(",").map((k) => k.trim())
for (const k of kinds ?? []) if (!allKinds.includes(k as FaultKind)) fail(`unknown fault kind ${k}`)
const bug = values["consumer-bug"]
if (!ConsumerBug.literals.includes(bug as ConsumerBug)) fail(`unknown --consumer-bug ${bug}`)

process.stdout.write(`seed ${seed}\n`)
Effect.runPromise(
  run({
    seed,
    durationMs: duration * 1000,
    kinds: kinds as ReadonlyArray<FaultKind> | undefined,
    bug: bug as ConsumerBug,
    writeIntervalMs: interval,
    keep: values.keep
  })
).then(
  (report) => {
    process.stdout.write(`${values.json ? Report.toJson(report) : Report.format(report)}\n`)
    process.exit(report.verdict.ok ? 0 : 1)
  },
  (error: unknown) => {
    process.stderr.write(`seed ${seed}: the run could not be carried out: ${String(error)}\n`)
    process.exit(2)
  }
)
