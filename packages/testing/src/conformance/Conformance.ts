/**
 * The shared replication conformance suite: cases that run the real `Replication` service against any `Backend`
 * (the fake server, a real PostgreSQL) and check what it observes against one expectation written once. A case
 * passing on two backends means both produce the same observable stream. Where backends legitimately differ
 * (LSN values, Relation timing, stream segment boundaries, aborted streamed transactions) `Observe.ts` normalises, and
 * says why; where the expectation depends on the server version (empty transactions), the case says so.
 *
 * Cases fail with a `ConformanceError` naming the backend, the case, and the expected and actual values, so the suite
 * needs no test framework and users can run it against their own setup:
 * `Effect.forEach(Conformance.cases, (c) => c.run(backend))`. Each case creates tables, a publication and a slot
 * with names of its own, so cases can share one server. This module holds the stream, commit and resume cases and
 * the list; the publication cases are in PublicationCases.ts, the initial snapshot's in SnapshotCases.ts, the
 * backfills' in BackfillCases.ts, the heartbeat's in HeartbeatCases.ts, what cases share in Case.ts.
 */
import { Lsn } from "@pgcdc/protocol"
import { WalMessage } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Backend, Transaction } from "../simulation/Backend.ts"
import {
  type CaseError,
  type ConformanceCase,
  collect,
  commits,
  expectEqual,
  expectThat,
  ins,
  itemsTable,
  replicate,
  row,
  untilInsertCommitted
} from "./Case.ts"
import { type Event, observe } from "./Observe.ts"
import { backfillCases } from "./BackfillCases.ts"
import { heartbeatCases } from "./HeartbeatCases.ts"
import { columnListCase, publishCase, rowFilterCase } from "./PublicationCases.ts"
import { snapshotCases } from "./SnapshotCases.ts"

export { type CaseError, type ConformanceCase, ConformanceError, replicate } from "./Case.ts"

// ---------------------------------------------------------------------------------------------------------------

