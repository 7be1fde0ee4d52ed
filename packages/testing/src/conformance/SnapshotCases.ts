/**
 * Conformance cases of the initial snapshot (`snapshot: "initial" | "when_needed"`), run the same on the fake and on
 * PostgreSQL (see Conformance.ts): every row committed before the snapshot's consistent point arrives as a `Read`,
 * every change after it as the stream, with a writer committing on both sides of the point; the slot exists only once
 * the consumer committed SnapshotComplete; column lists and row filters shape the snapshot as they shape the stream;
 * an existing slot is streamed from (`when_needed`) or refused (`initial`); and a snapshot whose exporting session dies
 * before it is confirmed, or even before its sessions import it, fails with reason Snapshot.
 *
 * A writer "during" the snapshot commits after the temporary slot exists and before the snapshot's sessions connect
 * (`replicate`'s `beforeSql` gate), so the case does not depend on timing. It deliberately leaves the snapshot's
 * internals (chunks, sessions) to the replication package's own tests.
 */
import { WalMessage } from "@pgcdc/replication"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type { Row, TableSpec } from "../simulation/Backend.ts"
import { Tables } from "../simulation/Model.ts"
import { rowFromDecoded } from "../simulation/Rows.ts"
import {
  type ConformanceCase,
  collect,
  expectEqual,
  expectThat,
  ins,
  itemsTable,
  replicate,
  row,
  untilInsertCommitted
} from "./Case.ts"
import { type Event, observe, snapshotOf } from "./Observe.ts"

const upd = (table: TableSpec, r: Row) => ({ _tag: "Update" as const, table: table.name, row: r })
const del = (table: TableSpec, id: number) => ({ _tag: "Delete" as const, table: table.name, key: { id: String(id) } })

/** The Relation of each table in the stream, as `[name, replicaIdentity, [[column, typeOid, isKey], ...]]`. */
const tableShape = (t: {
  readonly name: string
  readonly replicaIdentity: string
  readonly columns: ReadonlyArray<{ readonly name: string; readonly typeOid: number; readonly isKey: boolean }>
}) => [t.name, t.replicaIdentity, t.columns.map((c) => [c.name, c.typeOid, c.isKey])]

const changes = (events: ReadonlyArray<Event>) =>
  events.filter((e) => e[0] === "Insert" || e[0] === "Update" || e[0] === "Delete" || e[0] === "Truncate")

