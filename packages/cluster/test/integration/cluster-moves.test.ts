/**
 * Four slots on three runner processes, a writer committing to each slot's table throughout, every slot applied to a
 * target database by the exactly-once sink (PostgreSQL 18; the cluster's storage in a database of the same server):
 *
 * 1. SIGKILL of a runner that runs slots: each of its slots is consumed again by another runner within the takeover
 *    bound (pgcdc's defaults: shardLockExpiration 10 s; asserted with slack at 30 s, the measured figure is logged);
 * 2. SIGTERM of another runner (a graceful leave): its slots move, and the new owner's sink skips nothing, which
 *    shows the old owner's last status update reached the server before the new one started;
 * 3. at the end every target equals its source, the target's audit shows no change lost or applied twice, and the
 *    progress rows only ever moved forward.
 */
import { assert, layer } from "@effect/vitest"
import { freePort, TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as Workload from "@pgcdc/testing/internal/versionedWorkload"
import { Effect, Fiber, Option, Ref } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { ensure as ensureProgress } from "@pgcdc/sink-postgres/internal/progress"
import { eventually, session } from "@pgcdc/testing/internal/integration"

const script = fileURLToPath(new URL("./fixtures/runner.ts", import.meta.url))
const slots = ["c1", "c2", "c3", "c4"]

interface Consumed {
  readonly slot: string
  readonly runner: string
  readonly t: number
  readonly skipped: number
}

const stop = (child: ChildProcess, signal: NodeJS.Signals) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal)
}

/** A runner process; its `consumed` events go to `events`, its other lines (its log) to `logs`. */
const runner = (db: TestDatabaseInfo, events: Array<Consumed>, logs: Array<string>) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const port = yield* freePort
      const server = { host: db.host, port: db.port, user: db.user, password: db.password }
      const child = spawn(process.execPath, [script, JSON.stringify({ port, server, slots })], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (line.startsWith('{"event":"consumed"')) events.push(JSON.parse(line) as Consumed)
        else logs.push(`runner ${port}: ${line}`)
      })
      return { child, address: `127.0.0.1:${port}` }
    }),
    ({ child }) => Effect.sync(() => stop(child, "SIGKILL"))
  )

/** The runner that last started each slot. */
const owners = (events: ReadonlyArray<Consumed>) => {
  const out = new Map<string, Consumed>()
  for (const e of events) out.set(e.slot, e)
  return out
}

/** Waits until every slot of `moved` was consumed by another runner than `from` after `since`; returns those. */
const movedAway = (events: Array<Consumed>, moved: ReadonlyArray<string>, from: string, since: number) =>
  eventually(
    Effect.sync(() => {
      const after = moved.map((slot) => events.find((e) => e.slot === slot && e.runner !== from && e.t > since))
      return after.every((e) => e !== undefined) ? Option.some(after as ReadonlyArray<Consumed>) : Option.none()
    }),
    `slots ${moved.join(", ")} to be consumed again away from ${from}`,
    1200
  )

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })("cluster", (it) => {
  it.effect(
    "four slots on three runners: a killed runner's slots move within the bound, a leaving runner's gracefully, exactly once",
    () => {
      // The runners' logs, printed only if the test fails; the figures measured, printed at the end.
      const logs: Array<string> = []
      const figures: Array<string> = []
      return Effect.gen(function* () {
        const db = yield* TestDatabase
        const source = yield* session(db)
        yield* source.query("CREATE DATABASE target")
        yield* source.query("CREATE DATABASE cluster")
        const target = yield* session(db, "target")
        yield* ensureProgress(target, "public")
        yield* Workload.watchProgress(target)
        for (const slot of slots) {
          yield* Workload.createSource(source, slot, `p_${slot}`)
          yield* source.query(`SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`)
          yield* Workload.createTarget(target, slot)
        }
        const halt = yield* Ref.make(false)
        const writers = yield* Effect.forEach(slots, (slot, i) =>
          Effect.flatMap(session(db), (sql) =>
            Effect.forkChild(Workload.writer(sql, slot, { ids: 200, seed: 11 + i, pauseMs: 20, stop: halt }))
          )
        )

        const events: Array<Consumed> = []
        const runners = [
          yield* runner(db, events, logs),
          yield* runner(db, events, logs),
          yield* runner(db, events, logs)
        ]
        // Settled: every slot consumed, and no slot started anywhere for 8 s (the join debounce is 5 s).
        const settled = (except?: string) =>
          eventually(
            Effect.sync(() =>
              owners(events).size === slots.length &&
              [...owners(events).values()].every((e) => e.runner !== except) &&
              Date.now() - Math.max(...events.map((e) => e.t)) > 8000
                ? Option.some(true)
                : Option.none()
            ),
            "the slots to settle on the runners",
            1200
          )
        yield* settled()

        // 1. SIGKILL of the runner of c1.
        const victim = owners(events).get("c1")!.runner
        const killed = [...owners(events).values()].filter((e) => e.runner === victim).map((e) => e.slot)
        const killedAt = Date.now()
        stop(runners.find((r) => r.address === victim)!.child, "SIGKILL")
        const takeovers = yield* movedAway(events, killed, victim, killedAt)
        const takeover = Math.max(...takeovers.map((e) => e.t - killedAt))
        figures.push(`SIGKILL of ${victim}: ${killed.join(", ")} consumed again after ${takeover} ms`)
        assert.isBelow(takeover, 30_000)

        // 2. SIGTERM of a runner that runs slots now, once the moves after the kill are over (a loaded machine was
        // seen still rebalancing when the leaver was chosen).
        yield* settled(victim)
        const leaver = [...owners(events).values()].find((e) => e.runner !== victim)!.runner
        const leaving = [...owners(events).values()].filter((e) => e.runner === leaver).map((e) => e.slot)
        const leftAt = Date.now()
        stop(runners.find((r) => r.address === leaver)!.child, "SIGTERM")
        const moved = yield* movedAway(events, leaving, leaver, leftAt)
        figures.push(
          `SIGTERM of ${leaver}: ${leaving.join(", ")} consumed again after ${Math.max(...moved.map((e) => e.t - leftAt))} ms`
        )
        assert.deepStrictEqual(
          moved.map((e) => e.skipped),
          leaving.map(() => 0),
          "after a graceful move the new owner found nothing already applied"
        )

        // 3. Everything applied once.
        yield* Ref.set(halt, true)
        for (const writer of writers) assert.isAbove(yield* Fiber.join(writer), 0)
        for (const slot of slots) {
          const last = (yield* source.query(
            `UPDATE ${slot} SET ver = ver + 1 WHERE id = (SELECT min(id) FROM ${slot}) RETURNING pg_current_wal_insert_lsn()::text`
          ))[0]!.rows[0]![0]!
          yield* eventually(
            Effect.map(
              target.query(`SELECT commit_lsn >= '${last}'::pg_lsn FROM pgcdc_sink_progress WHERE id = '${slot}'`),
              (r) => (r[0]!.rows[0]?.[0] === "t" ? Option.some(true) : Option.none())
            ),
            `slot ${slot} to apply its last write`,
            1200
          )
          assert.deepStrictEqual(yield* Workload.auditProblems(target, slot), [], slot)
          assert.deepStrictEqual(yield* Workload.rows(target, slot), yield* Workload.rows(source, slot), slot)
        }
        assert.deepStrictEqual((yield* Workload.progressProblems(target)).problems, [])
        console.log(figures.join("\n"))
      }).pipe(Effect.tapCause(() => Effect.sync(() => process.stderr.write(`${[...figures, ...logs].join("\n")}\n`))))
    },
    240_000
  )
})
