/**
 * What pgoutput sends besides plain row changes, through the transactions view, on PostgreSQL 14 to 18:
 * logical decoding messages (transactional and not), replication origins (and `origin none` filtering on 16+),
 * two-phase commit (PREPARE TRANSACTION then COMMIT PREPARED or ROLLBACK PREPARED, also streamed, on 15+), and
 * text and binary modes decoding a table of every common type to equal values. One server per major.
 */
import { assert, layer } from "@effect/vitest"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import { type Major, TestDatabase } from "@pgcdc/testing"
import { Effect, Option, Stream } from "effect"
import * as Slot from "../../src/Slot.ts"
import * as Transactions from "../../src/transactions/index.ts"
import { lsnToConfirm, type Row } from "../../src/WalMessage.ts"
import { confirmedFlush, eventually, replicate, sqlSession } from "./support.ts"

const majors: ReadonlyArray<Major> = [14, 15, 16, 17, 18]

const createSlot = (sql: ConnectionShape, name: string, twoPhase = false) =>
  Slot.create(name, { twoPhase }).pipe(Effect.provideService(Connection, sql))

const insertsOf = (e: Transactions.TransactionElement): Array<Row> =>
  e._tag === "Transaction" || e._tag === "PreparedTransaction"
    ? e.changes.flatMap((c) => (c._tag === "Insert" ? [c.new] : []))
    : []

/** Elements through the first transaction that inserts `marker` into the table. */
const until = (marker: number) => (e: Transactions.TransactionElement) => insertsOf(e).some((r) => r.id === marker)

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

