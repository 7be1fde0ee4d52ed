/**
 * Conformance cases for what a publication decides beyond its tables (PostgreSQL 15 and later for two of them): its
 * `publish` option, column lists and row filters. Each runs one workload and compares the stream with one
 * expectation, on the fake and on a real server alike (see Conformance.ts).
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { TableSpec } from "../simulation/Backend.ts"
import {
  type ConformanceCase,
  collect,
  expectEqual,
  ins,
  itemsTable,
  replicate,
  row,
  untilInsertCommitted
} from "./Case.ts"
import { observe } from "./Observe.ts"

export const publishCase: ConformanceCase = {
  name: "a publication's publish option: only the kinds of change it lists reach the stream",
  run: (backend) =>
    Effect.gen(function* () {
      const name = publishCase.name
      const items = itemsTable("conf_publish_items")
      const slot = "conf_publish"
      yield* backend.setup({ slot, publication: "conf_publish_pub", tables: [items], publish: ["insert", "delete"] })
      yield* backend.transaction({ ops: [ins(items, row(1, "a", null)), ins(items, row(2, "b", null))] })
      // Every transaction keeps a published change: whether an emptied one is sent differs by server version.
      yield* backend.transaction({
        ops: [{ _tag: "Update", table: items.name, row: row(1, "a2", "7") }, ins(items, row(4, "d", null))]
      })
      yield* backend.transaction({
        ops: [{ _tag: "Delete", table: items.name, key: { id: "2" } }, ins(items, row(3, "c", null))]
      })
      const messages = yield* Effect.scoped(
        Effect.gen(function* () {
          const replication = yield* replicate(backend, { slot, publications: ["conf_publish_pub"] })
          return yield* collect(replication.stream, untilInsertCommitted(3))
        })
      )
      yield* expectEqual(
        backend,
        name,
        "Changes received",
        observe([items], messages).events.filter((e) => e[0] === "Insert" || e[0] === "Update" || e[0] === "Delete"),
        [
          ["Insert", items.name, row(1, "a", null)],
          ["Insert", items.name, row(2, "b", null)],
          ["Insert", items.name, row(4, "d", null)],
          ["Delete", items.name, { id: "2" }, null],
          ["Insert", items.name, row(3, "c", null)]
        ]
      )
    })
}

export const columnListCase: ConformanceCase = {
  name: "column lists (PostgreSQL 15 and later): only the listed columns are sent; publications that disagree end the stream",
  run: (backend) =>
    Effect.gen(function* () {
      // PostgreSQL 14 has no column lists: there is nothing to compare there.
      if (backend.serverVersion < 150000) return
      const name = columnListCase.name
      const items = itemsTable("conf_columns_items")
      const slot = "conf_columns"
      yield* backend.setup({
        slot,
        publication: "conf_columns_pub",
        tables: [items],
        columns: { [items.name]: ["id", "v"] },
        more: [
          // The same columns in another order: the same list.
          { publication: "conf_columns_same", columns: { [items.name]: ["v", "id"] } },
          { publication: "conf_columns_other", columns: { [items.name]: ["id", "n"] } }
        ]
      })
      yield* backend.transaction({ ops: [ins(items, row(1, "a", "10"))] })
      yield* backend.transaction({
        ops: [
          { _tag: "Update", table: items.name, row: row(1, "a2", "20") },
          { _tag: "Delete", table: items.name, key: { id: "1" } },
          ins(items, row(2, "b", "30"))
        ]
      })
      const messages = yield* Effect.scoped(
        Effect.gen(function* () {
          const replication = yield* replicate(backend, {
            slot,
            publications: ["conf_columns_pub", "conf_columns_same"]
          })
          return yield* collect(replication.stream, untilInsertCommitted(2))
        })
      )
      const relation = messages.find((m) => m._tag === "Relation")
      yield* expectEqual(
        backend,
        name,
        "Relation columns",
        relation?._tag === "Relation" ? relation.table.columns.map((c) => c.name) : undefined,
        ["id", "v"]
      )
      const sent: TableSpec = { ...items, columns: items.columns.filter((c) => c.name !== "n") }
      yield* expectEqual(
        backend,
        name,
        "Changes received",
        observe([sent], messages).events.filter((e) => e[0] === "Insert" || e[0] === "Update" || e[0] === "Delete"),
        [
          ["Insert", items.name, { id: "1", v: "a" }],
          ["Update", items.name, { id: "1", v: "a2" }, null, null],
          ["Delete", items.name, { id: "1" }, null],
          ["Insert", items.name, { id: "2", v: "b" }]
        ]
      )
      const second = yield* Effect.scoped(
        Effect.gen(function* () {
          const replication = yield* replicate(backend, {
            slot,
            publications: ["conf_columns_pub", "conf_columns_other"]
          })
          return yield* Effect.result(collect(replication.stream, untilInsertCommitted(2)))
        })
      )
      const conflict = `cannot use different column lists for table "public.${items.name}" in different publications`
      yield* expectEqual(
        backend,
        name,
        "How a session whose publications disagree ends",
        Result.isFailure(second)
          ? [second.failure.reason._tag, second.failure.code, second.failure.message.includes(conflict)]
          : "the stream delivered the changes",
        // SQLSTATE 0A000 (feature_not_supported) is what pgcdc reports as UnsupportedOption.
        ["UnsupportedOption", "0A000", true]
      )
    })
}

export const rowFilterCase: ConformanceCase = {
  name: "row filters (PostgreSQL 15 and later): only passing rows; an update across the filter arrives as an insert or a delete",
  run: (backend) =>
    Effect.gen(function* () {
      // PostgreSQL 14 has no row filters: there is nothing to compare there.
      if (backend.serverVersion < 150000) return
      const name = rowFilterCase.name
      // REPLICA IDENTITY FULL: a filter on a column outside the key needs the whole old row.
      const items = itemsTable("conf_filter_items", "full")
      const slot = "conf_filter"
      yield* backend.setup({
        slot,
        publication: "conf_filter_pub",
        tables: [items],
        rowFilters: { [items.name]: "n > 100 AND v <> 'skip'" },
        more: [
          { publication: "conf_filter_any" },
          { publication: "conf_filter_in", rowFilters: { [items.name]: "v IN ('x', 'y') OR n IS NULL" } }
        ]
      })
      const update = (id: number, v: string, n: string | null) => ({
        _tag: "Update" as const,
        table: items.name,
        row: row(id, v, n)
      })
      yield* backend.transaction({ ops: [ins(items, row(1, "a", "50")), ins(items, row(2, "b", "150"))] })
      yield* backend.transaction({ ops: [update(1, "a", "200"), update(2, "b", "10")] })
      yield* backend.transaction({ ops: [update(1, "a2", "200"), ins(items, row(3, "x", null))] })
      yield* backend.transaction({
        ops: [
          { _tag: "Delete", table: items.name, key: { id: "1" } },
          { _tag: "Delete", table: items.name, key: { id: "2" } },
          ins(items, row(4, "skip", "500")),
          ins(items, row(5, "e", "101"))
        ]
      })
      const session = (publications: ReadonlyArray<string>) =>
        Effect.scoped(
          Effect.gen(function* () {
            const replication = yield* replicate(backend, { slot, publications })
            const messages = yield* collect(replication.stream, untilInsertCommitted(5))
            return observe([items], messages).events.filter(
              (e) => e[0] === "Insert" || e[0] === "Update" || e[0] === "Delete"
            )
          })
        )
      yield* expectEqual(backend, name, "Changes through the filter", yield* session(["conf_filter_pub"]), [
        ["Insert", items.name, row(2, "b", "150")],
        // 1 enters the filter (n 50 → 200): an insert of the new row; 2 leaves it (n 150 → 10): a delete of the old.
        ["Insert", items.name, row(1, "a", "200")],
        ["Delete", items.name, null, row(2, "b", "150")],
        ["Update", items.name, row(1, "a2", "200"), null, row(1, "a", "200")],
        ["Delete", items.name, null, row(1, "a2", "200")],
        ["Insert", items.name, row(5, "e", "101")]
      ])
      // Filters of several publications are ORed; a publication without one lets every row through.
      yield* expectEqual(
        backend,
        name,
        "Changes through two filters",
        yield* session(["conf_filter_pub", "conf_filter_in"]),
        [
          ["Insert", items.name, row(2, "b", "150")],
          ["Insert", items.name, row(1, "a", "200")],
          ["Delete", items.name, null, row(2, "b", "150")],
          ["Update", items.name, row(1, "a2", "200"), null, row(1, "a", "200")],
          ["Insert", items.name, row(3, "x", null)],
          ["Delete", items.name, null, row(1, "a2", "200")],
          ["Insert", items.name, row(5, "e", "101")]
        ]
      )
      const everything = yield* session(["conf_filter_pub", "conf_filter_any"])
      yield* expectEqual(backend, name, "Changes with a publication without a filter", everything.length, 10)
    })
}
