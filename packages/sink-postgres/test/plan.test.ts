/**
 * The planner's decisions without a database: a transaction is applied only when its commit LSN is after the
 * progress, skipped ones are still confirmed, the progress moves to the last applied transaction, a run is cut after
 * a SnapshotComplete, and two-phase transactions are refused.
 */
import { assert, describe, it } from "@effect/vitest"
import type { ConnectionShape } from "@pgcdc/connection"
import { Lsn, type Transactions } from "@pgcdc/replication"
import * as Result from "effect/Result"
import { Catalog } from "../src/internal/catalog.ts"
import { build, segments } from "../src/internal/plan.ts"
import { SinkError } from "../src/SinkError.ts"
import * as TableMap from "../src/TableMap.ts"

const lsn = (n: number) => Lsn.unsafeMake(BigInt(n))

const transaction = (commit: number): Transactions.TransactionElement => ({
  _tag: "Transaction",
  xid: commit,
  streamed: false,
  origin: undefined,
  changes: [],
  end: {
    _tag: "Commit",
    flags: 0,
    commitLsn: lsn(commit),
    endLsn: lsn(commit + 8),
    commitTime: 0n,
    walStart: lsn(commit + 8),
    walEnd: lsn(commit + 8)
  }
})

const complete: Transactions.TransactionElement = {
  _tag: "SnapshotComplete",
  consistentPoint: lsn(50),
  tables: 0,
  rows: 0,
  walStart: lsn(50),
  walEnd: lsn(50)
}

const catalog = new Catalog(undefined as unknown as ConnectionShape)
const map = Result.getOrThrow(TableMap.make())

describe("plan", () => {
  it("skips what the progress row has, confirms it anyway, and advances over the rest", () => {
    const plan = build(
      [transaction(100), transaction(200), transaction(300)],
      {
        commitLsn: lsn(200),
        endLsn: lsn(208)
      },
      catalog,
      map
    )
    assert.strictEqual(plan.skipped, 2)
    assert.strictEqual(plan.applied, 1)
    assert.deepStrictEqual(plan.advance, { commitLsn: lsn(300), endLsn: lsn(308) })
    assert.strictEqual(plan.confirm, lsn(308))
  })

  it("applies everything when there is no progress row, and nothing moves when all was applied", () => {
    assert.strictEqual(build([transaction(100)], undefined, catalog, map).applied, 1)
    const none = build([transaction(100)], { commitLsn: lsn(100), endLsn: lsn(108) }, catalog, map)
    assert.strictEqual(none.advance, undefined)
    assert.strictEqual(none.confirm, lsn(108))
  })

  it("cuts a run after a SnapshotComplete, and into runs of at most max elements", () => {
    const runs = segments([complete, transaction(100), transaction(200), transaction(300)], 2)
    assert.deepStrictEqual(
      runs.map((r) => r.map((e) => e._tag)),
      [["SnapshotComplete"], ["Transaction", "Transaction"], ["Transaction"]]
    )
    assert.deepStrictEqual(build(runs[0]!, undefined, catalog, map).reset, { commitLsn: lsn(50), endLsn: lsn(50) })
  })

  it("refuses two-phase transactions", () => {
    const prepared = { ...transaction(100), _tag: "CommitPrepared" } as unknown as Transactions.TransactionElement
    assert.throws(() => build([prepared], undefined, catalog, map), SinkError)
  })

  it("a table map may not send two tables to one", () => {
    assert.isTrue(Result.isFailure(TableMap.make({ a: "x.t", b: "x.t" })))
    const ok = Result.getOrThrow(TableMap.make({ "public.a": "mirror.a" }))
    assert.deepStrictEqual(ok.targetOf({ schema: "public", name: "a" }), { schema: "mirror", name: "a" })
    assert.deepStrictEqual(ok.targetOf({ schema: "s", name: "b" }), { schema: "s", name: "b" })
  })
})
