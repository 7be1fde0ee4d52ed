/**
 * The Replication service against real PostgreSQL 18 and 14: row changes with every replica identity, truncate and
 * logical messages; commit moving confirmed_flush_lsn; never acknowledging uncommitted data; idle advance; endLsn;
 * typed configuration errors. One server per major, each test with its own tables, publication and slot.
 */
process.env.TZ = "America/St_Johns"

import { assert, layer } from "@effect/vitest"
import { Lsn, UnchangedToast } from "@pgcdc/protocol"
import { TestDatabase } from "@pgcdc/testing"
import { Connection, type ConnectionShape, Connector } from "@pgcdc/connection"
import { ConfigProvider, Effect, Layer, Metric, Option, Stream } from "effect"
import { Replication, ReplicationMetrics, type ReplicationOptions } from "../../src/Replication.ts"
import * as Slot from "../../src/Slot.ts"
import { lsnToConfirm } from "../../src/WalMessage.ts"
import {
  confirmedFlush,
  eventually,
  exec,
  lsnOf,
  replicate,
  scalar,
  sqlSession,
  takeThrough,
  takeTransactions
} from "./support.ts"

const createSlot = (sql: ConnectionShape, name: string) =>
  Slot.create(name).pipe(Effect.provideService(Connection, sql))

