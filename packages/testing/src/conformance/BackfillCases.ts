/**
 * Conformance cases of backfills (`Replication.backfill`, and a `pgcdc.signal` message), run the same on the fake
 * and on PostgreSQL (see Conformance.ts): a backfill while a writer commits, a backfill cancelled mid-table, and one
 * started by a signal.
 *
 * The writer commits at chosen points of the backfill's protocol, not at random moments: `replicate`'s
 * `beforeStatement` hook sees the backfill session's statements, and before a chunk's COPY (after its low watermark)
 * and before its high watermark it writes to rows of that chunk. So every chunk holds a row the stream changed after
 * the COPY read it (which must not come as a Read), one deleted after (which must not come back), and one changed
 * before it (read new, and changed in the window all the same); and the next chunk's last row changes between two
 * chunks, outside any window (its Read must be the new version), on every backend and every run. The rows are versioned
 * (Versioned.ts): a Read older than a change already handed out shows. It deliberately leaves chunk sizes, resuming
 * and the desk's internals to the replication package's own tests, and crashes to the simulation.
 */
import type { ReplicationShape, WalMessage } from "@pgcdc/replication"
import { WalMessage as Messages } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Backend, Op, TableSpec } from "../simulation/Backend.ts"
import {
  type CaseError,
  type ConformanceCase,
  ConformanceError,
  collect,
  commits,
  expectEqual,
  expectThat,
  replicate,
  untilInsertCommitted
} from "./Case.ts"
import { byKey, VersionedReplica, VersionedRows, versionedTable } from "./Versioned.ts"

/** More messages than any case needs: a backfill that never ends fails the case instead of hanging it. */
const messageLimit = 5000

/**
 * Hands each message to `on` and commits each Commit once `on` is done with it (so `on` runs before the consumer has
 * committed the transaction), until `on` says to stop after the message.
 */
const drive = (
  backend: Backend,
  name: string,
  replication: ReplicationShape,
  on: (m: WalMessage) => Effect.Effect<boolean, CaseError>
) => {
  let count = 0
  const fail = (message: string) => new ConformanceError({ backend: backend.name, case: name, message })
  const consume = replication.stream.pipe(
    Stream.runForEachWhile((m) =>
      Effect.gen(function* () {
        if (++count > messageLimit) {
          return yield* fail(
            `${messageLimit} messages handed out and the case's end not among them (a backfill that never ends?)`
          )
        }
        const stop = yield* on(m)
        if (m._tag === "Commit") yield* replication.commit(Messages.lsnToConfirm(m))
        return !stop
      })
    )
  )
  // A stream that stops short of the end fails the case when the backend gives up waiting (no clock on the fake).
  const givenUp = Effect.andThen(
    Effect.ignore(backend.eventually("never", Effect.succeed(false))),
    Effect.suspend(() => Effect.fail(fail(`the stream stopped after ${count} messages, short of the case's end`)))
  )
  return Effect.raceFirst(consume, givenUp)
}

/**
 * Applies the stream to the replica until a backfill's BackfillEnd, then writes row `marker` and goes on until its
 * Commit, so that every change before the end is applied; returns what was handed out.
 */
const applyPastBackfill = (
  backend: Backend,
  name: string,
  replication: ReplicationShape,
  replica: VersionedReplica,
  table: VersionedRows,
  marker: number
) =>
  Effect.gen(function* () {
    const handed: Array<WalMessage> = []
    let ended = false
    yield* drive(backend, name, replication, (m) =>
      Effect.gen(function* () {
        handed.push(m)
        replica.apply(m)
        if (m._tag === "BackfillEnd") {
          ended = true
          yield* backend.transaction({ ops: [table.insert(marker)] })
        }
        return ended && m._tag === "Commit" && replica.rows.has(String(marker))
      })
    )
    return handed
  })

/** Rows 1 to `count` inserted, then taken as changes by a first consumer, which confirms them. */
const filledAndConfirmed = (backend: Backend, table: VersionedRows, slot: string, publication: string, count: number) =>
  Effect.gen(function* () {
    yield* backend.transaction({ ops: Array.from({ length: count }, (_, i) => table.insert(i + 1)) })
    const confirmed = yield* Effect.scoped(
      Effect.gen(function* () {
        const first = yield* replicate(backend, { slot, publications: [publication] })
        const lsn = commits(yield* collect(first.stream, untilInsertCommitted(count))).at(-1)!
        yield* first.commit(lsn)
        yield* first.flush
        return lsn
      })
    )
    yield* backend.eventually(
      "the slot's confirmed position",
      Effect.map(backend.confirmedFlush(slot), (lsn) => lsn >= confirmed)
    )
  })

const progressTable: TableSpec = {
  name: "pgcdc_backfills",
  columns: [
    { name: "id", type: "text", key: true },
    { name: "table_name", type: "text" },
    { name: "state", type: "text" }
  ]
}

