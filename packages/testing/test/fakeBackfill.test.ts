/**
 * What the fake server gives a backfill, the heartbeat and the slot check, beyond what
 * test/integration/fakeBackfill.postgres.test.ts compares with PostgreSQL: the progress table is a real table (its
 * rows readable, its changes streamed when a publication holds it); SQL writes and transactional messages reach the
 * WAL at their commit, in one transaction per block; restart_lsn follows the confirmed position, so the WAL a slot
 * retains shrinks, and a max_slot_wal_keep_size makes the slot unreserved; a tagged statement of another shape is
 * refused with the tag named.
 */
import { Connection } from "@pgcdc/connection"
import { Lsn, unsafeDecodePgoutput } from "@pgcdc/protocol"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { connectionConfig } from "../src/fake/FakeConnection.ts"
import { FakePostgres, type FakePostgresShape } from "../src/fake/FakePostgres.ts"
import { connect } from "../src/fake/ScriptedClient.ts"

const sqlSession = (fake: FakePostgresShape) => Connection.make(connectionConfig(fake, { replication: undefined }))

const progressTable = `CREATE TABLE IF NOT EXISTS /* pgcdc:backfill-table */ "public".pgcdc_backfills (id text PRIMARY KEY, slot text NOT NULL, state text NOT NULL, chunks int NOT NULL DEFAULT 0, after_key text[], started_at timestamptz NOT NULL DEFAULT now())`

const slotHealth = (slot: string) =>
  `SELECT /* pgcdc:slot-health */ wal_status, safe_wal_size::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text, pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text FROM pg_replication_slots WHERE slot_name = '${slot}'`

