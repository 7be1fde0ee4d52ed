/**
 * Walsender sessions on every supported major (14 to 18): replication commands with the syntax each version wants,
 * and on 14 and 18 a real START_REPLICATION through `copyBoth` (pgoutput data in, a status update out, CopyDone,
 * and the session usable again afterwards). One server per major.
 */
import { assert, layer } from "@effect/vitest"
import { decodeReplication, encodeReplicationToBytes, Lsn, type XLogData } from "@pgcdc/protocol"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Effect, Redacted, Result, Stream } from "effect"
import { Connection, type ConnectionConfig, ReplicationCommands } from "../../src/index.ts"

const configOf = (db: TestDatabaseInfo, replication?: "logical" | "physical"): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database: db.database,
  sslmode: "disable",
  ...(replication !== undefined ? { replication } : {})
})

for (const major of [14, 15, 16, 17, 18] as const) {
  const full = major === 14 || major === 18
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `replication commands on PostgreSQL ${major}`,
    (it) => {
      it.effect("IDENTIFY_SYSTEM, SHOW, and a logical slot created, read and dropped", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db, "logical"))
          assert.strictEqual(Math.floor(conn.serverVersion / 10000), major)
          const id = yield* ReplicationCommands.identifySystem(conn)
          assert.match(id.systemId, /^\d+$/)
          assert.strictEqual(id.timeline, 1)
          assert.strictEqual(id.dbname, "postgres")
          assert.isTrue(id.xlogPos > Lsn.zero)
          assert.strictEqual(yield* ReplicationCommands.show(conn, "wal_level"), "logical")

          const command = ReplicationCommands.createSlotCommand(conn.serverVersion, "logical", { slotName: "s1" })
          assert.strictEqual(
            Result.getOrThrow(command),
            major < 15
              ? 'CREATE_REPLICATION_SLOT "s1" LOGICAL "pgoutput" NOEXPORT_SNAPSHOT'
              : `CREATE_REPLICATION_SLOT "s1" LOGICAL "pgoutput" (SNAPSHOT 'nothing')`
          )
          const slot = yield* ReplicationCommands.createLogicalSlot(conn, { slotName: "s1" })
          assert.strictEqual(slot.slotName, "s1")
          assert.strictEqual(slot.outputPlugin, "pgoutput")
          assert.isNull(slot.snapshotName)
          assert.isTrue(slot.consistentPoint > Lsn.zero)

          const duplicate = yield* Effect.flip(ReplicationCommands.createLogicalSlot(conn, { slotName: "s1" }))
          assert.strictEqual(duplicate.reason, "Server")
          assert.strictEqual(duplicate.code, "42710")
          yield* ReplicationCommands.dropSlot(conn, "s1")
          const missing = yield* Effect.flip(ReplicationCommands.dropSlot(conn, "s1"))
          assert.strictEqual(missing.code, "42704")
          // The session is still usable after the errors.
          assert.strictEqual((yield* ReplicationCommands.identifySystem(conn)).systemId, id.systemId)
        })
      )

      it.effect("a physical session: IDENTIFY_SYSTEM, a physical slot with RESERVE_WAL, DROP ... WAIT", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db, "physical"))
          const id = yield* ReplicationCommands.identifySystem(conn)
          assert.isNull(id.dbname)
          const slot = yield* ReplicationCommands.createPhysicalSlot(conn, { slotName: "phys", reserveWal: true })
          assert.strictEqual(slot.slotName, "phys")
          assert.isNull(slot.outputPlugin)
          if (major >= 15) {
            const info = yield* ReplicationCommands.readSlot(conn, "phys")
            assert.strictEqual(info.slotType, "physical")
            assert.isNotNull(info.restartLsn)
            assert.strictEqual(info.restartTimeline, 1)
          } else {
            const error = yield* Effect.flip(ReplicationCommands.readSlot(conn, "phys"))
            assert.strictEqual(error.code, "0A000")
            assert.include(error.message, "PostgreSQL 15")
          }
          yield* ReplicationCommands.dropSlot(conn, "phys", { wait: true })
          if (major >= 15) {
            const gone = yield* ReplicationCommands.readSlot(conn, "phys")
            assert.deepStrictEqual(gone, { slotType: null, restartLsn: null, restartTimeline: null })
          }
          // Timeline 1 has no history file; the server says so with a typed error.
          const noHistory = yield* Effect.flip(ReplicationCommands.timelineHistory(conn, 1))
          assert.strictEqual(noHistory.reason, "Server")
          assert.isDefined(noHistory.code)
        })
      )

      if (full) {
        it.effect("temporary, exported-snapshot, two-phase and failover slots", () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const conn = yield* Connection.make(configOf(db, "logical"))
            const sql = yield* Connection.make(configOf(db))
            const exported = yield* ReplicationCommands.createLogicalSlot(conn, {
              slotName: "tmp_export",
              temporary: true,
              snapshot: "export"
            })
            assert.isNotNull(exported.snapshotName)
            const temporary = yield* sql.query(
              "SELECT temporary FROM pg_replication_slots WHERE slot_name = 'tmp_export'"
            )
            assert.deepStrictEqual(temporary[0]!.rows, [["t"]])

            if (major >= 15) {
              yield* ReplicationCommands.createLogicalSlot(conn, { slotName: "two_phase", twoPhase: true })
              const twoPhase = yield* sql.query(
                "SELECT two_phase FROM pg_replication_slots WHERE slot_name = 'two_phase'"
              )
              assert.deepStrictEqual(twoPhase[0]!.rows, [["t"]])
              yield* ReplicationCommands.dropSlot(conn, "two_phase")
            } else {
              const error = yield* Effect.flip(
                ReplicationCommands.createLogicalSlot(conn, { slotName: "two_phase", twoPhase: true })
              )
              assert.strictEqual(error.code, "0A000")
              assert.include(error.message, "pg_create_logical_replication_slot")
            }

            if (major >= 17) {
              yield* ReplicationCommands.createLogicalSlot(conn, { slotName: "fail_over", failover: true })
              const failover = yield* sql.query(
                "SELECT failover FROM pg_replication_slots WHERE slot_name = 'fail_over'"
              )
              assert.deepStrictEqual(failover[0]!.rows, [["t"]])
              yield* ReplicationCommands.dropSlot(conn, "fail_over")
            } else {
              const error = yield* Effect.flip(
                ReplicationCommands.createLogicalSlot(conn, { slotName: "fail_over", failover: true })
              )
              assert.strictEqual(error.code, "0A000")
              assert.include(error.message, "PostgreSQL 17")
            }
            const badName = yield* Effect.flip(ReplicationCommands.createLogicalSlot(conn, { slotName: 'x"; DROP' }))
            assert.strictEqual(badName.code, "42602")
          })
        )

        it.effect("START_REPLICATION through copyBoth: pgoutput data, a status update, CopyDone", () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const sql = yield* Connection.make(configOf(db))
            const repl = yield* Connection.make(configOf(db, "logical"))
            yield* sql.query(
              "CREATE TABLE items (id int PRIMARY KEY, name text); CREATE PUBLICATION pub FOR TABLE items"
            )
            const slot = yield* ReplicationCommands.createLogicalSlot(repl, { slotName: "stream", temporary: true })
            yield* sql.query("INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 100) i")

            const received = yield* Effect.scoped(
              Effect.gen(function* () {
                const copy = yield* repl.copyBoth(
                  `START_REPLICATION SLOT "stream" LOGICAL ${Lsn.format(slot.consistentPoint)} (proto_version '1', publication_names 'pub')`
                )
                const tags: Array<string> = []
                let last: XLogData | undefined
                yield* copy.messages.pipe(
                  Stream.map((payload) => Result.getOrThrow(decodeReplication(payload))),
                  Stream.filter((m): m is XLogData => m._tag === "XLogData"),
                  Stream.takeUntil((m) => m.data[0] === 0x43 /* Commit */),
                  Stream.runForEach((m) =>
                    Effect.sync(() => {
                      tags.push(String.fromCharCode(m.data[0]!))
                      last = m
                    })
                  )
                )
                yield* copy.send(
                  encodeReplicationToBytes({
                    _tag: "StandbyStatusUpdate",
                    written: last!.walEnd,
                    flushed: last!.walEnd,
                    applied: last!.walEnd,
                    clientTime: 0n,
                    replyRequested: false
                  })
                )
                yield* copy.done
                return tags
              })
            )
            assert.deepStrictEqual(received[0], "B")
            assert.deepStrictEqual(received[1], "R")
            assert.strictEqual(received.filter((t) => t === "I").length, 100)
            assert.strictEqual(received.at(-1), "C")
            // The session is back in normal walsender mode.
            const id = yield* ReplicationCommands.identifySystem(repl)
            assert.isTrue(id.xlogPos >= slot.consistentPoint)
            // A command that does not start a copy is refused by copyBoth and leaves the session usable.
            const notCopy = yield* Effect.flip(Effect.scoped(repl.copyBoth("IDENTIFY_SYSTEM")))
            assert.strictEqual(notCopy.reason, "Protocol")
            assert.include(notCopy.message, "CopyBothResponse")
            yield* ReplicationCommands.identifySystem(repl)
          })
        )

        it.effect("closing the copy scope without done ends the stream and frees the session", () =>
          Effect.gen(function* () {
            const db = yield* TestDatabase
            const repl = yield* Connection.make(configOf(db, "logical"))
            const slot = yield* ReplicationCommands.createLogicalSlot(repl, { slotName: "abandon", temporary: true })
            yield* Effect.scoped(
              Effect.gen(function* () {
                const copy = yield* repl.copyBoth(
                  `START_REPLICATION SLOT "abandon" LOGICAL ${Lsn.format(slot.consistentPoint)} (proto_version '1', publication_names 'pub')`
                )
                // The first message is a keepalive or data: the stream is live.
                const first = yield* copy.messages.pipe(Stream.take(1), Stream.runCollect)
                assert.strictEqual(first.length, 1)
              })
            )
            const r = yield* repl.query("IDENTIFY_SYSTEM")
            assert.strictEqual(r[0]!.rows.length, 1)
          })
        )
      }
    }
  )
}