const workloadCase: ConformanceCase = {
  name: "a workload of every kind of change arrives as the same stream",
  run: (backend) =>
    Effect.gen(function* () {
      const name = workloadCase.name
      const items = itemsTable("conf_items")
      const audit = itemsTable("conf_audit", "full")
      const other = itemsTable("conf_other")
      yield* backend.setup({
        slot: "conf_workload",
        publication: "conf_workload_pub",
        tables: [items, audit],
        unpublished: [other]
      })
      const big = "9007199254740993" // beyond 2^53: exact only as int8 text or bigint
      const workload: ReadonlyArray<Transaction | { readonly message: string }> = [
        { ops: [ins(items, row(1, "one", "1")), ins(items, row(2, "two", null)), ins(audit, row(1, "a", "10"))] },
        {
          ops: [
            { _tag: "Update", table: items.name, row: row(1, "uno", big) },
            { _tag: "Delete", table: items.name, key: { id: "2" } },
            { _tag: "Update", table: audit.name, row: row(1, "b", "-10") },
            { _tag: "Delete", table: audit.name, key: { id: "1" } }
          ]
        },
        { ops: [ins(items, row(3, "rolled back", "3"))], rollback: true },
        { message: "outside a transaction" },
        { ops: [{ _tag: "Message", prefix: "conf", content: "inside" }, ins(items, row(4, 'it\'s "quoted"', null))] },
        // Only an unpublished table: an empty transaction.
        { ops: [ins(other, row(1, "unpublished", "1"))] },
        { ops: [{ _tag: "InsertSeries", table: items.name, from: 1000, count: 3000, text: "bulk" }], streamed: true },
        {
          ops: [{ _tag: "InsertSeries", table: items.name, from: 5000, count: 3000, text: "aborted" }],
          streamed: true,
          rollback: true
        },
        { ops: [{ _tag: "Truncate", tables: [items.name, audit.name] }] },
        { ops: [ins(items, row(99, "last", "99"))] }
      ]
      for (const w of workload) {
        if ("message" in w) yield* backend.message("conf", w.message)
        else yield* backend.transaction(w)
      }
      const replication = yield* replicate(backend, {
        slot: "conf_workload",
        publications: ["conf_workload_pub"],
        messages: true,
        streaming: "on"
      })
      const messages = yield* collect(replication.stream, untilInsertCommitted(99))
      const observed = observe([items, audit, other], messages)

      const series: Array<Event> = []
      for (let i = 0; i < 3000; i++)
        series.push(["Insert", items.name, row(1000 + i, "bulk", String((1000 + i) * 1000))])
      const expected: ReadonlyArray<Event> = [
        ["Begin"],
        ["Insert", items.name, row(1, "one", "1")],
        ["Insert", items.name, row(2, "two", null)],
        ["Insert", audit.name, row(1, "a", "10")],
        ["Commit"],
        ["Begin"],
        // Default identity and an unchanged key: no old image. FULL: the whole old row.
        ["Update", items.name, row(1, "uno", big), null, null],
        ["Delete", items.name, { id: "2" }, null],
        ["Update", audit.name, row(1, "b", "-10"), null, row(1, "a", "10")],
        ["Delete", audit.name, null, row(1, "b", "-10")],
        ["Commit"],
        // The rolled-back transaction is not decoded at all.
        ["Message", false, "conf", "outside a transaction"],
        ["Begin"],
        ["Message", true, "conf", "inside"],
        ["Insert", items.name, row(4, 'it\'s "quoted"', null)],
        ["Commit"],
        // PostgreSQL 14 sends a transaction without published changes as Begin/Commit; 15 and later skip it.
        ...(backend.serverVersion < 150000 ? [["Begin"], ["Commit"]] : []),
        ...series,
        ["StreamCommit"],
        // The aborted streamed transaction: nothing (see Observe.ts on why it is dropped).
        ["Begin"],
        ["Truncate", [audit.name, items.name].sort(), false, false],
        ["Commit"],
        ["Begin"],
        ["Insert", items.name, row(99, "last", "99")],
        ["Commit"]
      ]
      yield* expectEqual(backend, name, "The normalised stream", observed.events, expected)
      yield* expectEqual(backend, name, "Tables changed before their Relation", observed.changedBeforeRelation, [])
      yield* expectEqual(
        backend,
        name,
        "The Relation messages",
        [...observed.relations].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        [
          // With REPLICA IDENTITY FULL every column is part of the identity.
          [
            `public.${audit.name}`,
            "f",
            [
              ["id", 23, true],
              ["v", 25, true],
              ["n", 20, true]
            ]
          ],
          [
            `public.${items.name}`,
            "d",
            [
              ["id", 23, true],
              ["v", 25, false],
              ["n", 20, false]
            ]
          ]
        ]
      )
      // The exact int8 survives as a bigint (not a rounded number).
      const update = messages.find((m) => m._tag === "Update" && m.table.name === items.name)
      yield* expectThat(
        backend,
        name,
        "int8 9007199254740993 decoded exactly as a bigint",
        update?._tag === "Update" && update.new.n === 9007199254740993n
      )
      // Positions only grow: each Commit's LSN is above the one before.
      const lsns = commits(messages)
      yield* expectThat(
        backend,
        name,
        `Commit LSNs increase (${lsns.map(Lsn.format).join(", ")})`,
        lsns.every((l, i) => i === 0 || l > lsns[i - 1]!)
      )
    })
}

const commitCase: ConformanceCase = {
  name: "commit confirms exactly the committed transaction; a restart resumes after it",
  run: (backend) =>
    Effect.gen(function* () {
      const name = commitCase.name
      const items = itemsTable("conf_commit_items")
      const slot = "conf_commit"
      const options = { slot, publications: ["conf_commit_pub"] }
      yield* backend.setup({ slot, publication: "conf_commit_pub", tables: [items] })
      for (const id of [1, 2, 3]) yield* backend.transaction({ ops: [ins(items, row(id, `tx${id}`, null))] })

      const first = yield* Effect.scoped(
        Effect.gen(function* () {
          const replication = yield* replicate(backend, options)
          const messages = yield* collect(replication.stream, untilInsertCommitted(3))
          const [a] = commits(messages)
          yield* replication.commit(a!)
          // Monotonic: an older LSN changes nothing.
          yield* replication.commit(Lsn.zero)
          return commits(messages)
        })
      )
      yield* expectEqual(backend, name, "Transactions received", first.length, 3)
      // Received changes are uncommitted, so the server's walEnd must not be confirmed: exactly the commit.
      const confirmed = yield* backend.confirmedFlush(slot)
      yield* expectEqual(
        backend,
        name,
        "confirmed_flush_lsn after committing the first",
        Lsn.format(confirmed),
        Lsn.format(first[0]!)
      )

      const second = yield* Effect.scoped(
        Effect.gen(function* () {
          const replication = yield* replicate(backend, options)
          const messages = yield* collect(replication.stream, untilInsertCommitted(3))
          const last = commits(messages).at(-1)!
          yield* replication.commit(last)
          return messages
        })
      )
      yield* expectEqual(
        backend,
        name,
        "Inserts after the restart",
        observe([items], second).events.filter((e) => e[0] === "Insert"),
        [
          ["Insert", items.name, row(2, "tx2", null)],
          ["Insert", items.name, row(3, "tx3", null)]
        ]
      )
      yield* expectEqual(
        backend,
        name,
        "Commit LSNs resent",
        commits(second).map(Lsn.format),
        first.slice(1).map(Lsn.format)
      )
      // Everything received is committed now: the position may move past the commit (an idle keepalive's walEnd),
      // never before it.
      const after = yield* backend.confirmedFlush(slot)
      yield* expectThat(
        backend,
        name,
        `confirmed_flush_lsn ${Lsn.format(after)} at or after the last commit ${Lsn.format(first[2]!)}`,
        after >= first[2]!
      )
    })
}