for (const major of [18, 14] as const) {
  layer(TestDatabase.layer({ major, settings: { wal_sender_timeout: "2s" } }), {
    excludeTestServices: true,
    timeout: "60 seconds"
  })(`Replication on PostgreSQL ${major}`, (it) => {
    it.effect(
      "Replication.layerConfig reads the PG* variables through Effect Config and opens walsender sessions",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* exec(sql, [
            "CREATE TABLE r_env (id int PRIMARY KEY, v text)",
            "CREATE PUBLICATION p_env FOR TABLE r_env"
          ])
          yield* createSlot(sql, "s_env")
          yield* exec(sql, ["INSERT INTO r_env VALUES (1, 'from env')"])
          const env = {
            PGHOST: db.host,
            PGPORT: String(db.port),
            PGUSER: db.user,
            PGPASSWORD: db.password,
            PGDATABASE: db.database
          }
          // No Config given: the layer loads the PG* reader (@pgcdc/connection/config) and sets replication: "logical".
          const messages = yield* Effect.gen(function* () {
            return yield* takeTransactions(yield* Replication, 1)
          }).pipe(
            Effect.provide(
              Replication.layerConfig({ slot: "s_env", publications: ["p_env"] }).pipe(
                Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env })))
              )
            )
          )
          const insert = messages.find((m) => m._tag === "Insert")
          assert.deepStrictEqual(insert?._tag === "Insert" ? insert.new : undefined, { id: 1, v: "from env" })
        })
    )

    it.effect(
      "inserts, updates and deletes under every replica identity; truncate; logical messages",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query(`
          CREATE TABLE r_default (id int PRIMARY KEY, v text, big text);
          CREATE TABLE r_full (id int PRIMARY KEY, v text);
          ALTER TABLE r_full REPLICA IDENTITY FULL;
          CREATE TABLE r_index (id int NOT NULL, code text NOT NULL, v text);
          CREATE UNIQUE INDEX r_index_code ON r_index (code);
          ALTER TABLE r_index REPLICA IDENTITY USING INDEX r_index_code;
          CREATE PUBLICATION p_changes FOR TABLE r_default, r_full, r_index`)
          yield* createSlot(sql, "s_changes")
          yield* exec(sql, [
            "INSERT INTO r_default VALUES (1, 'a', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i))",
            "UPDATE r_default SET v = 'b' WHERE id = 1",
            "UPDATE r_default SET id = 2 WHERE id = 1",
            "DELETE FROM r_default WHERE id = 2",
            "INSERT INTO r_full VALUES (1, 'a')",
            "UPDATE r_full SET v = 'b'",
            "DELETE FROM r_full",
            "INSERT INTO r_index VALUES (1, 'c1', 'a')",
            "UPDATE r_index SET code = 'c2'",
            "DELETE FROM r_index",
            "TRUNCATE r_default, r_full",
            "SELECT pg_logical_emit_message(false, 'pfx', 'non-transactional')",
            "BEGIN; SELECT pg_logical_emit_message(true, 'pfx', 'transactional'); COMMIT;"
          ])
          const repl = yield* replicate(db, { slot: "s_changes", publications: ["p_changes"], messages: true })
          // 11 transactions (one per statement), a non-transactional message, one transaction with a message.
          const messages = yield* takeTransactions(repl, 12)
          const rows = messages.filter((m) => m._tag === "Insert" || m._tag === "Update" || m._tag === "Delete")
          const summary = rows.map((m) => {
            switch (m._tag) {
              case "Insert":
                return { op: "I", table: m.table.name, new: { ...m.new, big: undefined } }
              case "Update":
                return { op: "U", table: m.table.name, key: m.key, old: m.old, new: m.new }
              case "Delete":
                return { op: "D", table: m.table.name, key: m.key, old: m.old }
              default:
                return {}
            }
          })
          assert.deepStrictEqual(summary, [
            { op: "I", table: "r_default", new: { id: 1, v: "a", big: undefined } },
            // The TOASTed column did not change: PostgreSQL does not send it, and we say so instead of null.
            {
              op: "U",
              table: "r_default",
              key: undefined,
              old: undefined,
              new: { id: 1, v: "b", big: UnchangedToast }
            },
            {
              op: "U",
              table: "r_default",
              key: { id: 1 },
              old: undefined,
              new: { id: 2, v: "b", big: UnchangedToast }
            },
            { op: "D", table: "r_default", key: { id: 2 }, old: undefined },
            { op: "I", table: "r_full", new: { id: 1, v: "a", big: undefined } },
            { op: "U", table: "r_full", key: undefined, old: { id: 1, v: "a" }, new: { id: 1, v: "b" } },
            { op: "D", table: "r_full", key: undefined, old: { id: 1, v: "b" } },
            { op: "I", table: "r_index", new: { id: 1, code: "c1", v: "a", big: undefined } },
            { op: "U", table: "r_index", key: { code: "c1" }, old: undefined, new: { id: 1, code: "c2", v: "a" } },
            { op: "D", table: "r_index", key: { code: "c2" }, old: undefined }
          ])
          const relation = messages.find((m) => m._tag === "Relation" && m.table.name === "r_index")
          assert.deepStrictEqual(
            relation?._tag === "Relation" ? relation.table.columns.map((c) => [c.name, c.isKey]) : [],
            [
              ["id", false],
              ["code", true],
              ["v", false]
            ]
          )
          const truncate = messages.find((m) => m._tag === "Truncate")
          assert.deepStrictEqual(
            truncate?._tag === "Truncate" ? truncate.tables.map((t) => `${t.schema}.${t.name}`).sort() : [],
            ["public.r_default", "public.r_full"]
          )
          const logical = messages.filter((m) => m._tag === "Message")
          assert.deepStrictEqual(
            logical.map((m) =>
              m._tag === "Message" ? [m.transactional, m.prefix, new TextDecoder().decode(m.content)] : []
            ),
            [
              [false, "pfx", "non-transactional"],
              [true, "pfx", "transactional"]
            ]
          )
          // Positions: every message has one, and a Commit's walStart is its end LSN.
          for (const m of messages) {
            if (m._tag !== "Relation") assert.isTrue(m.walStart > Lsn.zero)
            if (m._tag === "Commit") assert.strictEqual(m.walStart, m.endLsn)
          }
        }),
      30_000
    )

    it.effect(
      "commit moves confirmed_flush_lsn; uncommitted data is never acknowledged; idle advances to walEnd",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE fb (id int PRIMARY KEY); CREATE PUBLICATION p_fb FOR TABLE fb")
          yield* createSlot(sql, "s_fb")
          const start = yield* confirmedFlush(sql, "s_fb")
          yield* exec(sql, ["INSERT INTO fb VALUES (1)", "INSERT INTO fb VALUES (2)", "INSERT INTO fb VALUES (3)"])
          const messagesBefore = (yield* Metric.value(ReplicationMetrics.messages)).count
          const repl = yield* replicate(db, { slot: "s_fb", publications: ["p_fb"], statusInterval: "100 millis" })
          const commits = (yield* takeTransactions(repl, 3)).filter((m) => m._tag === "Commit")
          assert.strictEqual(commits.length, 3)
          assert.isAtLeast((yield* Metric.value(ReplicationMetrics.messages)).count - messagesBefore, 10)

          // WAL no transaction carries (a checkpoint record; a logical message would reach the service, which always asks
          // for them, and PostgreSQL 14 sends even a transaction of unpublished tables as an empty one): the server's
          // walEnd moves past our data and keepalives tell us so.
          const moreWal = exec(sql, ["CHECKPOINT"])
          yield* moreWal
          yield* eventually(
            Effect.map(repl.status, (s) => (s.serverWalEnd > s.received ? Option.some(s) : Option.none())),
            "a keepalive beyond the received data"
          )
          yield* statusUpdates(sql, "s_fb", 3)
          assert.strictEqual(yield* confirmedFlush(sql, "s_fb"), start, "nothing committed: nothing acknowledged")
          assert.isTrue((yield* reportedFlush(sql, "s_fb")) <= start)

          // Commit the first transaction: exactly its end LSN is confirmed, and no further while 2 and 3 are pending.
          yield* repl.commit(lsnToConfirm(commits[0]!))
          const first = commits[0]!._tag === "Commit" ? commits[0]!.endLsn : Lsn.zero
          yield* eventually(
            Effect.map(confirmedFlush(sql, "s_fb"), (l) => (l >= first ? Option.some(l) : Option.none())),
            "confirmed_flush_lsn at the first commit"
          )
          yield* moreWal
          yield* statusUpdates(sql, "s_fb", 3)
          assert.strictEqual(yield* confirmedFlush(sql, "s_fb"), first)

          // Everything committed and idle: the server's walEnd from a later keepalive is acknowledged.
          const last = lsnToConfirm(commits[2]!)
          yield* repl.commit(last)
          yield* moreWal
          const advanced = yield* eventually(
            Effect.map(confirmedFlush(sql, "s_fb"), (l) => (l > last ? Option.some(l) : Option.none())),
            "confirmed_flush_lsn beyond the last commit while idle"
          )
          assert.isTrue(advanced > last)
          const status = yield* repl.status
          assert.strictEqual(status.committed, last)
          assert.strictEqual(status.lagBytes, 0n)
          assert.isTrue(status.flushed >= advanced)

          // Commit is monotonic and refuses what was never received.
          yield* repl.commit(first)
          assert.strictEqual((yield* repl.status).committed, last)
          const beyond = yield* Effect.flip(repl.commit(Lsn.unsafeMake(status.received + 1_000_000n)))
          assert.strictEqual(beyond.reason._tag, "CommitBeyondReceived")
        }),
      30_000
    )

    it.effect(
      "a schema change mid-stream: the new Relation message replaces the cached one (eager and lazy values alike)",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE alt (id int PRIMARY KEY, v text); CREATE PUBLICATION p_alt FOR TABLE alt")
          yield* createSlot(sql, "s_alt")
          yield* createSlot(sql, "s_alt_lazy")
          yield* exec(sql, [
            "INSERT INTO alt VALUES (1, 'a')",
            "ALTER TABLE alt ADD COLUMN extra int8",
            "INSERT INTO alt VALUES (2, 'b', 9007199254740993)",
            "ALTER TABLE alt DROP COLUMN v",
            "INSERT INTO alt VALUES (3, NULL)"
          ])
          for (const [slot, values] of [
            ["s_alt", "eager"],
            ["s_alt_lazy", "lazy"]
          ] as const) {
            const repl = yield* replicate(db, { slot, publications: ["p_alt"], values })
            // Through the third insert (PostgreSQL 14 also sends the DDL's transactions, empty).
            const messages = yield* takeThrough(repl, (m) => m._tag === "Insert" && m.new.id === 3)
            assert.deepStrictEqual(
              messages.flatMap((m) => (m._tag === "Insert" ? [{ ...m.new }] : [])),
              [
                { id: 1, v: "a" },
                { id: 2, v: "b", extra: 9007199254740993n },
                { id: 3, extra: null }
              ]
            )
            assert.strictEqual(messages.filter((m) => m._tag === "Relation").length, 3)
          }
        }),
      30_000
    )

    it.effect(
      "ends at endLsn before the first transaction committing after it",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE e (id int PRIMARY KEY); CREATE PUBLICATION p_end FOR TABLE e")
          yield* createSlot(sql, "s_end")
          yield* exec(sql, ["INSERT INTO e VALUES (1)", "INSERT INTO e VALUES (2)"])
          const end = lsnOf(yield* scalar(sql, "SELECT pg_current_wal_insert_lsn()::text"))
          yield* exec(sql, ["INSERT INTO e VALUES (3)"])
          // The consumer commits each transaction after the reader has already reached the end: the final status
          // update, sent when the service's scope closes, must still carry the last of those commits.
          const all = yield* Effect.scoped(
            Effect.gen(function* () {
              const repl = yield* replicate(db, { slot: "s_end", publications: ["p_end"], endLsn: end })
              return yield* repl.stream.pipe(
                Stream.tap((m) => (m._tag === "Commit" ? repl.commit(lsnToConfirm(m)) : Effect.void)),
                Stream.runCollect,
                Effect.map((c) => Array.from(c))
              )
            })
          )
          assert.deepStrictEqual(
            all.flatMap((m) => (m._tag === "Insert" ? [m.new.id] : [])),
            [1, 2]
          )
          const last = all.at(-1)
          assert.strictEqual(last?._tag, "Commit")
          yield* eventually(
            Effect.map(confirmedFlush(sql, "s_end"), (confirmed) =>
              confirmed === lsnToConfirm(last!) ? Option.some(confirmed) : Option.none()
            ),
            "confirmed_flush_lsn reaches the last committed transaction after the stream ended at endLsn"
          )
        }),
      30_000
    )

    it.effect(
      "typed configuration errors say what to change",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE c (id int PRIMARY KEY); CREATE PUBLICATION p_cfg FOR TABLE c")
          yield* createSlot(sql, "s_cfg")

          const noSlot = yield* Effect.flip(replicate(db, { slot: "nope", publications: ["p_cfg"] }))
          assert.strictEqual(noSlot._tag === "ReplicationError" ? noSlot.reason._tag : noSlot._tag, "SlotMissing")
          assert.include(noSlot.message, "Create it first")

          const noPub = yield* Effect.flip(replicate(db, { slot: "s_cfg", publications: ["p_cfg", "missing_pub"] }))
          assert.strictEqual(noPub._tag === "ReplicationError" ? noPub.reason._tag : noPub._tag, "PublicationMissing")
          assert.include(noPub.message, 'CREATE PUBLICATION "missing_pub"')

          const notWalsender = yield* Effect.flip(
            Replication.make({ slot: "s_cfg", publications: ["p_cfg"] }).pipe(
              Effect.provideService(Connector, Connector.make(sql.config))
            )
          )
          assert.strictEqual(notWalsender.reason._tag, "InvalidOption")
          assert.include(notWalsender.message, 'replication: "logical"')

          const tooNew = (options: Partial<ReplicationOptions>) =>
            Effect.flip(replicate(db, { slot: "s_cfg", publications: ["p_cfg"], ...options }))
          if (major === 14) {
            for (const [options, needs] of [
              [{ protoVersion: 3 }, "PostgreSQL 15"],
              [{ protoVersion: 4 }, "PostgreSQL 16"],
              [{ twoPhase: true }, "PostgreSQL 15"],
              [{ origin: "none" }, "PostgreSQL 16"],
              [{ streaming: "parallel" }, "PostgreSQL 16"]
            ] as const) {
              const e = yield* tooNew(options)
              assert.strictEqual(e._tag === "ReplicationError" ? e.reason._tag : e._tag, "UnsupportedOption")
              assert.include(e.message, needs)
            }
          } else {
            const e = yield* tooNew({ protoVersion: 3, streaming: "parallel" })
            assert.include(e.message, "protoVersion 4")
          }

          // A slot in use by another consumer: the service fails at once, naming the process that holds it.
          const holder = yield* replicate(db, { slot: "s_cfg", publications: ["p_cfg"] })
          yield* exec(sql, ["INSERT INTO c VALUES (1)"])
          yield* takeTransactions(holder, 1)
          const holderPid = Number(
            yield* scalar(sql, "SELECT active_pid::text FROM pg_replication_slots WHERE slot_name = 's_cfg'")
          )
          const active = yield* Effect.flip(replicate(db, { slot: "s_cfg", publications: ["p_cfg"] }))
          assert.strictEqual(active._tag === "ReplicationError" ? active.reason._tag : active._tag, "SlotActive")
          assert.strictEqual(
            active._tag === "ReplicationError" && active.reason._tag === "SlotActive" ? active.reason.pid : undefined,
            holderPid
          )
          assert.isFalse(active.isRetryable)
          assert.include(active.message, `PID ${holderPid}`)
        }),
      30_000
    )
  })
}

/** Waits until the server has received `n` more standby status updates from the walsender of `slot`. */
const statusUpdates = (sql: ConnectionShape, slot: string, n: number) =>
  Effect.gen(function* () {
    const query = `SELECT r.reply_time::text FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '${slot}'`
    for (let i = 0; i < n; i++) {
      const before = yield* scalar(sql, query)
      yield* eventually(
        Effect.map(scalar(sql, query), (t) => (t !== null && t !== before ? Option.some(t) : Option.none())),
        "a status update"
      )
    }
  })

/** The flush position the walsender of `slot` last received from us. */
const reportedFlush = (sql: ConnectionShape, slot: string) =>
  Effect.map(
    scalar(
      sql,
      `SELECT r.flush_lsn::text FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE s.slot_name = '${slot}'`
    ),
    lsnOf
  )