for (const major of [14, 18] as const) {
  layer(TestDatabase.layer({ major, newTimeline: true }), { excludeTestServices: true, timeout: "60 seconds" })(
    `a server on its second timeline, PostgreSQL ${major}`,
    (it) => {
      it.effect("TIMELINE_HISTORY returns the history file of the switch; IDENTIFY_SYSTEM the new timeline", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db, "physical"))
          const id = yield* ReplicationCommands.identifySystem(conn)
          assert.strictEqual(id.timeline, 2)
          const history = yield* ReplicationCommands.timelineHistory(conn, 2)
          assert.strictEqual(history.filename, "00000002.history")
          // One line per earlier timeline: its id, the LSN where it ended, and why (a tab between each).
          const lines = history.content.trim().split("\n")
          assert.strictEqual(lines.length, 1)
          const [parent, switchPoint] = lines[0]!.split("\t")
          assert.strictEqual(parent, "1")
          const at = Lsn.parse(switchPoint!)
          assert.isTrue(Result.isSuccess(at), `the switch point ${switchPoint} is an LSN`)
          assert.isTrue(Result.isSuccess(at) && at.success > Lsn.zero && at.success <= id.xlogPos)
          // No later timeline exists yet.
          const none = yield* Effect.flip(ReplicationCommands.timelineHistory(conn, 3))
          assert.strictEqual(none.reason, "Server")
        })
      )
    }
  )
}
