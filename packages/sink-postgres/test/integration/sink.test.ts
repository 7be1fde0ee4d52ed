/**
 * What the sink writes (PostgreSQL 18, source and target databases on one server): values of awkward types read back
 * equal, a table map sends a table to another schema and name, an update that leaves a TOASTed column alone keeps the
 * target's value, an update of the key moves the row, deletes and truncates apply, a snapshot replaces what a target
 * table held and leaves the progress row at its consistent point, and a source column the target lacks fails with
 * "Mapping" naming it.
 */
import { assert, layer } from "@effect/vitest"
import type { ConnectionShape } from "@pgcdc/connection"
import { Connector } from "@pgcdc/connection"
import { Replication, type ReplicationOptions } from "@pgcdc/replication"
import { TestDatabase, type TestDatabaseInfo, TestLogger } from "@pgcdc/testing"
import { Effect, Exit, Fiber, Option } from "effect"
import { PostgresSink } from "../../src/index.ts"
import { configOf, eventually, session } from "@pgcdc/testing/internal/integration"

const rowsOf = (conn: ConnectionShape, sql: string) => Effect.map(conn.query(sql), (r) => r.at(-1)!.rows)

/** Runs the sink on `slot` in this scope; returns a wait for the target to have applied everything written so far. */
const startSink = (
  db: TestDatabaseInfo,
  source: ConnectionShape,
  target: { readonly session: ConnectionShape; readonly database: string },
  options: Omit<ReplicationOptions, "publications"> & { readonly publication: string },
  tables?: Readonly<Record<string, string>>
) =>
  Effect.gen(function* () {
    const replication = yield* Replication.make({ ...options, publications: [options.publication] }).pipe(
      Effect.provideService(Connector, Connector.make({ ...configOf(db), replication: "logical" }))
    )
    const fiber = yield* Effect.forkScoped(
      PostgresSink.run(replication, { target: configOf(db, target.database), id: options.slot, tables })
    )
    const snapshotDone = eventually(
      Effect.map(PostgresSink.readProgress(target.session, options.slot), Option.fromUndefinedOr),
      "the snapshot to be applied"
    )
    // Caught up once the slot has confirmed the WAL written so far: the sink commits a transaction only after its
    // target transaction (with the progress row) committed. (The progress row alone cannot say it: WAL written after
    // the last transaction, such as the running-transactions record the server logs every 15 s, is no transaction
    // the sink applies, so its end LSN never reaches the insert position.)
    const caughtUp = Effect.gen(function* () {
      const lsn = (yield* rowsOf(source, "SELECT pg_current_wal_insert_lsn()::text"))[0]![0]!
      yield* eventually(
        Effect.map(
          rowsOf(
            source,
            `SELECT confirmed_flush_lsn >= '${lsn}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '${options.slot}'`
          ),
          (r) => (r[0]?.[0] === "t" ? Option.some(true) : Option.none())
        ),
        "the sink to apply everything written"
      )
    })
    return { fiber, caughtUp, snapshotDone }
  })

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })("sink", (it) => {
  it.effect("applies values, a table map, TOAST, key changes, deletes and truncates", () => {
    const logs = TestLogger.make()
    return Effect.gen(function* () {
      const db = yield* TestDatabase
      const source = yield* session(db)
      yield* source.query("CREATE DATABASE target")
      const target = yield* session(db, "target")
      yield* source.query(`
        CREATE TABLE items (id int PRIMARY KEY, qty bigint, price numeric(12, 2), tags text[], doc jsonb,
                            at timestamptz, raw bytea, big text);
        ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL;
        CREATE PUBLICATION p_items FOR TABLE items`)
      yield* source.query("SELECT pg_create_logical_replication_slot('s_items', 'pgoutput')")
      yield* target.query(`
        CREATE SCHEMA mirror;
        CREATE TABLE mirror.things (id int PRIMARY KEY, qty bigint, price numeric(12, 2), tags text[], doc jsonb,
                                    at timestamptz, raw bytea, big text, note text DEFAULT 'target only')`)
      const sink = yield* startSink(
        db,
        source,
        { session: target, database: "target" },
        { slot: "s_items", publication: "p_items" },
        {
          "public.items": "mirror.things"
        }
      )
      const columns = "id, qty, price, tags, doc, at, raw, big"
      yield* source.query(`
        INSERT INTO items VALUES
          (1, 9007199254740993, 12345678.91, ARRAY['a,b', 'c"d', NULL], '{"n": 123456789012345678901}',
           '2024-02-29 12:34:56.789012+00', '\\x00ff', repeat('x', 5000)),
          (2, -1, 'NaN', '{}', 'null', 'infinity', NULL, NULL),
          (3, 0, 0, ARRAY['it''s'], '[]', '-infinity', '\\x', 'small')`)
      yield* source.query("UPDATE items SET qty = qty + 1 WHERE id = 1") // big unchanged: not sent
      yield* source.query("UPDATE items SET id = 100 WHERE id = 2")
      yield* source.query("DELETE FROM items WHERE id = 3")
      yield* sink.caughtUp
      const sourceRows = yield* rowsOf(source, `SELECT ${columns} FROM items ORDER BY id`)
      assert.deepStrictEqual(yield* rowsOf(target, `SELECT ${columns} FROM mirror.things ORDER BY id`), sourceRows)
      assert.strictEqual(sourceRows.length, 2)
      assert.deepStrictEqual(yield* rowsOf(target, "SELECT DISTINCT note FROM mirror.things"), [["target only"]])

      yield* source.query("TRUNCATE items")
      yield* source.query("INSERT INTO items (id, qty) VALUES (7, 7)")
      yield* sink.caughtUp
      assert.deepStrictEqual(yield* rowsOf(target, "SELECT id, qty FROM mirror.things"), [["7", "7"]])

      // A column the target does not have: the sink fails, naming it.
      yield* source.query("ALTER TABLE items ADD COLUMN extra int")
      yield* source.query("INSERT INTO items (id, extra) VALUES (8, 8)")
      const exit = yield* Fiber.await(sink.fiber)
      assert.isTrue(Exit.isFailure(exit))
      const failure = Exit.isFailure(exit) ? String(exit.cause) : ""
      assert.include(failure, 'no column "extra"')
      // The sink says where it starts from, and nothing else.
      assert.deepStrictEqual(
        logs.entries.map((e) => `${e.level}: ${e.message}`),
        ["Info: sink s_items: resuming after nothing (no progress row yet)"]
      )
    }).pipe(TestLogger.provide(logs))
  })

  it.effect("applies domains, enums and their arrays, which the stream decodes by the catalog", () => {
    const logs = TestLogger.make()
    return Effect.gen(function* () {
      const db = yield* TestDatabase
      const source = yield* session(db)
      yield* source.query("CREATE DATABASE target_types")
      const target = yield* session(db, "target_types")
      const types = `CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
        CREATE DOMAIN stamp AS timestamptz; CREATE TABLE typed (id int PRIMARY KEY, m mood, ma mood[], d posint,
        da posint[], s stamp)`
      yield* source.query(`${types}; CREATE PUBLICATION p_typed FOR TABLE typed`)
      yield* source.query("SELECT pg_create_logical_replication_slot('s_typed', 'pgoutput')")
      yield* target.query(types)
      const sink = yield* startSink(
        db,
        source,
        { session: target, database: "target_types" },
        { slot: "s_typed", publication: "p_typed" },
        {}
      )
      yield* source.query(`INSERT INTO typed VALUES (1, 'sad', '{happy,NULL}', 42, '{1,2}', '2024-02-29 12:34:56.5+00'),
        (2, NULL, '{}', NULL, '{{3},{4}}', 'infinity')`)
      yield* source.query("UPDATE typed SET d = 43 WHERE id = 1")
      yield* sink.caughtUp
      const query = "SELECT id, m, ma, d, da, s FROM typed ORDER BY id"
      assert.deepStrictEqual(yield* rowsOf(target, query), yield* rowsOf(source, query))
      assert.deepStrictEqual(
        logs.entries.map((e) => `${e.level}: ${e.message}`),
        ["Info: sink s_typed: resuming after nothing (no progress row yet)"]
      )
    }).pipe(TestLogger.provide(logs))
  })

  it.effect("a snapshot replaces the target table's rows and sets the progress to its consistent point", () => {
    const logs = TestLogger.make()
    return Effect.gen(function* () {
      const db = yield* TestDatabase
      const source = yield* session(db)
      yield* source.query("CREATE DATABASE target_snap")
      const target = yield* session(db, "target_snap")
      yield* source.query(`
        CREATE TABLE snap (id int PRIMARY KEY, v text);
        INSERT INTO snap SELECT i, 'v' || i FROM generate_series(1, 500) i;
        CREATE PUBLICATION p_snap FOR TABLE snap`)
      // What an interrupted earlier snapshot may have left: rows the source does not have.
      yield* target.query(`
        CREATE TABLE snap (id int PRIMARY KEY, v text);
        INSERT INTO snap VALUES (1000, 'stale'), (1, 'stale')`)
      const sink = yield* startSink(
        db,
        source,
        { session: target, database: "target_snap" },
        { slot: "s_snap", publication: "p_snap", snapshot: "initial" }
      )
      const afterSnapshot = yield* sink.snapshotDone
      yield* source.query("UPDATE snap SET v = 'changed' WHERE id <= 10")
      yield* sink.caughtUp
      const select = "SELECT id, v FROM snap ORDER BY id"
      assert.deepStrictEqual(yield* rowsOf(target, select), yield* rowsOf(source, select))
      const slot = yield* rowsOf(
        source,
        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 's_snap'"
      )
      assert.strictEqual(afterSnapshot.commitLsn, afterSnapshot.endLsn, "a snapshot's progress is its consistent point")
      assert.strictEqual(slot.length, 1, "the snapshot's slot was made permanent")
      assert.deepStrictEqual(
        logs.entries.map((e) => `${e.level}: ${e.message}`),
        ["Info: sink s_snap: resuming after nothing (no progress row yet)"]
      )
    }).pipe(TestLogger.provide(logs))
  })
})
