/**
 * Property tests of the transaction views on generated sessions: several streamed transactions with savepoints
 * (SAVEPOINT, RELEASE, ROLLBACK TO, nested), interleaved segment by segment with plain transactions, each ending in
 * commit, prepare or abort, sent the way pgoutput sends them (a rolled-back subtransaction's StreamAbort between
 * segments, for itself and for each released child that wrote). Checks that
 * - the transactions view yields exactly the changes a model of savepoint semantics keeps, in commit order, and
 * - staging the tentative events by index and discarding on TransactionAbort yields the same.
 */
import { assert, describe, it } from "@effect/vitest"
import { Lsn } from "@pgcdc/protocol"
import { Effect, Stream } from "effect"
import * as fc from "fast-check"
import * as Transactions from "../src/transactions/index.ts"
import type { Table, WalMessage } from "../src/WalMessage.ts"

const L = (n: number): Lsn.Lsn => Lsn.unsafeMake(BigInt(n))
const at = { walStart: L(1), walEnd: L(1) }
const table: Table = { relationId: 1, schema: "public", name: "t", replicaIdentity: "d", columns: [] }

type Op = "change" | "savepoint" | "release" | "rollback" | "flush"
type Outcome = "commit" | "prepare" | "abort"

interface Script {
  readonly ops: ReadonlyArray<Op>
  readonly outcome: Outcome
}

interface Simulated {
  /** Units in the order this transaction sends them; each unit is sent without interleaving. */
  readonly units: Array<Array<WalMessage>>
  /** The change ids that survive, in order (empty unless committed or prepared). */
  readonly kept: Array<number>
}

let nextId = 0
let nextXid = 1000

/** Runs one session's script as PostgreSQL decodes and streams it. */
const simulate = (top: number, script: Script): Simulated => {
  interface Sub {
    readonly xid: number
    readonly children: Array<Sub>
    wrote: boolean
  }
  const units: Array<Array<WalMessage>> = []
  const changes: Array<{ readonly id: number; readonly owner: number }> = []
  const aborted = new Set<number>()
  const stack: Array<Sub> = []
  let segment: Array<WalMessage> = []
  let first = true
  const flush = () => {
    if (segment.length === 0) return
    units.push([
      { _tag: "StreamStart", ...at, xid: top, firstSegment: first },
      ...segment,
      { _tag: "StreamStop", ...at }
    ])
    first = false
    segment = []
  }
  const abortTree = (s: Sub, out: Array<WalMessage>) => {
    for (const c of s.children) abortTree(c, out)
    aborted.add(s.xid)
    if (s.wrote)
      out.push({ _tag: "StreamAbort", ...at, xid: top, subXid: s.xid, abortLsn: undefined, abortTime: undefined })
  }
  for (const op of script.ops) {
    switch (op) {
      case "change": {
        const current = stack.at(-1)
        if (current !== undefined) current.wrote = true
        const id = nextId++
        const owner = current?.xid ?? top
        changes.push({ id, owner })
        segment.push({ _tag: "Insert", ...at, xid: owner, table, new: { id } })
        break
      }
      case "savepoint":
        stack.push({ xid: nextXid++, children: [], wrote: false })
        break
      case "release": {
        const s = stack.pop()
        if (s !== undefined) stack.at(-1)?.children.push(s)
        break
      }
      case "rollback": {
        const s = stack.pop()
        if (s === undefined) break
        flush()
        const aborts: Array<WalMessage> = []
        abortTree(s, aborts)
        if (aborts.length > 0) units.push(aborts)
        // ROLLBACK TO SAVEPOINT keeps the savepoint: a new subtransaction takes its place.
        stack.push({ xid: nextXid++, children: [], wrote: false })
        break
      }
      case "flush":
        flush()
        break
    }
  }
  flush()
  if (units.length === 0) {
    // Nothing was streamed: pgoutput would send no StreamCommit either; give it one change so it is streamed.
    const id = nextId++
    changes.push({ id, owner: top })
    units.push([
      { _tag: "StreamStart", ...at, xid: top, firstSegment: true },
      { _tag: "Insert", ...at, xid: top, table, new: { id } },
      { _tag: "StreamStop", ...at }
    ])
  }
  const end: WalMessage =
    script.outcome === "commit"
      ? { _tag: "StreamCommit", ...at, xid: top, flags: 0, commitLsn: L(2), endLsn: L(3), commitTime: 0n }
      : script.outcome === "prepare"
        ? {
            _tag: "StreamPrepare",
            ...at,
            flags: 0,
            prepareLsn: L(2),
            endLsn: L(3),
            prepareTime: 0n,
            xid: top,
            gid: `g${top}`
          }
        : { _tag: "StreamAbort", ...at, xid: top, subXid: top, abortLsn: undefined, abortTime: undefined }
  units.push([end])
  const kept = script.outcome === "abort" ? [] : changes.filter((c) => !aborted.has(c.owner)).map((c) => c.id)
  return { units, kept }
}

