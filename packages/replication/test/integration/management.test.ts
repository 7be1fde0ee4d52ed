/**
 * Slot and publication management and the graceful stop, on PostgreSQL 18 and 14: every publication form (and the
 * typed refusal of 15+ forms on 14), row filters and column lists applied by the server, slots temporary/permanent,
 * exported snapshots, two-phase and failover, inspection with lag, and a final status update on close.
 */
import { assert, layer } from "@effect/vitest"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { TestDatabase, TestLogger } from "@pgcdc/testing"
import { Effect, Option } from "effect"
import * as Publication from "../../src/Publication.ts"
import * as Slot from "../../src/Slot.ts"
import { lsnToConfirm } from "../../src/WalMessage.ts"
import {
  configOf,
  confirmedFlush,
  eventually,
  exec,
  replicate,
  scalar,
  sqlSession,
  takeTransactions
} from "./support.ts"

const on = (conn: ConnectionShape) => Effect.provideService(Connection, conn)

for (const major of [18, 14] as const) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `management on PostgreSQL ${major}`,
    (it) => {
      it.effect(
        "publications: every form, publish options, ensure, drop",
        () => {
          const logs = TestLogger.make()
          return Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* exec(sql, [
              "CREATE SCHEMA app",
              "CREATE TABLE app.a (id int PRIMARY KEY)",
              "CREATE TABLE b (id int PRIMARY KEY)"
            ])

            yield* Publication.create("p_all", { target: { _tag: "AllTables" } }).pipe(on(sql))
            assert.strictEqual(
              yield* scalar(sql, "SELECT puballtables::text FROM pg_publication WHERE pubname = 'p_all'"),
              "true"
            )

            yield* Publication.create("p_ops", {
              target: { _tag: "Tables", tables: ["b", { schema: "app", name: "a" }] },
              publish: ["insert", "delete"],
              publishViaPartitionRoot: true
            }).pipe(on(sql))
            assert.strictEqual(
              yield* scalar(
                sql,
                "SELECT concat_ws(',', pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot) FROM pg_publication WHERE pubname = 'p_ops'"
              ),
              "t,f,t,f,t"
            )
            assert.strictEqual(
              yield* scalar(
                sql,
                "SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM pg_publication_tables WHERE pubname = 'p_ops'"
              ),
              "app.a,public.b"
            )

            assert.isFalse(yield* Publication.ensure("p_ops", { target: { _tag: "AllTables" } }).pipe(on(sql)))
            assert.isTrue(
              yield* Publication.ensure("p_new", { target: { _tag: "Tables", tables: ["b"] } }).pipe(on(sql))
            )
            assert.isTrue(yield* Publication.exists("p_new").pipe(on(sql)))
            yield* Publication.drop("p_new").pipe(on(sql))
            assert.isFalse(yield* Publication.exists("p_new").pipe(on(sql)))
            yield* Publication.drop("p_new").pipe(on(sql))
            // The server's NOTICE for DROP PUBLICATION IF EXISTS of a missing one reaches the log, as an info line.
            assert.deepStrictEqual(logs.messages(), ['PostgreSQL NOTICE: publication "p_new" does not exist, skipping'])
            const missing = yield* Effect.flip(Publication.drop("p_new", { ifExists: false }).pipe(on(sql)))
            assert.strictEqual(missing.reason._tag, "PublicationMissing")
            const duplicate = yield* Effect.flip(
              Publication.create("p_all", { target: { _tag: "AllTables" } }).pipe(on(sql))
            )
            assert.strictEqual(duplicate.reason._tag, "AlreadyExists")

            const schemas = Publication.create("p_schema", { target: { _tag: "Schemas", schemas: ["app"] } }).pipe(
              on(sql)
            )
            const filtered = Publication.create("p_filter", {
              target: { _tag: "Tables", tables: [{ name: "f", columns: ["id", "shown"], where: "id % 2 = 0" }] }
            }).pipe(on(sql))
            if (major === 14) {
              assert.strictEqual((yield* Effect.flip(schemas)).reason._tag, "UnsupportedOption")
              assert.include((yield* Effect.flip(filtered)).message, "PostgreSQL 15")
              return
            }
            yield* schemas
            assert.strictEqual(
              yield* scalar(
                sql,
                "SELECT string_agg(tablename, ',') FROM pg_publication_tables WHERE pubname = 'p_schema'"
              ),
              "a"
            )
            // Row filter and column list, applied by the server to what we receive.
            yield* sql.query("CREATE TABLE f (id int PRIMARY KEY, shown text, hidden text)")
            yield* filtered
            yield* Slot.create("s_filter").pipe(on(sql))
            yield* exec(
              sql,
              [1, 2, 3, 4].map((i) => `INSERT INTO f VALUES (${i}, 's${i}', 'h${i}')`)
            )
            const repl = yield* replicate(db, { slot: "s_filter", publications: ["p_filter"] })
            // Transactions 1 and 3 are filtered out entirely (empty transactions are skipped on 15+).
            const messages = yield* takeTransactions(repl, 2)
            assert.deepStrictEqual(
              messages.flatMap((m) => (m._tag === "Insert" ? [m.new] : [])),
              [
                { id: 2, shown: "s2" },
                { id: 4, shown: "s4" }
              ]
            )
          }).pipe(TestLogger.provide(logs))
        },
        30_000
      )

      it.effect(
        "slots: temporary and permanent, exported snapshot, two-phase, failover, inspect with lag, drop",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            const walsender = yield* Connection.make(configOf(db, "logical"))
            yield* sql.query("CREATE TABLE l (id int PRIMARY KEY); CREATE PUBLICATION p_l FOR TABLE l")

            const created = yield* Slot.create("s_perm").pipe(on(sql))
            assert.strictEqual(created.slotName, "s_perm")
            yield* Slot.create("s_temp", { temporary: true }).pipe(on(sql))
            // Checked at once: PostgreSQL drops a temporary slot on any later error in its session.
            const temp = yield* Slot.inspect("s_temp").pipe(on(sql))
            assert.isTrue(Option.isSome(temp) && temp.value.temporary)
            const exported = yield* Slot.create("s_snap", { temporary: true, snapshot: "export" }).pipe(on(walsender))
            assert.isNotNull(exported.snapshotName)
            const noSnapshot = yield* Effect.flip(Slot.create("s_x", { snapshot: "export" }).pipe(on(sql)))
            assert.strictEqual(noSnapshot.reason._tag, "InvalidOption")
            yield* Slot.create("s_2pc", { twoPhase: true }).pipe(on(sql))
            assert.strictEqual(
              yield* scalar(sql, "SELECT two_phase::text FROM pg_replication_slots WHERE slot_name = 's_2pc'"),
              "true"
            )
            const failover = Slot.create("s_fail", { failover: true }).pipe(on(sql))
            if (major >= 17) {
              yield* failover
              assert.strictEqual(
                yield* scalar(sql, "SELECT failover::text FROM pg_replication_slots WHERE slot_name = 's_fail'"),
                "true"
              )
            } else {
              const e = yield* Effect.flip(failover)
              assert.strictEqual(e.reason._tag, "UnsupportedOption")
              assert.include(e.message, "PostgreSQL 17")
            }
            const exists = yield* Effect.flip(Slot.create("s_perm").pipe(on(sql)))
            assert.strictEqual(exists.reason._tag, "AlreadyExists")
            const badName = yield* Effect.flip(Slot.create("Bad Name").pipe(on(sql)))
            assert.strictEqual(badName.reason._tag, "InvalidOption")

            yield* exec(sql, ["INSERT INTO l VALUES (1)", "INSERT INTO l VALUES (2)"])
            const perm = Option.getOrThrow(yield* Slot.inspect("s_perm").pipe(on(sql)))
            assert.strictEqual(perm.plugin, "pgoutput")
            assert.strictEqual(perm.slotType, "logical")
            assert.strictEqual(perm.database, "postgres")
            assert.isFalse(perm.active)
            assert.strictEqual(perm.confirmedFlushLsn, created.consistentPoint)
            assert.isTrue(perm.lagBytes !== null && perm.lagBytes > 0n, "the inserts are WAL the slot holds")
            assert.isTrue(Option.isNone(yield* Slot.inspect("nope").pipe(on(sql))))

            yield* Slot.drop("s_2pc").pipe(on(walsender))
            assert.isTrue(Option.isNone(yield* Slot.inspect("s_2pc").pipe(on(sql))))
            const gone = yield* Effect.flip(Slot.drop("s_2pc").pipe(on(sql)))
            assert.strictEqual(gone.reason._tag, "SlotMissing")
            yield* Slot.drop("s_2pc", { ifExists: true }).pipe(on(sql))
          }),
        30_000
      )

      it.effect(
        "closing the service sends a final status update with the committed LSN, then ends the session",
        () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* sqlSession(db)
            yield* sql.query("CREATE TABLE g (id int PRIMARY KEY); CREATE PUBLICATION p_g FOR TABLE g")
            yield* Slot.create("s_g").pipe(on(sql))
            yield* exec(sql, ["INSERT INTO g VALUES (1)", "INSERT INTO g VALUES (2)"])
            const committed = yield* Effect.scoped(
              Effect.gen(function* () {
                // A status interval far longer than the test: only the final update on close can confirm.
                const repl = yield* replicate(db, { slot: "s_g", publications: ["p_g"], statusInterval: "1 hour" })
                const commit = (yield* takeTransactions(repl, 1)).at(-1)!
                const lsn = lsnToConfirm(commit)!
                yield* repl.commit(lsn)
                return lsn
              })
            )
            // At least the committed LSN (more only if the service had seen an idle keepalive after it).
            const confirmed = yield* confirmedFlush(sql, "s_g")
            assert.isTrue(confirmed >= committed, `${confirmed} >= ${committed}`)
            yield* eventually(
              Effect.map(scalar(sql, "SELECT active::text FROM pg_replication_slots WHERE slot_name = 's_g'"), (a) =>
                a === "false" ? Option.some(a) : Option.none()
              ),
              "the walsender released the slot"
            )
          }),
        30_000
      )
    }
  )
}