export const initialSnapshotCase: ConformanceCase = {
  name: "initial snapshot: rows before the consistent point as Read, changes after it as the stream; the slot once confirmed",
  run: (backend) =>
    Effect.gen(function* () {
      const name = initialSnapshotCase.name
      const items = itemsTable("conf_snap_items")
      const audit = itemsTable("conf_snap_audit", "full")
      const slot = "conf_snap"
      yield* backend.setup({ slot, createSlot: false, publication: "conf_snap_pub", tables: [items, audit] })
      // Before the snapshot: inserts, an update, a delete, a rolled-back transaction.
      yield* backend.transaction({
        ops: [1, 2, 3, 4, 5].map((id) => ins(items, row(id, `v${id}`, String(id * 10))))
      })
      yield* backend.transaction({ ops: [ins(audit, row(1, "a", null)), ins(audit, row(2, "b", "-2"))] })
      yield* backend.transaction({ ops: [upd(items, row(5, "five", "55")), del(items, 4)] })
      yield* backend.transaction({ ops: [ins(items, row(9, "rolled back", null))], rollback: true })

      const gate = yield* Deferred.make<void>()
      const replication = yield* replicate(
        backend,
        { slot, publications: ["conf_snap_pub"], snapshot: "initial" },
        { beforeSql: Deferred.await(gate) }
      )
      // The temporary slot exists: these commit after the consistent point, before any row is read.
      yield* backend.transaction({
        ops: [upd(items, row(1, "one", "11")), del(items, 2), ins(items, row(6, "six", null))]
      })
      yield* backend.transaction({ ops: [upd(audit, row(2, "b2", "-3"))] })
      yield* Deferred.succeed(gate, undefined)

      const snapshot = yield* collect(replication.stream, (m) => m._tag === "SnapshotComplete")
      const tables = [items, audit]
      yield* expectEqual(backend, name, "The snapshot", snapshotOf(observe(tables, snapshot).events).snapshot, [
        ["SnapshotBegin", audit.name],
        ["Read", audit.name, row(1, "a", null)],
        ["Read", audit.name, row(2, "b", "-2")],
        ["SnapshotEnd", audit.name, 2],
        ["SnapshotBegin", items.name],
        ["Read", items.name, row(1, "v1", "10")],
        ["Read", items.name, row(2, "v2", "20")],
        ["Read", items.name, row(3, "v3", "30")],
        ["Read", items.name, row(5, "five", "55")],
        ["SnapshotEnd", items.name, 4],
        ["SnapshotComplete", 2, 6]
      ])
      yield* expectEqual(
        backend,
        name,
        "The permanent slot before SnapshotComplete is committed",
        yield* backend.slotExists(slot),
        false
      )
      const complete = snapshot.at(-1)!
      yield* replication.commit(WalMessage.lsnToConfirm(complete)!)
      yield* backend.awaitSlot(slot)
      yield* backend.transaction({ ops: [ins(items, row(7, "seven", "70")), upd(items, row(3, "three", null))] })
      const stream = yield* collect(replication.stream, untilInsertCommitted(7))
      yield* expectEqual(
        backend,
        name,
        "The changes after the consistent point",
        changes(observe(tables, stream).events),
        [
          ["Update", items.name, row(1, "one", "11"), null, null],
          ["Delete", items.name, { id: "2" }, null],
          ["Insert", items.name, row(6, "six", null)],
          ["Update", audit.name, row(2, "b2", "-3"), null, row(2, "b", "-2")],
          ["Insert", items.name, row(7, "seven", "70")],
          ["Update", items.name, row(3, "three", null), null, null]
        ]
      )
      // The snapshot describes each table exactly as the stream's Relation message does.
      const begins = snapshot.flatMap((m) => (m._tag === "SnapshotBegin" ? [tableShape(m.table)] : []))
      // PostgreSQL may describe a table again (after an invalidation): each shape once.
      const relations = [
        ...new Map(
          stream.flatMap((m) => (m._tag === "Relation" ? [tableShape(m.table)] : [])).map((r) => [JSON.stringify(r), r])
        ).values()
      ]
      // Both tables changed after the snapshot, so the stream described both.
      yield* expectEqual(
        backend,
        name,
        "SnapshotBegin's table and the stream's Relation",
        [...begins].sort(),
        [...relations].sort()
      )
      const consistentPoint = complete._tag === "SnapshotComplete" ? complete.consistentPoint : undefined
      const firstBegin = stream.find((m) => m._tag === "Begin")
      yield* expectThat(
        backend,
        name,
        "The first transaction after the snapshot commits after its consistent point",
        consistentPoint !== undefined && firstBegin?._tag === "Begin" && firstBegin.finalLsn >= consistentPoint
      )
      // Read and then applied, the snapshot and the stream rebuild the tables: no row lost or repeated at the point.
      const replica = new Tables(tables)
      for (const m of [...snapshot, ...stream]) {
        if (m._tag === "Read" || m._tag === "Insert" || m._tag === "Update") {
          replica.upsert(m.table.name, rowFromDecoded(replica.spec(m.table.name), m.new))
        } else if (m._tag === "Delete") {
          replica.remove(m.table.name, rowFromDecoded(replica.spec(m.table.name), (m.key ?? m.old)!))
        }
      }
      yield* expectEqual(
        backend,
        name,
        "The replica",
        [replica.rows(items.name), replica.rows(audit.name)],
        [
          [
            row(1, "one", "11"),
            row(3, "three", null),
            row(5, "five", "55"),
            row(6, "six", null),
            row(7, "seven", "70")
          ],
          [row(1, "a", null), row(2, "b2", "-3")]
        ]
      )
    })
}