/** The progress table's state of a backfill, once it is `state` (the runner records it after the consumer's commit). */
const awaitState = (backend: Backend, id: string, state: string) =>
  backend.eventually(
    `backfill ${id} recorded as ${state}`,
    Effect.map(backend.readTable === undefined ? Effect.succeed([]) : backend.readTable(progressTable), (rows) =>
      rows.some((r) => r.id === id && r.state === state)
    )
  )

const markers = (handed: ReadonlyArray<WalMessage>) =>
  handed.flatMap((m) =>
    m._tag === "BackfillBegin" || m._tag === "BackfillEnd"
      ? [[m._tag, m.id, m.table.name, m._tag === "BackfillEnd" ? [m.rows, m.cancelled] : null]]
      : []
  )

export const backfillWriterCase: ConformanceCase = {
  name: "a backfill while a writer commits: no Read behind a change already handed out, and the map equals the table",
  run: (backend) =>
    Effect.gen(function* () {
      const name = backfillWriterCase.name
      const items = versionedTable("conf_bf_items")
      const [slot, publication] = ["conf_bf", "conf_bf_pub"]
      const rowCount = 30
      const chunkSize = 4
      yield* backend.setup({ slot, publication, tables: [items] })
      const table = new VersionedRows(items)
      yield* filledAndConfirmed(backend, table, slot, publication, rowCount)

      // The writer, at two points of each chunk.
      let chunk: ReadonlyArray<number> = []
      let writes = 0
      const touched = new Set<number>()
      const write = (ops: ReadonlyArray<Op>) => {
        for (const op of ops)
          touched.add(
            Number(op._tag === "Delete" ? op.key.id : op._tag === "Insert" || op._tag === "Update" ? op.row.id : 0)
          )
        writes += ops.length
        return ops.length === 0 ? Effect.void : Effect.orDie(backend.transaction({ ops }))
      }
      const beforeStatement = (sql: string) =>
        Effect.suspend(() => {
          if (sql.startsWith("COPY (SELECT") && sql.includes(`"${items.name}"`)) {
            const after = /\("id"\) > \('(\d+)'\)/.exec(sql)?.[1]
            chunk = table
              .keys()
              .filter((k) => after === undefined || k > Number(after))
              .slice(0, chunkSize)
            // After the low watermark: the COPY reads the new version, the stream hands the change out before it.
            return write(chunk.length > 1 ? [table.update(chunk[1]!)] : [])
          }
          if (sql.includes("pgcdc:backfill-watermark") && sql.includes('"mark":"high"')) {
            // After the COPY: it holds the old version of the first row and a row deleted since. And the next chunk's
            // last row (which nothing changes in that chunk's window) changes now, before that chunk's low watermark:
            // its COPY must read the new version.
            const ops: Array<Op> = []
            const next = chunk.length === 0 ? undefined : table.keys().filter((k) => k > chunk.at(-1)!)[chunkSize - 1]
            if (chunk.length > 0) ops.push(table.update(chunk[0]!))
            if (chunk.length > 2) ops.push(table.delete(chunk[2]!))
            if (next !== undefined) ops.push(table.update(next))
            if (writes < 12) ops.push(table.insert(1000 + writes))
            return write(ops)
          }
          return Effect.void
        })

      // A new consumer of the slot: the rows come to it only by the backfill (and the writer's changes).
      const replica = new VersionedReplica(items)
      const replication = yield* replicate(backend, { slot, publications: [publication] }, { beforeStatement })
      const backfill = yield* replication.backfill(items.name, { chunkSize })
      const handed = yield* applyPastBackfill(backend, name, replication, replica, table, 999)
      const progress = yield* backfill.done

      yield* expectEqual(backend, name, "Reads behind a newer change of their row", replica.problems, [])
      yield* expectEqual(
        backend,
        name,
        "BackfillBegin and BackfillEnd",
        markers(handed).map((m) => [m[0], m[1], m[2]]),
        [
          ["BackfillBegin", backfill.id, items.name],
          ["BackfillEnd", backfill.id, items.name]
        ]
      )
      yield* expectEqual(backend, name, "The map", replica.sorted(), byKey(yield* backend.readTable!(items)))
      const untouched = Array.from({ length: rowCount }, (_, i) => i + 1).filter((id) => !touched.has(id))
      yield* expectEqual(
        backend,
        name,
        "How often each row the writer never touched came as a Read",
        untouched.map((id) => [id, replica.reads.get(String(id)) ?? 0]),
        untouched.map((id) => [id, 1])
      )
      yield* expectThat(
        backend,
        name,
        `The writer wrote in every chunk (${writes} writes, ${progress.chunks} chunks)`,
        progress.chunks >= Math.ceil(rowCount / chunkSize) && writes >= 2 * progress.chunks
      )
      yield* expectEqual(backend, name, "The backfill's state", progress.state, "done")
      yield* awaitState(backend, backfill.id, "done")
    })
}

