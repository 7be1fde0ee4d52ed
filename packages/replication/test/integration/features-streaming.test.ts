/**
 * Streaming of large in-progress transactions against real PostgreSQL 14 to 18 (logical_decoding_work_mem=64kB):
 * a large committed transaction, one with a rolled-back savepoint, one that aborts entirely, and two interleaved
 * sessions committing in the reverse order of their start. The raw stream must show StreamStart/StreamStop and
 * the subtransaction StreamAbort; the transactions view must yield exactly the committed rows, in commit order.
 * The same with streaming "parallel" (protocol 4) on 16+, and the tentative event form on every major.
 */
import { assert, layer } from "@effect/vitest"
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { type Major, TestDatabase } from "@pgcdc/testing"
import { Effect, Option, Queue, Stream } from "effect"
import * as Slot from "../../src/Slot.ts"
import type { Streaming } from "../../src/internal/startOptions.ts"
import * as Transactions from "../../src/transactions/index.ts"
import { lsnToConfirm, type WalMessage } from "../../src/WalMessage.ts"
import { confirmedFlush, eventually, replicate, sqlSession } from "./support.ts"

const majors: ReadonlyArray<Major> = [14, 15, 16, 17, 18]

const insert = (from: number, to: number) =>
  `INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(${from}, ${to}) g`

const range = (from: number, to: number): Array<number> => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Runs the workload; returns the ids of each committed transaction in commit order. */
const workload = (a: ConnectionShape, b: ConnectionShape) =>
  Effect.gen(function* () {
    yield* a.query(`BEGIN; ${insert(1, 3000)}; COMMIT`)
    yield* a.query(`BEGIN; ${insert(10001, 11000)}; SAVEPOINT s; ${insert(11001, 13000)}; ROLLBACK TO SAVEPOINT s;
      ${insert(13001, 13010)}; COMMIT`)
    yield* a.query(`BEGIN; ${insert(20001, 23000)}; ROLLBACK`)
    yield* a.query(`BEGIN; ${insert(30001, 32000)}`)
    yield* b.query(`BEGIN; ${insert(40001, 42000)}`)
    yield* a.query(insert(32001, 33000))
    yield* b.query("COMMIT")
    yield* a.query("COMMIT")
    yield* a.query(insert(50001, 50001))
    return [
      range(1, 3000),
      [...range(10001, 11000), ...range(13001, 13010)],
      range(40001, 42000),
      range(30001, 33000),
      [50001]
    ]
  })

const idsOf = (changes: ReadonlyArray<Transactions.Change>): Array<number> =>
  changes.flatMap((c) => (c._tag === "Insert" ? [c.new.id as number] : []))

const isLast = (e: Transactions.TransactionElement): boolean =>
  e._tag === "Transaction" && e.changes.some((c) => c._tag === "Insert" && c.new.id === 50001)