export const snapshotShapeCase: ConformanceCase = {
  name: "column lists and row filters (PostgreSQL 15 and later) shape the snapshot as they shape the stream",
  run: (backend) =>
    Effect.gen(function* () {
      if (backend.serverVersion < 150000) return
      const name = snapshotShapeCase.name
      const items = itemsTable("conf_snapshape_items")
      const slot = "conf_snapshape"
      const sent: TableSpec = { ...items, columns: items.columns.filter((c) => c.name !== "n") }
      yield* backend.setup({
        slot,
        createSlot: false,
        publication: "conf_snapshape_pub",
        tables: [items],
        columns: { [items.name]: ["id", "v"] },
        rowFilters: { [items.name]: "id > 3 AND id <> 5" },
        // ORed with the first: a second publication with the same column list and its own filter.
        more: [
          {
            publication: "conf_snapshape_low",
            columns: { [items.name]: ["v", "id"] },
            rowFilters: { [items.name]: "id < 2" }
          }
        ]
      })
      yield* backend.transaction({
        ops: [1, 2, 4, 5, 6, 7].map((id) => ins(items, row(id, `v${id}`, String(id))))
      })
      const replication = yield* replicate(backend, {
        slot,
        publications: ["conf_snapshape_pub", "conf_snapshape_low"],
        snapshot: "initial"
      })
      const snapshot = yield* collect(replication.stream, (m) => m._tag === "SnapshotComplete")
      yield* expectEqual(backend, name, "The snapshot", snapshotOf(observe([sent], snapshot).events).snapshot, [
        ["SnapshotBegin", items.name],
        ["Read", items.name, { id: "1", v: "v1" }],
        ["Read", items.name, { id: "4", v: "v4" }],
        ["Read", items.name, { id: "6", v: "v6" }],
        ["Read", items.name, { id: "7", v: "v7" }],
        ["SnapshotEnd", items.name, 4],
        ["SnapshotComplete", 1, 4]
      ])
      yield* replication.commit(WalMessage.lsnToConfirm(snapshot.at(-1)!)!)
      yield* backend.transaction({
        ops: [
          ins(items, row(8, "v8", "8")),
          ins(items, row(3, "filtered out", "3")),
          upd(items, row(4, "four", "4")),
          del(items, 1),
          ins(items, row(9, "last", "9"))
        ]
      })
      const stream = yield* collect(replication.stream, untilInsertCommitted(9))
      yield* expectEqual(backend, name, "The stream", changes(observe([sent], stream).events), [
        ["Insert", items.name, { id: "8", v: "v8" }],
        ["Update", items.name, { id: "4", v: "four" }, null, null],
        ["Delete", items.name, { id: "1" }, null],
        ["Insert", items.name, { id: "9", v: "last" }]
      ])
      const begin = snapshot.find((m) => m._tag === "SnapshotBegin")
      const relation = stream.find((m) => m._tag === "Relation")
      yield* expectEqual(
        backend,
        name,
        "SnapshotBegin's table and the stream's Relation",
        begin?._tag === "SnapshotBegin" ? tableShape(begin.table) : undefined,
        relation?._tag === "Relation" ? tableShape(relation.table) : "no Relation"
      )
    })
}

export const whenNeededCase: ConformanceCase = {
  name: "when_needed with an existing slot streams from it without a snapshot; initial refuses it (AlreadyExists)",
  run: (backend) =>
    Effect.gen(function* () {
      const name = whenNeededCase.name
      const items = itemsTable("conf_needed_items")
      const slot = "conf_needed"
      const options = { slot, publications: ["conf_needed_pub"] }
      // The slot exists before any row: every row comes as a change.
      yield* backend.setup({ slot, publication: "conf_needed_pub", tables: [items] })
      yield* backend.transaction({ ops: [ins(items, row(1, "a", null)), ins(items, row(2, "b", null))] })
      const messages = yield* Effect.scoped(
        Effect.flatMap(replicate(backend, { ...options, snapshot: "when_needed" }), (r) =>
          collect(r.stream, untilInsertCommitted(2))
        )
      )
      yield* expectEqual(backend, name, "The messages", observe([items], messages).events, [
        ["Begin"],
        ["Insert", items.name, row(1, "a", null)],
        ["Insert", items.name, row(2, "b", null)],
        ["Commit"]
      ])
      const refused = yield* Effect.scoped(Effect.result(replicate(backend, { ...options, snapshot: "initial" })))
      yield* expectEqual(
        backend,
        name,
        "snapshot initial with an existing slot",
        Result.isFailure(refused)
          ? typeof refused.failure.reason === "string"
            ? refused.failure.reason
            : refused.failure.reason._tag
          : "started",
        "AlreadyExists"
      )
    })
}

