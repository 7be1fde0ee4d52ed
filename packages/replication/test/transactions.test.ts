/**
 * The transaction views on hand-built message sequences: commit order across interleaved streamed transactions,
 * subtransaction rollback (the PostgreSQL apply worker's truncation rule), whole aborts, session restarts, two-phase
 * commit, standalone messages, origins, sequence errors, the memory limit, and the LSN each element confirms.
 */
import { assert, describe, it } from "@effect/vitest"
import { Lsn } from "@pgcdc/protocol"
import { Effect, Exit, Stream } from "effect"
import * as Transactions from "../src/transactions/index.ts"
import { lsnToConfirm, type Table, type WalMessage } from "../src/WalMessage.ts"

const L = (n: number): Lsn.Lsn => Lsn.unsafeMake(BigInt(n))
const at = (n: number) => ({ walStart: L(n), walEnd: L(n) })

const table: Table = {
  relationId: 1,
  schema: "public",
  name: "t",
  replicaIdentity: "d",
  columns: [{ name: "id", typeOid: 23, typeModifier: -1, isKey: true }]
}

const ins = (id: number, xid?: number): WalMessage => ({ _tag: "Insert", ...at(id), xid, table, new: { id } })
const begin = (xid: number): WalMessage => ({ _tag: "Begin", ...at(1), finalLsn: L(900), commitTime: 0n, xid })
const commit = (end: number): WalMessage => ({
  _tag: "Commit",
  ...at(end),
  flags: 0,
  commitLsn: L(end - 8),
  endLsn: L(end),
  commitTime: 0n
})
const start = (xid: number, firstSegment: boolean): WalMessage => ({ _tag: "StreamStart", ...at(2), xid, firstSegment })
const stop: WalMessage = { _tag: "StreamStop", ...at(3) }
const streamCommit = (xid: number, end: number): WalMessage => ({
  _tag: "StreamCommit",
  ...at(end),
  xid,
  flags: 0,
  commitLsn: L(end - 8),
  endLsn: L(end),
  commitTime: 0n
})
const streamAbort = (xid: number, subXid: number): WalMessage => ({
  _tag: "StreamAbort",
  ...at(4),
  xid,
  subXid,
  abortLsn: undefined,
  abortTime: undefined
})

const run = <A>(
  messages: ReadonlyArray<WalMessage>,
  view: (s: Stream.Stream<WalMessage>) => Stream.Stream<A, Transactions.TransactionError>
) =>
  view(Stream.fromArray(messages)).pipe(
    Stream.runCollect,
    Effect.map((c) => Array.from(c))
  )

const ids = (e: Transactions.TransactionElement): Array<number> =>
  e._tag === "Transaction" || e._tag === "PreparedTransaction"
    ? e.changes.flatMap((c) => (c._tag === "Insert" ? [c.new.id as number] : []))
    : []

