/**
 * The chaos test of the issue "The stream survives every way a session can end, and never ends silently", short
 * form: about 30 s against embedded PostgreSQL 18 with one fault of each kind (consumer SIGKILL and restart,
 * pg_terminate_backend of its walsender, pg_ctl restart -m fast and -m immediate, a smart stop and start, a consumer
 * stall longer than wal_sender_timeout), then the verifier. Long runs: `pnpm --filter @pgcdc/chaos chaos --seed N
 * --duration S` (README.md).
 *
 * The second test shows that the verifier is not blind: the same harness with a consumer that commits before its
 * journal is durable (and is killed), and with one that is frozen longer than wal_sender_timeout, fails on the
 * losses and the walsender timeout, naming the seed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import { standardKinds } from "../../src/FaultSchedule.ts"
import * as Report from "../../src/Report.ts"
import { flushDelayMs, run, slackMs } from "../../src/Run.ts"

describe("chaos (embedded PostgreSQL 18)", () => {
  it.live(
    "seed 1, 30 s, every fault: nothing lost, order kept per process, duplicates only of recent work after a kill, replay equals the table, no walsender timeout",
    () =>
      Effect.gen(function* () {
        const seed = 1
        const lines: Array<string> = []
        const report = yield* run({ seed, durationMs: 30_000, say: (line) => lines.push(line) })
        const text = `${lines.join("\n")}\n${Report.format(report)}`
        console.log(text)
        assert.isTrue(report.verdict.ok, text)
        for (const kind of standardKinds) {
          const of = report.kinds.find((k) => k.kind === kind)
          assert.isDefined(of, `seed ${seed}: no ${kind} fault ran\n${text}`)
          assert.strictEqual(of!.failedToInject, 0, `seed ${seed}: a ${kind} fault was not injected\n${text}`)
        }
        assert.isAbove(report.writer.acknowledged, 300, `seed ${seed}: the writer committed too little\n${text}`)
        // A smart shutdown waits for the writer's session, not for the walsender: it completes once the writer
        // closes its session, without falling back to a fast stop.
        for (const o of report.outcomes) {
          if (o.record.kind === "restart-smart") assert.isFalse(o.record.details.fellBackToFast, text)
        }

        // A consumer killed right after a commit: at most the flush delay's worth of work comes again.
        const kills = report.outcomes.filter((o) => o.record.kind === "kill")
        assert.isAbove(kills.length, 0)
        for (const kill of kills) assert.isTrue(kill.record.details.afterJournalWrite, `seed ${seed}\n${text}`)
        for (const k of report.verdict.figures.kills) {
          if (k.oldestRepeatedMs !== null) assert.isAtMost(k.oldestRepeatedMs, flushDelayMs + slackMs, text)
        }
      }),
    180_000
  )

  it.live(
    "the verifier fails a consumer that commits before its journal is durable, and one frozen past wal_sender_timeout",
    () =>
      Effect.gen(function* () {
        const seed = 2
        const lines: Array<string> = []
        const report = yield* run({
          seed,
          durationMs: 14_000,
          kinds: ["kill", "freeze"],
          bug: "buffered-journal",
          say: (line) => lines.push(line)
        })
        const text = `${lines.join("\n")}\n${Report.format(report)}`
        console.log(text)
        assert.isFalse(report.verdict.ok, text)
        const violations = report.verdict.violations
        for (const v of violations) assert.isTrue(v.startsWith(`seed ${seed}: `), v)
        assert.isTrue(
          violations.some((v) => v.includes("committed transactions never reached the journal")),
          text
        )
        assert.isTrue(
          violations.some((v) => v.includes("walsender timeouts")),
          text
        )
        // The evidence of an expected failure is not worth keeping.
        yield* Effect.promise(() => fs.rm(report.dir, { recursive: true, force: true }))
      }),
    180_000
  )
})
