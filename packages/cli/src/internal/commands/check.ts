/**
 * `pgcdc check`: a preflight of a server for pgcdc (facts.ts reads, findings.ts judges), printed as one finding per
 * line with its fix indented below, or as JSON. Exit status 3 when a finding is a problem, 0 otherwise (warnings
 * included), so a script or a CI job can gate on it.
 *
 * It deliberately changes nothing on the server: the fixes are printed, never run.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Command, Flag } from "effect/cli"
import { handler } from "../../Main.ts"
import { gather } from "../check/facts.ts"
import { count, type Finding, findings } from "../check/findings.ts"
import * as Connect from "../connect.ts"
import * as ExitCode from "../exitCode.ts"
import { Reported } from "../failure.ts"
import { Json } from "../globalFlags.ts"
import * as Inputs from "../inputs.ts"
import * as Output from "../output.ts"

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** The findings for people: severity, subject, message, then the fix indented. */
export const render = (all: ReadonlyArray<Finding>): Array<string> => {
  const width = Math.max(...all.map((f) => f.subject.length))
  const lines: Array<string> = []
  for (const f of all) {
    lines.push(`${f.severity.padEnd(8)} ${f.subject.padEnd(width)}  ${f.message}`)
    const indent = " ".repeat(8 + 1 + width + 2)
    for (const [i, fixLine] of (f.fix?.split("\n") ?? []).entries()) {
      lines.push(`${indent}${i === 0 ? "fix: " : "     "}${fixLine}`)
    }
  }
  const problems = count(all, "problem")
  const warnings = count(all, "warning")
  lines.push(
    problems === 0
      ? `no problems${warnings > 0 ? `, ${plural(warnings, "warning")}` : ""}`
      : `${plural(problems, "problem")}, ${plural(warnings, "warning")}`
  )
  return lines
}

export const check = Command.make(
  "check",
  {
    slot: Flag.String("slot").pipe(
      Flag.withAlias("S"),
      Flag.withDescription("Also check this slot: it exists, its WAL status, the WAL it may still hold, its lag"),
      Flag.optional
    ),
    publication: Flag.String("publication").pipe(
      Flag.withAlias("P"),
      Flag.withDescription("Check these publications and their tables, comma-separated (default: every one)"),
      Flag.optional
    ),
    maxLag: Flag.String("max-lag").pipe(
      Flag.withMetavar("size"),
      Flag.withDescription("A slot lagging more than this is a warning (default 1GB)"),
      Flag.withDefault("1GB")
    )
  },
  handler("pgcdc check", (f) =>
    Effect.gen(function* () {
      const slot = Option.isSome(f.slot) ? yield* Inputs.slotName(f.slot.value, "--slot") : undefined
      const publications = Inputs.list(Option.toArray(f.publication))
      const maxLagBytes = yield* Inputs.size(f.maxLag, "--max-lag")
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      const all = findings(yield* gather(conn, publications, slot), { maxLagBytes })
      const problems = count(all, "problem")
      if (json) {
        yield* Output.out(
          JSON.stringify({ ok: problems === 0, problems, warnings: count(all, "warning"), findings: all })
        )
      } else {
        yield* Output.outLines(render(all))
      }
      if (problems > 0) return yield* new Reported({ exitCode: ExitCode.problems })
    }).pipe(Effect.scoped)
  )
).pipe(
  Command.withDescription(
    "Checks a server for pgcdc: wal_level, the role, walsenders and slots, published tables, a slot's health; prints what to fix (exit status 3 on a problem)"
  )
)