export const backfillCancelCase: ConformanceCase = {
  name: "a backfill cancelled mid-table ends with BackfillEnd (cancelled), hands out nothing after, and is not resumed",
  run: (backend) =>
    Effect.gen(function* () {
      const name = backfillCancelCase.name
      const items = versionedTable("conf_bfcancel_items")
      const [slot, publication] = ["conf_bfcancel", "conf_bfcancel_pub"]
      const options = { slot, publications: [publication] }
      yield* backend.setup({ slot, publication, tables: [items] })
      const table = new VersionedRows(items)
      yield* filledAndConfirmed(backend, table, slot, publication, 20)
      const handed: Array<WalMessage> = []
      const untilInsertOf = (replication: ReplicationShape, id: number) => {
        let seen = false
        return drive(backend, name, replication, (m) =>
          Effect.sync(() => {
            handed.push(m)
            if (m._tag === "Insert" && m.new.id === id) seen = true
            return seen && m._tag === "Commit"
          })
        )
      }
      const id = yield* Effect.scoped(
        Effect.gen(function* () {
          const replication = yield* replicate(backend, options)
          const backfill = yield* replication.backfill(items.name, { chunkSize: 3 })
          let cancelled = false
          yield* drive(backend, name, replication, (m) =>
            Effect.gen(function* () {
              handed.push(m)
              // The first chunk is handed out; before its transaction is committed, the backfill is cancelled.
              if (m._tag === "Commit" && !cancelled && handed.some((h) => h._tag === "Read")) {
                cancelled = true
                yield* backfill.cancel
              }
              return m._tag === "BackfillEnd"
            })
          )
          const progress = yield* backfill.done
          yield* expectEqual(backend, name, "The backfill's state", progress.state, "cancelled")
          yield* backend.transaction({ ops: [table.insert(100)] })
          yield* untilInsertOf(replication, 100)
          return backfill.id
        })
      )
      yield* expectEqual(backend, name, "BackfillBegin and BackfillEnd", markers(handed), [
        ["BackfillBegin", id, items.name, null],
        ["BackfillEnd", id, items.name, [3, true]]
      ])
      const end = handed.findIndex((m) => m._tag === "BackfillEnd")
      yield* expectEqual(
        backend,
        name,
        "Reads before and after BackfillEnd",
        [handed.slice(0, end), handed.slice(end)].map((part) => part.filter((m) => m._tag === "Read").length),
        [3, 0]
      )
      yield* awaitState(backend, id, "cancelled")
      // The next start finds nothing running: no BackfillBegin again.
      handed.length = 0
      yield* Effect.scoped(
        Effect.gen(function* () {
          const replication = yield* replicate(backend, options)
          yield* backend.transaction({ ops: [table.insert(101)] })
          yield* untilInsertOf(replication, 101)
        })
      )
      yield* expectEqual(backend, name, "Backfill messages after a restart", markers(handed), [])
    })
}

export const backfillSignalCase: ConformanceCase = {
  name: "a pgcdc.signal message written by another session starts a backfill; the signal and watermarks stay hidden",
  run: (backend) =>
    Effect.gen(function* () {
      const name = backfillSignalCase.name
      const items = versionedTable("conf_bfsignal_items")
      const [slot, publication] = ["conf_bfsignal", "conf_bfsignal_pub"]
      yield* backend.setup({ slot, publication, tables: [items] })
      const table = new VersionedRows(items)
      yield* filledAndConfirmed(backend, table, slot, publication, 12)
      // With messages: true, any logical message the service did not hide would be handed out.
      const replication = yield* replicate(backend, { slot, publications: [publication], messages: true })
      const content = JSON.stringify({ backfill: { schema: "public", name: items.name }, chunkSize: 5 })
      yield* backend.transaction({ ops: [{ _tag: "Message", prefix: "pgcdc.signal", content }] })
      yield* backend.message("conf.visible", "a message of the application's")
      const replica = new VersionedReplica(items)
      const handed = yield* applyPastBackfill(backend, name, replication, replica, table, 100)
      const id = handed.find((m) => m._tag === "BackfillBegin")?.id ?? "none"
      yield* expectEqual(backend, name, "BackfillBegin and BackfillEnd", markers(handed), [
        ["BackfillBegin", id, items.name, null],
        ["BackfillEnd", id, items.name, [12, false]]
      ])
      yield* expectEqual(
        backend,
        name,
        "The Reads",
        [...replica.reads.entries()].sort((a, b) => Number(a[0]) - Number(b[0])),
        Array.from({ length: 12 }, (_, i) => [String(i + 1), 1])
      )
      yield* expectEqual(
        backend,
        name,
        "The logical messages handed out",
        handed.flatMap((m) => (m._tag === "Message" ? [m.prefix] : [])),
        ["conf.visible"]
      )
      yield* expectEqual(backend, name, "The map", replica.sorted(), byKey(yield* backend.readTable!(items)))
      yield* awaitState(backend, id, "done")
    })
}

export const backfillCases: ReadonlyArray<ConformanceCase> = [
  backfillWriterCase,
  backfillCancelCase,
  backfillSignalCase
]
