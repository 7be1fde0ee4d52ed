/**
 * The exactly-once sink survives SIGKILL at random points: a sink process (fixtures/sinkProcess.ts) applies a slot
 * to a target database while a writer commits to the source throughout; the test kills it (seeded delays after it
 * has applied something) 22 times, while other sink processes wait for the slot to take over. The target's audit trigger records every
 * row change the sinks made: no version may be skipped or seen twice. The progress row's every value is recorded
 * too: it must only ever move forward. At the end the target equals the source.
 */
import { assert, layer } from "@effect/vitest"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as Workload from "@pgcdc/testing/internal/versionedWorkload"
import { Deferred, Effect, Exit, Fiber, Option, Ref } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import * as Progress from "../../src/internal/progress.ts"
import { eventually, session } from "@pgcdc/testing/internal/integration"

const script = fileURLToPath(new URL("./fixtures/sinkProcess.ts", import.meta.url))
const kills = 22

const kill = (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}

/**
 * A sink process; `applied` completes at its first target commit that applied a transaction. Its other lines are its
 * log, kept in `logs` (printed only if the test fails).
 */
const sinkProcess = (db: TestDatabaseInfo, logs: Array<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(
        process.execPath,
        [
          script,
          JSON.stringify({
            host: db.host,
            port: db.port,
            user: db.user,
            password: db.password,
            source: db.database,
            target: "target",
            slot: "s_sk",
            publication: "p_sk"
          })
        ],
        { stdio: ["ignore", "pipe", "inherit"] }
      )
      const applied = Deferred.makeUnsafe<void>()
      const exited = Deferred.makeUnsafe<string>()
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (!line.startsWith('{"applied"')) logs.push(`sink ${child.pid}: ${line}`)
        else if ((JSON.parse(line) as { applied: number }).applied > 0) Deferred.doneUnsafe(applied, Exit.void)
      })
      child.on("exit", (code, signal) => Deferred.doneUnsafe(exited, Exit.succeed(signal ?? `exit code ${code}`)))
      return { child, applied: Deferred.await(applied), exited: Deferred.await(exited) }
    }),
    ({ child }) => Effect.sync(() => kill(child))
  )

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })("sink kills", (it) => {
  it.effect(
    `${kills} SIGKILLs of the sink at random points: every change applied once, progress never backwards`,
    () => {
      const logs: Array<string> = []
      return Effect.gen(function* () {
        const db = yield* TestDatabase
        const source = yield* session(db)
        yield* source.query("CREATE DATABASE target")
        const target = yield* session(db, "target")
        yield* Workload.createSource(source, "sk", "p_sk")
        yield* source.query("SELECT pg_create_logical_replication_slot('s_sk', 'pgoutput')")
        yield* Workload.createTarget(target, "sk")
        yield* Progress.ensure(target, "public")
        yield* Workload.watchProgress(target)

        const stop = yield* Ref.make(false)
        const writerSession = yield* session(db)
        const writing = yield* Effect.forkChild(
          Workload.writer(writerSession, "sk", { ids: 300, seed: 7, pauseMs: 2, stop })
        )
        const random = Workload.seeded(2024)
        // Two processes always wait for the slot (waitForSlot) beside the one that streams, so that starting Node
        // does not pace the kills. A waiting process reads the progress row before it gets the slot, so its view of
        // the row is often stale when it takes over: the sink's compare-and-set of the row is what keeps it from
        // applying a transaction twice.
        type Sink = Effect.Success<ReturnType<typeof sinkProcess>>
        let pool: Array<Sink> = [
          yield* sinkProcess(db, logs),
          yield* sinkProcess(db, logs),
          yield* sinkProcess(db, logs)
        ]
        for (let i = 0; i < kills; i++) {
          const active = yield* Effect.raceAll(pool.map((p) => Effect.as(p.applied, p)))
          // Somewhere in the next 0 to 600 ms: between commits, inside a target transaction, or while reporting.
          yield* Effect.sleep(random(600))
          kill(active.child)
          assert.strictEqual(yield* active.exited, "SIGKILL")
          pool = [...pool.filter((p) => p !== active), yield* sinkProcess(db, logs)]
        }

        yield* Ref.set(stop, true)
        assert.isAbove(yield* Fiber.join(writing), 0)
        const last = (yield* writerSession.query(
          "UPDATE sk SET ver = ver + 1 WHERE id = (SELECT min(id) FROM sk) RETURNING pg_current_wal_insert_lsn()::text"
        ))[0]!.rows[0]![0]!
        yield* eventually(
          Effect.map(
            // The commit record starts where the update's WAL ended.
            target.query(`SELECT commit_lsn >= '${last}'::pg_lsn FROM pgcdc_sink_progress WHERE id = 's_sk'`),
            (r) => (r[0]!.rows[0]?.[0] === "t" ? Option.some(true) : Option.none())
          ),
          "the last sink to apply the last write",
          1200
        )
        assert.deepStrictEqual(yield* Workload.auditProblems(target, "sk"), [])
        const progress = yield* Workload.progressProblems(target)
        assert.deepStrictEqual(progress.problems, [])
        assert.isAbove(progress.steps, kills)
        assert.deepStrictEqual(yield* Workload.rows(target, "sk"), yield* Workload.rows(source, "sk"))
        // Each sink said where it resumed (a waiting one may also say who holds the slot); none logged a warning or an
        // error.
        assert.deepStrictEqual(
          logs.filter((line) => !/^sink \d+: \[[\d:.]+\] INFO \(#\d+\): /.test(line)),
          []
        )
        assert.isAbove(logs.filter((line) => line.includes("sink s_sk: resuming after ")).length, kills)
      }).pipe(Effect.tapCause(() => Effect.sync(() => process.stderr.write(`${logs.join("\n")}\n`))))
    },
    180_000
  )
})
