/**
 * `pgcdc snapshot` and `pgcdc backfill` against an embedded PostgreSQL 18: the snapshot prints every published row
 * exactly (int8 beyond 2^53, numeric text) as JSON lines and keeps no slot; the backfill's signal starts a backfill
 * in a consumer streaming the database (a pgcdc Replication service in this process), which then hands out every row
 * of the table; a table that does not exist or has no key writes nothing.
 */
import { assert, layer } from "@effect/vitest"
import { Connector } from "@pgcdc/connection"
import { Replication, Transactions, type WalMessage } from "@pgcdc/replication"
import { TestDatabase } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { jsonLines, pgcdc, scalar, sqlSession } from "./support.ts"

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })("pgcdc", (it) => {
  it.effect("snapshot prints every published row exactly, then the consistent point, and keeps no slot", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query(`
        CREATE TABLE snap_t (id int8 PRIMARY KEY, n numeric, t text);
        INSERT INTO snap_t SELECT 9007199254740990 + i, i * 1.10, 'row ' || i FROM generate_series(1, 5) i;
        CREATE PUBLICATION snap_pub FOR TABLE snap_t`)
      const ran = yield* pgcdc(["snapshot", "-P", "snap_pub", "--url", db.url])
      assert.strictEqual(ran.code, 0, ran.stderr)
      const lines = jsonLines(ran.stdout)
      assert.deepStrictEqual(
        lines.map((l) => l._tag),
        ["SnapshotBegin", "Read", "Read", "Read", "Read", "Read", "SnapshotEnd", "SnapshotComplete"]
      )
      const rows = lines.filter((l) => l._tag === "Read").map((l) => l.new as Record<string, unknown>)
      assert.deepStrictEqual(rows.map((r) => r.id).sort(), [
        "9007199254740991",
        "9007199254740992",
        "9007199254740993",
        "9007199254740994",
        "9007199254740995"
      ])
      assert.deepInclude(rows, { id: "9007199254740993", n: "3.30", t: "row 3" })
      const complete = lines.at(-1)
      assert.strictEqual(ran.stderr, `pgcdc snapshot: 5 rows of 1 table as of ${String(complete?.consistentPoint)}\n`)
      assert.strictEqual(yield* scalar(sql, "SELECT count(*) FROM pg_replication_slots"), "0")
    }).pipe(Effect.scoped)
  )

  it.effect("backfill asks the consumer streaming the database to re-read a table", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query(`
        CREATE TABLE bf_t (id int PRIMARY KEY, v text);
        INSERT INTO bf_t SELECT i, 'v' || i FROM generate_series(1, 7) i;
        CREATE PUBLICATION bf_pub FOR TABLE bf_t`)
      yield* sql.query("SELECT pg_create_logical_replication_slot('bf_slot', 'pgoutput')")
      const replication = yield* Replication.make({ slot: "bf_slot", publications: ["bf_pub"] }).pipe(
        Effect.provideService(Connector, Connector.make({ ...TestDatabase.config(db), replication: "logical" }))
      )
      const received: Array<WalMessage> = []
      const consumer = yield* replication.stream.pipe(
        Stream.tap((m) =>
          Effect.andThen(
            Effect.sync(() => received.push(m)),
            Transactions.acknowledge(replication, m)
          )
        ),
        Stream.takeUntil((m) => m._tag === "BackfillEnd"),
        Stream.runDrain,
        Effect.forkScoped
      )
      const ran = yield* pgcdc(["backfill", "bf_t", "--chunk-size", "3", "--json", "--url", db.url])
      assert.strictEqual(ran.code, 0, ran.stderr)
      const asked = JSON.parse(ran.stdout) as { table: unknown; chunkSize: number; lsn: string }
      assert.deepStrictEqual(asked.table, { schema: "public", name: "bf_t" })
      assert.strictEqual(asked.chunkSize, 3)
      yield* Fiber.join(consumer)
      const reads = received.flatMap((m) => (m._tag === "Read" ? [m.new.id] : []))
      assert.deepStrictEqual(reads, [1, 2, 3, 4, 5, 6, 7])
      assert.isTrue(received.some((m) => m._tag === "BackfillBegin" && m.table.name === "bf_t"))
    }).pipe(Effect.scoped)
  )

  it.effect("backfill of a table that does not exist, or has no primary key, writes nothing", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const sql = yield* sqlSession(db)
      yield* sql.query("CREATE TABLE bf_nokey (a int); CREATE TABLE bf_key (a int PRIMARY KEY)")
      // A slot that sees every logical message written from now on.
      yield* sql.query("SELECT pg_create_logical_replication_slot('bf_probe', 'test_decoding')")
      const signals = Effect.map(
        sql.query("SELECT data FROM pg_logical_slot_peek_changes('bf_probe', NULL, NULL) WHERE data LIKE 'message:%'"),
        (results) => results.at(-1)?.rows.map((r) => r[0]) ?? []
      )
      const missing = yield* pgcdc(["backfill", "public.nope", "--url", db.url])
      assert.deepStrictEqual(missing, {
        code: 1,
        stdout: "",
        stderr: 'pgcdc backfill: There is no table "public.nope" in database "postgres"\n'
      })
      const noKey = yield* pgcdc(["backfill", "bf_nokey", "--url", db.url])
      assert.strictEqual(noKey.code, 1)
      assert.match(noKey.stderr, /^pgcdc backfill: Table public\.bf_nokey has no primary key/)
      // Then one that is written: once the probe sees it (the server decodes only flushed WAL), it has seen all
      // that came before, and there is nothing else.
      assert.strictEqual((yield* pgcdc(["backfill", "bf_key", "--url", db.url])).code, 0)
      const written = yield* signals.pipe(
        Effect.flatMap((found) =>
          found.length > 0 ? Effect.succeed(found) : Effect.fail(new Error("not yet flushed"))
        ),
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 })
      )
      assert.strictEqual(written.length, 1, written.join("\n"))
      assert.include(written[0], "prefix: pgcdc.signal")
      assert.include(written[0], '{"backfill":{"schema":"public","name":"bf_key"}}')
      yield* sql.query("SELECT pg_drop_replication_slot('bf_probe')")
    }).pipe(Effect.scoped)
  )
})