for (const major of majors) {
  layer(TestDatabase.layer({ major, settings: { logical_decoding_work_mem: "64kB" } }), {
    excludeTestServices: true,
    timeout: "120 seconds"
  })(`streamed transactions on PostgreSQL ${major}`, (it) => {
    it.effect("the transactions view yields exactly the committed rows of streamed transactions, in commit order", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const sql = yield* sqlSession(db)
        const other = yield* sqlSession(db)
        yield* sql.query("CREATE TABLE big (id int PRIMARY KEY, payload text); CREATE PUBLICATION p_big FOR TABLE big")
        const modes: Array<Streaming> = major >= 16 ? ["on", "parallel"] : ["on"]
        for (const mode of modes) {
          yield* Slot.create(`s_big_${mode}`).pipe(Effect.provideService(Connection, sql))
        }
        yield* Slot.create("s_big_tentative").pipe(Effect.provideService(Connection, sql))
        yield* Slot.create("s_big_live").pipe(Effect.provideService(Connection, sql))
        yield* Slot.create("s_big_resume").pipe(Effect.provideService(Connection, sql))
        const expected = yield* workload(sql, other)

        for (const streaming of modes) {
          const repl = yield* replicate(db, { slot: `s_big_${streaming}`, publications: ["p_big"], streaming })
          const raw: Array<WalMessage> = []
          const elements = yield* repl.stream.pipe(
            Stream.tap((m) => Effect.sync(() => raw.push(m))),
            Transactions.transactions(),
            Stream.takeUntil(isLast),
            Stream.runCollect
          )
          const txs = Array.from(elements).filter((e) => e._tag === "Transaction")
          // The aborted transaction appears only as its StreamAbort, with nothing to apply.
          assert.strictEqual(Array.from(elements).filter((e) => e._tag === "StreamAbort").length, major < 18 ? 1 : 0)
          assert.deepStrictEqual(
            txs.map((t) => idsOf(t.changes)),
            expected,
            `streaming ${streaming}`
          )
          assert.deepStrictEqual(
            txs.map((t) => t.streamed),
            [true, true, true, true, false]
          )
          const tags = new Set(raw.map((m) => m._tag))
          assert.isTrue(tags.has("StreamStart") && tags.has("StreamStop") && tags.has("StreamCommit"))
          const aborts = raw.filter((m) => m._tag === "StreamAbort")
          // The rolled-back savepoint (subXid ≠ xid). The whole abort decoded after the fact is a StreamAbort with
          // subXid = xid before 18; PostgreSQL 18 sees the abort before streaming and sends nothing (see the live test).
          assert.deepStrictEqual(
            aborts.map((m) => m.subXid === m.xid),
            major < 18 ? [false, true] : [false]
          )
          if (streaming === "parallel") assert.isDefined(aborts[0]!.abortLsn)
          // Inside a streamed transaction each change carries the xid of the subtransaction that made it.
          const subXid = aborts[0]!.subXid
          const subChanges = raw.filter((m) => m._tag === "Insert" && m.xid === subXid)
          assert.isTrue(subChanges.length > 0)
          assert.isTrue(
            subChanges.every(
              (m) => m._tag === "Insert" && (m.new.id as number) > 11000 && (m.new.id as number) <= 13000
            )
          )
          // Interleaving: segments of the two concurrent transactions alternate before either commits.
          const starts = raw.filter((m) => m._tag === "StreamStart").map((m) => m.xid)
          const [bXid, aXid] = txs.slice(2, 4).map((t) => t.xid)
          const firstB = starts.indexOf(bXid!)
          assert.isTrue(firstB >= 0 && starts.slice(firstB).includes(aXid!))
          yield* Transactions.acknowledge(repl, txs[4]!)
        }

        // Confirming in commit order is safe with interleaved streamed transactions: after confirming B (which
        // committed first), a new session sends all of A again. (PostgreSQL does not stream a transaction whose
        // decoding starts before the confirmed position: A comes whole, at its commit.)
        const confirmed = yield* Effect.scoped(
          Effect.gen(function* () {
            const first = yield* replicate(db, { slot: "s_big_resume", publications: ["p_big"], streaming: "on" })
            const upToB = yield* first.stream.pipe(
              Transactions.transactions(),
              Stream.filter((e) => e._tag === "Transaction"),
              Stream.take(3),
              Stream.runCollect
            )
            const b = Array.from(upToB)[2]!
            assert.deepStrictEqual(b._tag === "Transaction" ? idsOf(b.changes) : [], expected[2])
            yield* Transactions.acknowledge(first, b)
            return lsnToConfirm(b)
          })
        )
        yield* eventually(
          Effect.map(confirmedFlush(sql, "s_big_resume"), (lsn) =>
            lsn >= confirmed ? Option.some(lsn) : Option.none()
          ),
          "B is confirmed"
        )
        const resumed = yield* replicate(db, { slot: "s_big_resume", publications: ["p_big"], streaming: "on" })
        const rest = yield* resumed.stream.pipe(
          Transactions.transactions(),
          Stream.filter((e) => e._tag === "Transaction"),
          Stream.takeUntil(isLast),
          Stream.runCollect
        )
        assert.deepStrictEqual(
          Array.from(rest).map((t) => (t._tag === "Transaction" ? idsOf(t.changes) : [])),
          [expected[3], expected[4]]
        )

        // The bounded-memory form in tentative mode: staging by index and discarding on abort gives the same rows.
        const repl = yield* replicate(db, { slot: "s_big_tentative", publications: ["p_big"], streaming: "on" })
        const staged = new Map<number, Array<number | undefined>>()
        const committed: Array<ReadonlyArray<number>> = []
        let tentativeSeen = false
        yield* repl.stream.pipe(
          Transactions.events({ streamed: "tentative" }),
          Stream.tap((e) =>
            Effect.sync(() => {
              switch (e._tag) {
                case "TransactionBegin":
                  staged.set(e.xid, [])
                  break
                case "TransactionChange":
                  if (e.tentative) tentativeSeen = true
                  if (e.change._tag === "Insert") {
                    staged.get(e.xid)![e.index] = e.change.new.id as number
                  } else staged.get(e.xid)![e.index] = undefined
                  break
                case "TransactionAbort":
                  staged.get(e.xid)!.length = e.fromIndex
                  if (e.final) staged.delete(e.xid)
                  break
                case "TransactionCommit":
                  committed.push(staged.get(e.xid)!.filter((id) => id !== undefined))
                  staged.delete(e.xid)
                  break
              }
            })
          ),
          Stream.takeUntil((e) => e._tag === "TransactionCommit" && !e.streamed),
          Stream.runDrain
        )
        assert.isTrue(tentativeSeen)
        assert.deepStrictEqual(committed, expected)
        assert.strictEqual(staged.size, 0)

        // Live: a transaction streamed while still open, then rolled back, is a StreamAbort with subXid = xid on
        // every major, and the view yields nothing of it.
        const live = yield* replicate(db, { slot: "s_big_live", publications: ["p_big"], streaming: "on" })
        const started = yield* Queue.unbounded<number>()
        const out = yield* Queue.unbounded<Transactions.TransactionElement>()
        const liveRaw: Array<WalMessage> = []
        yield* live.stream.pipe(
          Stream.tap((m) =>
            Effect.sync(() => liveRaw.push(m)).pipe(
              Effect.andThen(m._tag === "StreamStart" ? Queue.offer(started, m.xid) : Effect.void)
            )
          ),
          Transactions.transactions(),
          Stream.runForEach((e) => Queue.offer(out, e)),
          Effect.forkScoped
        )
        // Skip what the workload left in the slot: everything up to the marker transaction.
        for (;;) if (isLast(yield* Queue.take(out))) break
        yield* Queue.clear(started)
        yield* sql.query(`BEGIN; ${insert(60001, 63000)}`)
        const xid = yield* Queue.take(started)
        yield* sql.query("ROLLBACK")
        yield* sql.query(insert(70001, 70001))
        const aborted = yield* Queue.take(out)
        assert.deepStrictEqual(aborted._tag === "StreamAbort" ? [aborted.xid, aborted.subXid] : [], [xid, xid])
        const next = yield* Queue.take(out)
        assert.deepStrictEqual(next._tag === "Transaction" ? idsOf(next.changes) : [], [70001])
        yield* Transactions.acknowledge(live, aborted)
        assert.isTrue(liveRaw.some((m) => m._tag === "StreamAbort" && m.xid === xid && m.subXid === xid))
      })
    )
  })
}