describe("the fake server's backfill statements", () => {
  it.effect("the progress table is a table: rows, defaults, NOT NULL, and its changes in the stream", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      yield* fake.createPublication("all")
      yield* fake.createSlot("s")
      const sql = yield* sqlSession(fake)
      yield* sql.query(progressTable)
      yield* sql.query(
        `INSERT INTO /* pgcdc:backfill-insert */ "public".pgcdc_backfills (id, slot, state) VALUES ('b1', 's', 'running')`
      )
      yield* sql.query(
        `UPDATE /* pgcdc:backfill-progress */ "public".pgcdc_backfills SET chunks = 2, after_key = ARRAY['7', 'a,b']::text[] WHERE id = 'b1'`
      )
      const refused = yield* Effect.result(
        sql.query(`INSERT INTO /* pgcdc:backfill-insert */ "public".pgcdc_backfills (id, state) VALUES ('b2', 'x')`)
      )
      assert.deepStrictEqual(Result.isFailure(refused) ? [refused.failure.code, refused.failure.message] : "ok", [
        "23502",
        'null value in column "slot" of relation "pgcdc_backfills" violates not-null constraint'
      ])
      assert.deepStrictEqual(yield* fake.rows("pgcdc_backfills"), [
        {
          id: "b1",
          slot: "s",
          state: "running",
          chunks: "2",
          after_key: '{7,"a,b"}',
          started_at: "1970-01-01 00:00:00+00"
        }
      ])

      // FOR ALL TABLES publishes it: a walsender streams its insert and update, each its own transaction.
      const client = yield* connect(yield* fake.socket)
      yield* client.login({ user: "postgres", replication: "database" })
      yield* client.query("START_REPLICATION SLOT s LOGICAL 0/0 (proto_version '1', publication_names 'all')")
      const tags: Array<string> = []
      while (tags.filter((t) => t === "Commit").length < 2) {
        const x = yield* client.nextReplication
        if (x._tag !== "XLogData") continue
        const m = unsafeDecodePgoutput(x.data, { protoVersion: 1, inStream: false })
        tags.push(m._tag === "Insert" || m._tag === "Update" ? `${m._tag} ${String(m.newTuple[0])}` : m._tag)
      }
      assert.deepStrictEqual(tags, ["Begin", "Relation", "Insert b1", "Commit", "Begin", "Update b1", "Commit"])
    }).pipe(Effect.scoped)
  )

  it.effect("writes and transactional messages of a block are one transaction at COMMIT, none at ROLLBACK", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const sql = yield* sqlSession(fake)
      yield* sql.query(progressTable)
      const entries = () => Effect.sync(() => fake.server.wal.entries.map((e) => e._tag))
      yield* sql.query(
        `BEGIN; INSERT INTO /* pgcdc:backfill-insert */ "public".pgcdc_backfills (id, slot, state) VALUES ('b1', 's', 'running'); SELECT pg_logical_emit_message(true, 'p', 'kept'); SELECT pg_logical_emit_message(false, 'p', 'at once')`
      )
      // Only the non-transactional message is in the WAL while the block is open.
      assert.deepStrictEqual(yield* entries(), ["Message"])
      assert.deepStrictEqual(yield* fake.rows("pgcdc_backfills"), [])
      yield* sql.query("COMMIT")
      const committed = fake.server.wal.entries.at(-1)
      assert.deepStrictEqual(
        committed?._tag === "Transaction" ? committed.changes.map((c) => c._tag) : committed?._tag,
        ["Insert", "Message"]
      )
      yield* sql.query(
        "BEGIN; SELECT pg_logical_emit_message(true, 'p', 'dropped'); UPDATE /* pgcdc:backfill-progress */ pgcdc_backfills SET chunks = 1 WHERE id = 'b1'; ROLLBACK"
      )
      assert.deepStrictEqual(yield* entries(), ["Message", "Transaction"])
      assert.strictEqual((yield* fake.rows("pgcdc_backfills"))[0]?.chunks, "0")
    }).pipe(Effect.scoped)
  )

  it.effect("restart_lsn follows the confirmed position; max_slot_wal_keep_size makes a slot unreserved", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false, settings: { max_slot_wal_keep_size: "1kB" } })
      yield* fake.defineTable({ name: "t", columns: [{ name: "id", typeOid: 23, key: true }] })
      yield* fake.createSlot("s")
      const sql = yield* sqlSession(fake)
      const health = () => Effect.map(sql.query(slotHealth("s")), (r) => r[0]!.rows[0]!)
      assert.deepStrictEqual(yield* health(), ["reserved", "1024", "0", "1024"])
      let last = yield* fake.insert("t", { id: "0" })
      for (let i = 1; i < 30; i++) last = yield* fake.insert("t", { id: String(i) })
      const retained = Lsn.diff(last.endLsn, (yield* fake.slots)[0]!.confirmedFlush)
      assert.isAbove(Number(retained), 1024)
      assert.deepStrictEqual(yield* health(), ["unreserved", String(1024n - retained), String(retained), "1024"])

      // A consumer confirms everything: nothing is retained any more.
      const client = yield* connect(yield* fake.socket)
      yield* client.login({ user: "postgres", replication: "database" })
      yield* client.query("START_REPLICATION SLOT s LOGICAL 0/0 (proto_version '1', publication_names 'p')")
      const end = last.endLsn
      yield* client.sendReplication({
        _tag: "StandbyStatusUpdate",
        written: end,
        flushed: end,
        applied: end,
        clientTime: 0n,
        replyRequested: false
      })
      yield* fake.awaitConfirmedFlush("s", last.endLsn)
      assert.deepStrictEqual(yield* health(), ["reserved", "1024", "0", "1024"])
    }).pipe(Effect.scoped)
  )

  it.effect("a tagged statement of a shape the fake does not know is refused, naming the tag", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const sql = yield* sqlSession(fake)
      yield* sql.query(progressTable)
      const refused = yield* Effect.result(
        sql.query("SELECT /* pgcdc:backfill-running */ count(*) FROM pgcdc_backfills")
      )
      assert.isTrue(Result.isFailure(refused))
      if (Result.isFailure(refused)) {
        assert.strictEqual(refused.failure.code, "0A000")
        assert.include(refused.failure.message, "pgcdc:backfill-running")
      }
    }).pipe(Effect.scoped)
  )
})