const script: fc.Arbitrary<Script> = fc.record({
  ops: fc.array(fc.constantFrom<Op>("change", "change", "change", "savepoint", "release", "rollback", "flush"), {
    maxLength: 40
  }),
  outcome: fc.constantFrom<Outcome>("commit", "commit", "prepare", "abort")
})

const session = fc.record({
  streamed: fc.array(script, { minLength: 1, maxLength: 4 }),
  plain: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
  schedule: fc.array(fc.nat(), { minLength: 200, maxLength: 200 })
})

const collect = <A>(
  messages: ReadonlyArray<WalMessage>,
  view: (s: Stream.Stream<WalMessage>) => Stream.Stream<A, Transactions.TransactionError>
): Array<A> => Array.from(Effect.runSync(view(Stream.fromArray(messages)).pipe(Stream.runCollect)))

const idsOf = (changes: ReadonlyArray<Transactions.Change>) =>
  changes.flatMap((c) => (c._tag === "Insert" ? [c.new.id as number] : []))

describe("transaction views on generated sessions", () => {
  it("yield exactly what savepoint semantics keep, in commit order, in buffer and tentative modes", () => {
    fc.assert(
      fc.property(session, ({ streamed, plain, schedule }) => {
        nextId = 0
        nextXid = 1000
        // Per source, its units in order; plain transactions are single units.
        const sources: Array<{ units: Array<Array<WalMessage>>; kept: Array<number>; outcome: Outcome }> = streamed.map(
          (s, i) => ({ ...simulate(10 + i, s), outcome: s.outcome })
        )
        plain.forEach((n, i) => {
          const ids = Array.from({ length: n }, () => nextId++)
          sources.push({
            units: [
              [
                { _tag: "Begin", ...at, finalLsn: L(3), commitTime: 0n, xid: 500 + i },
                ...ids.map((id): WalMessage => ({ _tag: "Insert", ...at, xid: undefined, table, new: { id } })),
                { _tag: "Commit", ...at, flags: 0, commitLsn: L(2), endLsn: L(3), commitTime: 0n }
              ]
            ],
            kept: ids,
            outcome: "commit"
          })
        })
        // Interleave the sources unit by unit; a source's final unit decides it, so expected order = end order.
        const messages: Array<WalMessage> = []
        const expected: Array<Array<number>> = []
        const cursors = sources.map(() => 0)
        let pick = 0
        for (;;) {
          const open = sources.map((_, i) => i).filter((i) => cursors[i]! < sources[i]!.units.length)
          if (open.length === 0) break
          const i = open[schedule[pick++ % schedule.length]! % open.length]!
          const s = sources[i]!
          messages.push(...s.units[cursors[i]!]!)
          cursors[i]!++
          if (cursors[i] === s.units.length && s.outcome !== "abort") expected.push(s.kept)
        }

        const whole = collect(messages, Transactions.transactions()).flatMap((e) =>
          e._tag === "Transaction" || e._tag === "PreparedTransaction" ? [idsOf(e.changes)] : []
        )
        assert.deepStrictEqual(whole, expected)

        const staged = new Map<number, Array<number | undefined>>()
        const decided: Array<Array<number>> = []
        for (const e of collect(messages, Transactions.events({ streamed: "tentative" }))) {
          switch (e._tag) {
            case "TransactionBegin":
              staged.set(e.xid, [])
              break
            case "TransactionChange":
              staged.get(e.xid)![e.index] = e.change._tag === "Insert" ? (e.change.new.id as number) : undefined
              break
            case "TransactionAbort":
              staged.get(e.xid)!.length = e.fromIndex
              if (e.final) staged.delete(e.xid)
              break
            case "TransactionCommit":
            case "TransactionPrepare":
              decided.push(staged.get(e.xid)!.filter((id) => id !== undefined))
              staged.delete(e.xid)
              break
          }
        }
        assert.deepStrictEqual(decided, expected)
        assert.strictEqual(staged.size, 0)
      }),
      { numRuns: 300 }
    )
  })
})
