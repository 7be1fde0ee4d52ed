/**
 * The cluster example on one machine: an embedded PostgreSQL 18 holds the source tables, the target database and the
 * cluster's storage database; three runner processes (src/runner.ts) share four slots, each applied to the target by
 * the exactly-once sink; writers change the four source tables for `--duration` seconds (default 30) while the
 * status view is printed every 3 seconds. Half way through, one runner is killed (SIGKILL) to show a takeover. At the
 * end every target table is compared with its source, the runners leave gracefully (SIGTERM), and the server stops.
 *
 * Run: `node examples/cluster/src/main.ts [--duration N]`. It deliberately uses child processes and environment
 * variables as a deployment would, not an in-process cluster.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { ClusterStatus } from "@pgcdc/cluster"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { PostgresSink } from "@pgcdc/sink-postgres"
import { freePort, TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as SqlClient from "effect/sql/SqlClient"

const slots = ["s1", "s2", "s3", "s4"]
const durationArg = process.argv.indexOf("--duration")
const duration = durationArg > 0 ? Number(process.argv[durationArg + 1]) : 30
const runnerScript = fileURLToPath(new URL("./runner.ts", import.meta.url))

const urlOf = (db: TestDatabaseInfo, database: string) =>
  `postgres://${db.user}:${db.password}@${db.host}:${db.port}/${database}?sslmode=disable`
const sessionTo = (db: TestDatabaseInfo, database: string) =>
  Connection.make({ host: db.host, port: db.port, user: db.user, password: Redacted.make(db.password), database })

const setup = (source: ConnectionShape, target: ConnectionShape) =>
  Effect.forEach(slots, (slot) =>
    Effect.andThen(
      Effect.andThen(
        source.query(`CREATE TABLE t_${slot} (id int PRIMARY KEY, qty int NOT NULL, note text);
          CREATE PUBLICATION p_${slot} FOR TABLE t_${slot}`),
        source.query(`SELECT pg_create_logical_replication_slot('${slot}', 'pgoutput')`)
      ),
      target.query(`CREATE TABLE t_${slot} (id int PRIMARY KEY, qty int NOT NULL, note text)`)
    )
  )

/** Random upserts and deletes, one small transaction every 10 ms, until stopped. */
const writer = (sql: ConnectionShape, table: string, stop: Ref.Ref<boolean>) =>
  Effect.gen(function* () {
    while (!(yield* Ref.get(stop))) {
      const id = 1 + Math.floor(Math.random() * 500)
      yield* sql.query(
        Math.random() < 0.25
          ? `DELETE FROM ${table} WHERE id = ${id}`
          : `INSERT INTO ${table} VALUES (${id}, 1, md5(random()::text)) ON CONFLICT (id) DO UPDATE SET qty = ${table}.qty + 1, note = excluded.note`
      )
      yield* Effect.sleep("10 millis")
    }
  })

const startRunner = (db: TestDatabaseInfo, index: number) =>
  Effect.acquireRelease(
    Effect.map(freePort, (port) => {
      const child = spawn(process.execPath, [runnerScript], {
        stdio: ["ignore", "inherit", "inherit"],
        env: {
          ...process.env,
          PGCDC_RUNNER_HOST: "127.0.0.1",
          PGCDC_RUNNER_PORT: String(port),
          PGCDC_CLUSTER_STORAGE_URL: urlOf(db, "cluster"),
          SOURCE_URL: urlOf(db, db.database),
          TARGET_URL: urlOf(db, "target"),
          SLOTS: slots.join(",")
        }
      })
      console.log(`runner ${index}: 127.0.0.1:${port} (pid ${child.pid})`)
      return child
    }),
    (child) => Effect.promise(() => leave(child))
  )

const leave = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.on("exit", () => resolve())
    child.kill("SIGTERM")
  })

const rows = (sql: ConnectionShape, table: string) =>
  Effect.map(sql.query(`SELECT id, qty, note FROM ${table} ORDER BY id`), (r) => JSON.stringify(r[0]?.rows))

const program = Effect.gen(function* () {
  const db = yield* TestDatabase.make({ major: 18 })
  const source = yield* sessionTo(db, db.database)
  yield* source.query("CREATE DATABASE target")
  yield* source.query("CREATE DATABASE cluster")
  const target = yield* sessionTo(db, "target")
  yield* setup(source, target)
  // The status view reads the storage database, as any process that reaches it can.
  const storageServices = yield* Layer.build(PgClient.layer({ url: Redacted.make(urlOf(db, "cluster")) }))
  const storage = Context.get(storageServices, SqlClient.SqlClient)
  const runners = [yield* startRunner(db, 1), yield* startRunner(db, 2), yield* startRunner(db, 3)]
  const stop = yield* Ref.make(false)
  const writers = yield* Effect.forEach(slots, (slot) =>
    Effect.flatMap(sessionTo(db, db.database), (sql) => Effect.forkChild(writer(sql, `t_${slot}`, stop)))
  )
  const status = Effect.flatMap(ClusterStatus.query(storage), (v) =>
    Effect.sync(() => console.log(`--\n${ClusterStatus.render(v)}`))
  )
  for (let t = 0; t < duration; t += 3) {
    yield* Effect.sleep("3 seconds")
    yield* Effect.ignore(status)
    if (t <= duration / 2 && t + 3 > duration / 2) {
      console.log(`-- killing runner 1 (SIGKILL): its slots move to the others within about 15 seconds`)
      runners[0]!.kill("SIGKILL")
    }
  }
  yield* Ref.set(stop, true)
  yield* Effect.forEach(writers, Fiber.join)
  const last = (yield* source.query("SELECT pg_current_wal_insert_lsn()::text"))[0]!.rows[0]![0]!
  console.log(`-- writers stopped at ${last}; waiting for every slot's target`)
  for (const slot of slots) {
    for (;;) {
      const progress = yield* PostgresSink.readProgress(target, slot)
      const caughtUp = (yield* source.query(
        `SELECT confirmed_flush_lsn >= '${last}' FROM pg_replication_slots WHERE slot_name = '${slot}'`
      ))[0]!.rows[0]![0]
      if (progress !== undefined && caughtUp === "t") break
      yield* Effect.sleep("200 millis")
    }
  }
  yield* Effect.ignore(status)
  let equal = true
  for (const slot of slots) {
    const same = (yield* rows(source, `t_${slot}`)) === (yield* rows(target, `t_${slot}`))
    equal &&= same
    console.log(`t_${slot}: ${same ? "target equals source" : "DIFFERS"}`)
  }
  console.log(`verdict: ${equal ? "equal" : "NOT equal"}`)
  return equal
})

Effect.runPromise(Effect.scoped(program)).then(
  (equal) => process.exit(equal ? 0 : 1),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