describe("transactions view", () => {
  it.effect("a reconnect forgets transactions left open, plain and streamed, and takes them again in full", () =>
    Effect.gen(function* () {
      const reconnected: WalMessage = { _tag: "Reconnected", ...at(1), session: 2 }
      const events = yield* run(
        [
          start(10, true),
          ins(1, 10),
          // The connection drops in the middle of a stream segment: no StreamStop, no decision.
          reconnected,
          begin(30),
          ins(3),
          // and again in the middle of a plain transaction.
          reconnected,
          begin(30),
          ins(3),
          commit(100),
          start(10, true),
          ins(1, 10),
          stop,
          streamCommit(10, 200)
        ],
        Transactions.events()
      )
      assert.deepStrictEqual(
        events.flatMap((e) => (e._tag === "TransactionInterrupted" ? [e.xid] : [])),
        [10, 30]
      )
      const whole = yield* run(
        [
          start(10, true),
          ins(1, 10),
          reconnected,
          begin(30),
          ins(3),
          commit(100),
          start(10, true),
          ins(1, 10),
          stop,
          streamCommit(10, 200)
        ],
        Transactions.transactions()
      )
      assert.deepStrictEqual(whole.map(ids), [[3], [1]])
    })
  )

  it.effect("emits interleaved streamed transactions at their commit, plain ones in between, in commit order", () =>
    Effect.gen(function* () {
      const out = yield* run(
        [
          start(10, true),
          ins(1, 10),
          stop,
          start(20, true),
          ins(2, 20),
          stop,
          begin(30),
          ins(3),
          commit(100),
          start(10, false),
          ins(4, 10),
          stop,
          streamCommit(20, 200),
          streamCommit(10, 300)
        ],
        Transactions.transactions()
      )
      assert.deepStrictEqual(out.map(ids), [[3], [2], [1, 4]])
      assert.deepStrictEqual(
        out.map((e) => (e._tag === "Transaction" ? [e.xid, e.streamed] : [])),
        [
          [30, false],
          [20, true],
          [10, true]
        ]
      )
      assert.deepStrictEqual(out.map(lsnToConfirm), [L(100), L(200), L(300)])
    })
  )

  it.effect("a subtransaction rollback drops its changes and everything after them; a whole abort drops all", () =>
    Effect.gen(function* () {
      const out = yield* run(
        [
          start(10, true),
          ins(1, 10),
          ins(2, 11), // SAVEPOINT a
          ins(3, 12), // SAVEPOINT b inside a
          ins(4, 11), // RELEASE b, back in a
          stop,
          streamAbort(10, 11), // ROLLBACK TO a: a and its released child b
          streamAbort(10, 99), // a subtransaction none of whose changes arrived
          start(10, false),
          ins(5, 13), // the subtransaction ROLLBACK TO SAVEPOINT opens again
          ins(6, 10),
          stop,
          start(40, true),
          ins(7, 40),
          stop,
          streamAbort(40, 40),
          streamCommit(10, 300)
        ],
        Transactions.transactions()
      )
      // The whole abort is passed on as its StreamAbort (nothing to apply, an LSN to confirm).
      assert.deepStrictEqual(
        out.map((e) => [e._tag, ids(e)]),
        [
          ["StreamAbort", []],
          ["Transaction", [1, 5, 6]]
        ]
      )
      assert.deepStrictEqual(out.map(lsnToConfirm), [L(4), L(300)])
    })
  )

  it.effect("tentative events carry indexes that TransactionAbort.fromIndex truncates", () =>
    Effect.gen(function* () {
      const out = yield* run(
        [
          start(10, true),
          ins(1, 10),
          ins(2, 11),
          stop,
          streamAbort(10, 11),
          start(10, false),
          ins(3, 10),
          stop,
          streamCommit(10, 300)
        ],
        Transactions.events({ streamed: "tentative" })
      )
      assert.deepStrictEqual(
        out.map((e) => {
          switch (e._tag) {
            case "TransactionBegin":
              return `begin ${e.xid} ${e.tentative}`
            case "TransactionChange":
              return `change ${e.index} ${e.tentative}`
            case "TransactionAbort":
              return `abort ${e.subXid} from ${e.fromIndex} ${e.final}`
            case "TransactionCommit":
              return `commit ${e.xid}`
            default:
              return e._tag
          }
        }),
        ["begin 10 true", "change 0 true", "change 1 true", "abort 11 from 1 false", "change 1 true", "commit 10"]
      )
      assert.deepStrictEqual(out.map(lsnToConfirm), [undefined, undefined, undefined, undefined, undefined, L(300)])
    })
  )

  it.effect("a restarted session: a plain transaction cut short and a stream started over are forgotten", () =>
    Effect.gen(function* () {
      const messages = [
        begin(5),
        ins(1),
        start(10, true),
        ins(2, 10),
        stop,
        // reconnect: the server sends both again from their start
        begin(5),
        ins(1),
        commit(100),
        start(10, true),
        ins(2, 10),
        stop,
        streamCommit(10, 200)
      ]
      const whole = yield* run(messages, Transactions.transactions())
      assert.deepStrictEqual(whole.map(ids), [[1], [2]])
      const events = yield* run(messages, Transactions.events({ streamed: "tentative" }))
      const tags = events.map((e) => e._tag)
      assert.include(tags, "TransactionInterrupted")
      const restart = events.find((e) => e._tag === "TransactionAbort")
      assert.deepStrictEqual(restart?._tag === "TransactionAbort" ? [restart.fromIndex, restart.final] : [], [0, true])
    })
  )

  it.effect("two-phase: prepared transactions, then decisions by gid; streamed prepare too", () =>
    Effect.gen(function* () {
      const out = yield* run(
        [
          { _tag: "BeginPrepare", ...at(1), prepareLsn: L(90), endLsn: L(100), prepareTime: 0n, xid: 7, gid: "g1" },
          ins(1),
          {
            _tag: "Prepare",
            ...at(100),
            flags: 0,
            prepareLsn: L(90),
            endLsn: L(100),
            prepareTime: 0n,
            xid: 7,
            gid: "g1"
          },
          start(8, true),
          ins(2, 8),
          stop,
          {
            _tag: "StreamPrepare",
            ...at(200),
            flags: 0,
            prepareLsn: L(190),
            endLsn: L(200),
            prepareTime: 0n,
            xid: 8,
            gid: "g2"
          },
          {
            _tag: "CommitPrepared",
            ...at(300),
            flags: 0,
            commitLsn: L(290),
            endLsn: L(300),
            commitTime: 0n,
            xid: 7,
            gid: "g1"
          },
          {
            _tag: "RollbackPrepared",
            ...at(400),
            flags: 0,
            prepareEndLsn: L(200),
            rollbackEndLsn: L(400),
            prepareTime: 0n,
            rollbackTime: 0n,
            xid: 8,
            gid: "g2"
          }
        ],
        Transactions.transactions()
      )
      assert.deepStrictEqual(
        out.map((e) => [e._tag, "gid" in e ? e.gid : undefined, ids(e)]),
        [
          ["PreparedTransaction", "g1", [1]],
          ["PreparedTransaction", "g2", [2]],
          ["CommitPrepared", "g1", []],
          ["RollbackPrepared", "g2", []]
        ]
      )
      assert.deepStrictEqual(out.map(lsnToConfirm), [L(100), L(200), L(300), L(400)])
    })
  )

  it.effect("standalone messages pass through; transactional ones and origins stay with their transaction", () =>
    Effect.gen(function* () {
      const message = (transactional: boolean): WalMessage => ({
        _tag: "Message",
        ...at(50),
        xid: undefined,
        transactional,
        lsn: L(50),
        prefix: "p",
        content: new Uint8Array([1])
      })
      const out = yield* run(
        [
          message(false),
          begin(5),
          { _tag: "Origin", ...at(2), commitLsn: L(77), name: "upstream" },
          message(true),
          ins(1),
          commit(100)
        ],
        Transactions.transactions()
      )
      assert.strictEqual(out[0]?._tag, "Message")
      const tx = out[1]
      assert.deepStrictEqual(tx?._tag === "Transaction" ? [tx.origin, tx.changes.map((c) => c._tag)] : [], [
        { name: "upstream", commitLsn: L(77) },
        ["Message", "Insert"]
      ])
      assert.deepStrictEqual(lsnToConfirm(out[0]!), L(50))
    })
  )

  it.effect("sequence errors name the problem, after delivering what completed before it", () =>
    Effect.gen(function* () {
      const delivered: Array<Transactions.TransactionElement> = []
      const exit = yield* Stream.fromArray([begin(5), ins(1), commit(100), commit(200)]).pipe(
        Transactions.transactions(),
        Stream.runForEach((e) => Effect.sync(() => delivered.push(e))),
        Effect.exit
      )
      assert.deepStrictEqual(delivered.map(ids), [[1]])
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Stream.fromArray([ins(1)]).pipe(Transactions.transactions(), Stream.runDrain, Effect.flip)
      assert.strictEqual(error.reason, "Sequence")
      assert.match(error.message, /Insert outside any transaction/)
      const continued = yield* Stream.fromArray([start(3, false)]).pipe(
        Transactions.transactions(),
        Stream.runDrain,
        Effect.flip
      )
      assert.match(continued.message, /first segment/)
    })
  )

  it.effect("maxStreamedChanges bounds a held streamed transaction", () =>
    Effect.gen(function* () {
      const error = yield* Stream.fromArray([start(3, true), ins(1, 3), ins(2, 3), ins(3, 3)]).pipe(
        Transactions.transactions({ maxStreamedChanges: 2 }),
        Stream.runDrain,
        Effect.flip
      )
      assert.deepStrictEqual([error.reason, error.xid], ["TooLarge", 3])
    })
  )

  it.effect("acknowledge commits the element's LSN and nothing for mid-transaction events", () =>
    Effect.gen(function* () {
      const committed: Array<Lsn.Lsn> = []
      const repl = { commit: (lsn: Lsn.Lsn) => Effect.sync(() => void committed.push(lsn)) }
      const events = yield* run([begin(5), ins(1), commit(100)], Transactions.events())
      for (const e of events) yield* Transactions.acknowledge(repl, e)
      const [tx] = yield* run([begin(5), ins(1), commit(100)], Transactions.transactions())
      yield* Transactions.acknowledge(repl, tx!)
      yield* Transactions.acknowledge(repl, commit(150))
      assert.deepStrictEqual(committed, [L(100), L(100), L(150)])
      assert.strictEqual(lsnToConfirm(events[1]!), undefined)
    })
  )
})