export const snapshotLostCase: ConformanceCase = {
  name: "a snapshot whose exporting session dies before it is confirmed fails with reason Snapshot, and leaves no slot",
  run: (backend) =>
    Effect.gen(function* () {
      const name = snapshotLostCase.name
      const items = itemsTable("conf_snaplost_items")
      const slot = "conf_snaplost"
      yield* backend.setup({ slot, createSlot: false, publication: "conf_snaplost_pub", tables: [items] })
      yield* backend.transaction({ ops: [ins(items, row(1, "a", null))] })
      const replication = yield* replicate(backend, { slot, publications: ["conf_snaplost_pub"], snapshot: "initial" })
      const snapshot = yield* collect(replication.stream, (m) => m._tag === "SnapshotComplete")
      yield* expectThat(
        backend,
        name,
        "The snapshot was read",
        snapshot.some((m) => m._tag === "Read")
      )
      // Every row is read, nothing confirmed: the walsender holding the temporary slot (and streaming from it) dies.
      yield* backend.dropTemporarySlotSessions
      const ended = yield* Effect.result(Stream.runDrain(replication.stream))
      yield* expectEqual(
        backend,
        name,
        "How the stream ends",
        Result.isFailure(ended) ? ended.failure.reason._tag : "it ended without an error",
        "Snapshot"
      )
      yield* expectEqual(backend, name, "The slot", yield* backend.slotExists(slot), false)
    })
}

export const snapshotImportLostCase: ConformanceCase = {
  name: "a snapshot whose exporting walsender dies before its sessions import it fails with reason Snapshot",
  run: (backend) =>
    Effect.gen(function* () {
      const name = snapshotImportLostCase.name
      const items = itemsTable("conf_snapgone_items")
      const slot = "conf_snapgone"
      yield* backend.setup({ slot, createSlot: false, publication: "conf_snapgone_pub", tables: [items] })
      yield* backend.transaction({ ops: [ins(items, row(1, "a", null))] })
      // The snapshot's sessions wait at the gate: the exported snapshot is not imported yet.
      const gate = yield* Deferred.make<void>()
      const replication = yield* replicate(
        backend,
        { slot, publications: ["conf_snapgone_pub"], snapshot: "initial" },
        { beforeSql: Deferred.await(gate) }
      )
      // The walsender that exported it (and holds the temporary slot) dies; then the sessions try to import it.
      yield* backend.dropTemporarySlotSessions
      yield* Deferred.succeed(gate, undefined)
      const ended = yield* Effect.result(Stream.runDrain(replication.stream))
      yield* expectEqual(
        backend,
        name,
        "How the stream ends (reason, and the SQLSTATE of the import: 22023 before PostgreSQL 17, 42704 from 17)",
        Result.isFailure(ended) ? [ended.failure.reason._tag, ended.failure.code] : "it ended without an error",
        ["Snapshot", backend.serverVersion >= 170000 ? "42704" : "22023"]
      )
      yield* expectEqual(backend, name, "The slot", yield* backend.slotExists(slot), false)
    })
}

export const snapshotCases: ReadonlyArray<ConformanceCase> = [
  initialSnapshotCase,
  snapshotShapeCase,
  whenNeededCase,
  snapshotLostCase,
  snapshotImportLostCase
]
