/**
 * A backfill killed mid-table resumes from its last committed chunk and ends exact (PostgreSQL 14 and 18): a consumer
 * process (fixtures/backfillConsumer.ts) applies the stream and a backfill to a sink table while a writer commits
 * throughout; SIGKILL after a few chunks; a new process, not asked for any backfill, finds it in the progress table
 * and finishes it, reading only what was after the last committed chunk. At the end the sink equals the table.
 */
import { assert, layer } from "@effect/vitest"
import { type Major, TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Deferred, Effect, Exit, Fiber, Option, Ref } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { createInterface } from "node:readline"
import { eventually, lsnOf, scalar, sqlSession, confirmedFlush } from "./support.ts"
import { createVersioned, tableRows, versionedWriter } from "./versionedTable.ts"

const rows = 4000
const chunkSize = 200
const script = fileURLToPath(new URL("./fixtures/backfillConsumer.ts", import.meta.url))

interface Marker {
  readonly event: "BackfillBegin" | "BackfillEnd"
  readonly id: string
  readonly rows?: number
}

/** Starts a consumer process; its markers are collected as it prints them. Killed with the test's scope. */
const consumer = (db: TestDatabaseInfo, backfill: boolean, dieAfterChunks?: number) =>
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
            database: db.database,
            slot: "s_cr",
            publication: "p_cr",
            table: "cr",
            backfill,
            chunkSize,
            dieAfterChunks
          })
        ],
        { stdio: ["ignore", "pipe", "inherit"] }
      )
      const markers: Array<Marker> = []
      createInterface({ input: child.stdout! }).on("line", (line) => markers.push(JSON.parse(line) as Marker))
      const exited = Deferred.makeUnsafe<string>()
      child.on("exit", (code, signal) => Deferred.doneUnsafe(exited, Exit.succeed(signal ?? `exit code ${code}`)))
      return { child, markers, exited: Deferred.await(exited) }
    }),
    ({ child }) => Effect.sync(() => kill(child))
  )

const kill = (child: ChildProcess) => {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}

for (const major of [14, 18] as const satisfies ReadonlyArray<Major>) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `backfill crash on PostgreSQL ${major}`,
    (it) => {
      it.effect(
        "a consumer killed mid-backfill: the next one resumes after the last committed chunk, and the sink equals the table",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* createVersioned(sql, "cr", rows, "p_cr")
            yield* sql.query("CREATE TABLE cr_sink (id int PRIMARY KEY, ver int NOT NULL, v text)")
            yield* sql.query("SELECT pg_create_logical_replication_slot('s_cr', 'pgoutput')")
            const stop = yield* Ref.make(false)
            const writing = yield* Effect.forkChild(versionedWriter(db, "cr", rows, stop, 5))
            const progress = (what: string) =>
              scalar(sql, `SELECT ${what} FROM pgcdc_backfills WHERE table_name = 'cr'`).pipe(
                Effect.catch(() => Effect.succeed(null))
              )

            // The first process dies without a word right after committing its fifth chunk.
            const first = yield* consumer(db, true, 5)
            assert.strictEqual(yield* first.exited, "SIGKILL")
            // Chunk 5 was read once chunk 4 was recorded; the fifth's record may or may not have made it.
            const committedChunks = Number(yield* progress("chunks::text"))
            assert.isAtLeast(committedChunks, 4)
            assert.strictEqual(yield* progress("state"), "running")

            const second = yield* consumer(db, false)
            yield* eventually(
              Effect.map(progress("state"), (s) => (s === "done" ? Option.some(s) : Option.none())),
              "the resumed backfill to finish",
              1200
            )
            yield* Ref.set(stop, true)
            assert.isAbove(yield* Fiber.join(writing), 0)
            // A last write, and the consumer's commit of it on the slot: the sink has everything before it.
            const last = lsnOf(
              yield* scalar(
                sql,
                "UPDATE cr SET ver = ver + 1 WHERE id = (SELECT min(id) FROM cr) RETURNING pg_current_wal_insert_lsn()::text"
              )
            )
            yield* eventually(
              Effect.map(confirmedFlush(sql, "s_cr"), (c) => (c >= last ? Option.some(c) : Option.none())),
              "the consumer's commit of the last write",
              1200
            )
            const ends = second.markers.filter((m) => m.event === "BackfillEnd")
            const id = first.markers.find((m) => m.event === "BackfillBegin")?.id
            assert.isDefined(id)
            assert.deepStrictEqual(
              ends.map((m) => m.id),
              [id],
              "the second process finished the first one's backfill"
            )
            // Keys are distinct and at least 1, so the last key of chunk c is at least c × chunkSize: the resumed
            // backfill read no more than the keys after it (the writer uses keys up to rows + 200).
            assert.isAtMost(ends[0]!.rows!, rows + 200 - committedChunks * chunkSize)
            assert.isAbove(ends[0]!.rows!, 0)
            const sink = (yield* sql.query("SELECT id::text, ver::text, v FROM cr_sink ORDER BY cr_sink.id"))[0]!.rows
            assert.deepStrictEqual(sink, yield* tableRows(sql, "cr"))
          }),
        90_000
      )
    }
  )
}