for (const major of majors) {
  layer(TestDatabase.layer({ major, settings: { logical_decoding_work_mem: "64kB" } }), {
    excludeTestServices: true,
    timeout: "120 seconds"
  })(`pgoutput features on PostgreSQL ${major}`, (it) => {
    it.effect("logical decoding messages: standalone when not transactional, inside their transaction otherwise", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* sql.query("CREATE TABLE m (id int PRIMARY KEY); CREATE PUBLICATION p_m FOR TABLE m")
        yield* createSlot(sql, "s_m")
        yield* sql.query(`SELECT pg_logical_emit_message(false, 'app', 'outside');
          BEGIN; SELECT pg_logical_emit_message(true, 'app', 'inside'); INSERT INTO m VALUES (1); COMMIT;
          BEGIN; SELECT pg_logical_emit_message(true, 'app', 'rolled back'); ROLLBACK;
          BEGIN; SELECT pg_logical_emit_message(false, 'app', 'survives rollback'); ROLLBACK;
          BEGIN; SELECT pg_logical_emit_message(true, 'app', 'streamed'); INSERT INTO m SELECT generate_series(100, 3099);
          COMMIT;
          INSERT INTO m VALUES (2)`)
        const repl = yield* replicate(db, { slot: "s_m", publications: ["p_m"], messages: true, streaming: "on" })
        const out = yield* repl.stream.pipe(Transactions.transactions(), Stream.takeUntil(until(2)), Stream.runCollect)
        assert.deepStrictEqual(
          Array.from(out).map((e): unknown =>
            e._tag === "Message"
              ? ["standalone", e.transactional, e.prefix, text(e.content)]
              : e._tag === "Transaction" && e.streamed
                ? ["streamed", e.changes[0]?._tag === "Message" ? text(e.changes[0].content) : "?", insertsOf(e).length]
                : e._tag === "Transaction"
                  ? e.changes.flatMap(
                      (c): Array<unknown> =>
                        c._tag === "Message"
                          ? [[c.transactional, text(c.content)]]
                          : c._tag === "Insert"
                            ? [c.new.id]
                            : []
                    )
                  : [e._tag]
          ),
          [
            ["standalone", false, "app", "outside"],
            [[true, "inside"], 1],
            ["standalone", false, "app", "survives rollback"],
            ["streamed", "streamed", 3000],
            [2]
          ]
        )
      })
    )

    it.effect(
      major >= 16 ? "origins are attached to transactions; origin none drops them" : "origins are attached",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query(
            "CREATE TABLE o (id int PRIMARY KEY); CREATE PUBLICATION p_o FOR TABLE o; SELECT pg_replication_origin_create('upstream')"
          )
          yield* createSlot(sql, "s_o_any")
          if (major >= 16) yield* createSlot(sql, "s_o_none")
          yield* sql.query(`SELECT pg_replication_origin_session_setup('upstream');
            BEGIN; SELECT pg_replication_origin_xact_setup('0/ABCDEF', now()); INSERT INTO o VALUES (1); COMMIT;
            BEGIN; SELECT pg_replication_origin_xact_setup('0/ABCDF0', now());
            INSERT INTO o SELECT generate_series(100, 3099); COMMIT;
            SELECT pg_replication_origin_session_reset();
            INSERT INTO o VALUES (2)`)
          const read = (slot: string, origin?: "any" | "none") =>
            Effect.flatMap(
              replicate(db, {
                slot,
                publications: ["p_o"],
                streaming: "on",
                ...(origin !== undefined ? { origin } : {})
              }),
              (repl) => repl.stream.pipe(Transactions.transactions(), Stream.takeUntil(until(2)), Stream.runCollect)
            )
          const any = Array.from(yield* read("s_o_any", major >= 16 ? "any" : undefined))
          assert.deepStrictEqual(
            any.map((e) =>
              e._tag === "Transaction" ? [insertsOf(e).length, e.streamed, e.origin?.name, e.origin?.commitLsn] : []
            ),
            [
              [1, false, "upstream", Lsn.unsafeMake(0xabcdefn)],
              // A streamed transaction keeps its origin name, but PostgreSQL sends the Origin message with the
              // first segment, before the origin's commit LSN is known: it is 0/0.
              [3000, true, "upstream", Lsn.zero],
              [1, false, undefined, undefined]
            ]
          )
          if (major >= 16) {
            const none = Array.from(yield* read("s_o_none", "none"))
            assert.deepStrictEqual(
              none.map((e) => insertsOf(e).map((r) => r.id)),
              [[2]]
            )
          }
        })
    )

    if (major >= 15) {
      it.effect("two-phase: prepared transactions then COMMIT PREPARED or ROLLBACK PREPARED, also streamed", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const sql = yield* sqlSession(db)
          yield* sql.query("CREATE TABLE tp (id int PRIMARY KEY, pad text); CREATE PUBLICATION p_tp FOR TABLE tp")
          yield* createSlot(sql, "s_tp", true)
          // One statement per query: COMMIT PREPARED cannot run in the implicit transaction of a multi-statement query.
          for (const statement of [
            "BEGIN",
            "INSERT INTO tp VALUES (1)",
            "PREPARE TRANSACTION 'g_commit'",
            "COMMIT PREPARED 'g_commit'",
            "BEGIN",
            "INSERT INTO tp VALUES (2)",
            "PREPARE TRANSACTION 'g_rollback'",
            "ROLLBACK PREPARED 'g_rollback'",
            "BEGIN",
            "INSERT INTO tp SELECT g, repeat('x', 100) FROM generate_series(10, 2009) g",
            "PREPARE TRANSACTION 'g_big'",
            "COMMIT PREPARED 'g_big'",
            "INSERT INTO tp VALUES (3)"
          ]) {
            yield* sql.query(statement)
          }
          const repl = yield* replicate(db, {
            slot: "s_tp",
            publications: ["p_tp"],
            twoPhase: true,
            streaming: "on"
          })
          const out = Array.from(
            yield* repl.stream.pipe(Transactions.transactions(), Stream.takeUntil(until(3)), Stream.runCollect)
          )
          assert.deepStrictEqual(
            out.map((e) => {
              switch (e._tag) {
                case "PreparedTransaction":
                  return [e._tag, e.gid, e.streamed, insertsOf(e).length, e.end._tag]
                case "CommitPrepared":
                case "RollbackPrepared":
                  return [e._tag, e.gid]
                case "Transaction":
                  return [e._tag, insertsOf(e).map((r) => r.id)]
                default:
                  return [e._tag]
              }
            }),
            [
              ["PreparedTransaction", "g_commit", false, 1, "Prepare"],
              ["CommitPrepared", "g_commit"],
              ["PreparedTransaction", "g_rollback", false, 1, "Prepare"],
              ["RollbackPrepared", "g_rollback"],
              ["PreparedTransaction", "g_big", true, 2000, "StreamPrepare"],
              ["CommitPrepared", "g_big"],
              ["Transaction", [3]]
            ]
          )
          // Decisions reference the prepared transaction by gid and xid.
          const prepared = out.filter((e) => e._tag === "PreparedTransaction")
          const decisions = out.filter((e) => e._tag === "CommitPrepared" || e._tag === "RollbackPrepared")
          assert.deepStrictEqual(
            decisions.map((d) => d.xid),
            prepared.map((p) => p.xid)
          )
          // Confirming in order: each element's LSN is beyond the previous one's.
          const lsns = out.map(lsnToConfirm)
          for (let i = 1; i < lsns.length; i++) assert.isTrue(lsns[i]! > lsns[i - 1]!)
          yield* Transactions.acknowledge(repl, out.at(-1)!)

          // Once a PreparedTransaction is confirmed, a new session sends only the decision, not the changes again.
          yield* createSlot(sql, "s_tp_resume", true)
          for (const statement of ["BEGIN", "INSERT INTO tp VALUES (5000)", "PREPARE TRANSACTION 'g_later'"]) {
            yield* sql.query(statement)
          }
          const confirmed = yield* Effect.scoped(
            Effect.gen(function* () {
              const first = yield* replicate(db, { slot: "s_tp_resume", publications: ["p_tp"], twoPhase: true })
              const [prepared] = yield* first.stream.pipe(
                Transactions.transactions(),
                Stream.take(1),
                Stream.runCollect
              )
              assert.strictEqual(prepared?._tag === "PreparedTransaction" ? prepared.gid : undefined, "g_later")
              yield* Transactions.acknowledge(first, prepared!)
              return lsnToConfirm(prepared!)!
            })
          )
          yield* eventually(
            Effect.map(confirmedFlush(sql, "s_tp_resume"), (lsn) =>
              lsn >= confirmed ? Option.some(lsn) : Option.none()
            ),
            "the prepare is confirmed"
          )
          yield* sql.query("COMMIT PREPARED 'g_later'")
          yield* sql.query("INSERT INTO tp VALUES (5001)")
          const second = yield* replicate(db, { slot: "s_tp_resume", publications: ["p_tp"], twoPhase: true })
          const after = yield* second.stream.pipe(
            Transactions.transactions(),
            Stream.takeUntil(until(5001)),
            Stream.runCollect
          )
          assert.deepStrictEqual(
            Array.from(after).map((e) => [e._tag, "gid" in e ? e.gid : insertsOf(e).map((r) => r.id)]),
            [
              ["CommitPrepared", "g_later"],
              ["Transaction", [5001]]
            ]
          )
        })
      )
    }

    it.effect("text and binary modes decode every common type to equal values", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        yield* sql.query(`CREATE TABLE b (id int PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, n numeric(12,4),
            bo bool, t text, vc varchar(8), bp char(4), by bytea, u uuid, j json, jb jsonb, d date, tm time,
            ttz timetz, ts timestamp, tstz timestamptz, iv interval, ai int4[], at text[], nul text);
          CREATE PUBLICATION p_b FOR TABLE b`)
        yield* createSlot(sql, "s_b_text")
        yield* createSlot(sql, "s_b_binary")
        yield* sql.query(`INSERT INTO b VALUES
          (1, -7, 9007199254740993, 1.1, 0.30000000000000004, -12.5, true, 'héllo', 'v', 'ab', '\\x00ff10',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": 12345678901234567890}', '{"a": [1, 2.50]}', '2024-02-29',
           '13:05:06.789', '13:05:06+05:30', '1999-12-31 23:59:59.999999', '2024-03-10 12:34:56.789123+01',
           '1 year 2 mons -3 days 04:05:06.5', '{1,NULL,3}', '{"a,b",""}', NULL),
          (2, 0, -9223372036854775808, '-Infinity', 'NaN', 'NaN', false, '', '', '', '\\x', 
           '00000000-0000-0000-0000-000000000000', 'null', '{}', 'infinity', '24:00:00', '00:00:00-12',
           '-infinity', 'infinity', '0', '{}', '{}', NULL);
          INSERT INTO b (id) VALUES (3)`)
        const read = (slot: string, binary: boolean) =>
          Effect.flatMap(replicate(db, { slot, publications: ["p_b"], binary }), (repl) =>
            repl.stream.pipe(
              Transactions.transactions(),
              Stream.takeUntil(until(3)),
              Stream.runCollect,
              Effect.map((c) => Array.from(c).flatMap(insertsOf))
            )
          )
        const textRows = yield* read("s_b_text", false)
        const binaryRows = yield* read("s_b_binary", true)
        assert.strictEqual(textRows.length, 3)
        assert.deepStrictEqual(binaryRows, textRows)
        assert.strictEqual(textRows[0]!.i8, 9007199254740993n)
      })
    )
  })
}