const resumeCase: ConformanceCase = {
  name: "after a dropped connection the service resumes after what it handed out: nothing lost or repeated",
  run: (backend) =>
    Effect.gen(function* () {
      const name = resumeCase.name
      const items = itemsTable("conf_resume_items")
      const slot = "conf_resume"
      yield* backend.setup({ slot, publication: "conf_resume_pub", tables: [items] })
      yield* backend.transaction({ ops: [ins(items, row(1, "a", null))] })
      yield* backend.transaction({ ops: [ins(items, row(2, "b", null))] })
      const replication = yield* replicate(backend, { slot, publications: ["conf_resume_pub"] })
      let commitsSeen = 0
      const messages = yield* replication.stream.pipe(
        Stream.tap((m) =>
          Effect.gen(function* () {
            if (m._tag !== "Commit") return
            commitsSeen++
            // Commit the first transaction; lose the connection after the second is handed out, uncommitted.
            if (commitsSeen === 1) yield* replication.commit(WalMessage.lsnToConfirm(m))
            if (commitsSeen === 2) {
              yield* backend.dropReplicationConnections(slot)
              yield* backend.transaction({ ops: [ins(items, row(3, "c", null))] })
            }
          })
        ),
        Stream.takeUntil(untilInsertCommitted(3)),
        Stream.runCollect,
        Effect.map((c) => Array.from(c))
      )
      const inserts = observe([items], messages, new Set(sessionStartsOf(messages))).events.filter(
        (e) => e[0] === "Insert"
      )
      yield* expectEqual(backend, name, "Inserts across the reconnect", inserts, [
        ["Insert", items.name, row(1, "a", null)],
        // The second transaction was handed out (though not committed) before the drop: the new session starts
        // after it, so nothing is repeated within the process. (A restart of the process would start from the
        // slot, at the first commit, and get it again.)
        ["Insert", items.name, row(2, "b", null)],
        ["Insert", items.name, row(3, "c", null)]
      ])
      const status = yield* replication.status
      // One reconnect (more attempts only if the old walsender still held the slot).
      yield* expectThat(backend, name, `Sessions: ${status.sessions}, expected at least 2`, status.sessions >= 2)
    })
}

/** Indexes where a new session's messages start: a transaction whose LSN is not above the previous one. */
const sessionStartsOf = (messages: ReadonlyArray<WalMessage>): ReadonlyArray<number> => {
  const out: Array<number> = []
  let last = -1n
  messages.forEach((m, i) => {
    if (m._tag === "Begin") {
      if (m.finalLsn <= last) out.push(i)
      last = m.finalLsn
    }
  })
  return out
}

export const cases: ReadonlyArray<ConformanceCase> = [
  workloadCase,
  commitCase,
  resumeCase,
  publishCase,
  columnListCase,
  rowFilterCase,
  ...snapshotCases,
  ...backfillCases,
  ...heartbeatCases
]

/** Runs every case against the backend, one after another, each in its own scope. */
export const runAll = (backend: Backend): Effect.Effect<void, CaseError> =>
  Effect.forEach(cases, (c) => Effect.scoped(c.run(backend)), { discard: true })

export const Conformance = { cases, runAll, replicate } as const
