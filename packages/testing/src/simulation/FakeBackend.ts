/**
 * The fake server as a `Backend`: workload transactions become the fake driver's WAL writes, and the `Replication`
 * service connects over the fake's in-memory socket, so a run needs no port and no time (it works under TestClock).
 *
 * This backend keeps the current rows of each table to give the fake the old row images a real server would send
 * (REPLICA IDENTITY FULL). `readTable` reads the fake's own rows instead (what its committed WAL left, which an
 * initial snapshot reads), so the simulation compares them with its model as it compares a real server's tables. A
 * rolled-back transaction writes nothing (PostgreSQL decodes nothing of it either), except a streamed one, which the
 * fake sends as segments and a StreamAbort, as PostgreSQL does.
 */
import type { ConnectionConfig } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { connectionConfig } from "../fake/FakeConnection.ts"
import { FakePostgres, type FakePostgresOptions, type FakePostgresShape } from "../fake/FakePostgres.ts"
import { Change, type FakeChange, type FakeRow } from "../fake/Wal.ts"
import {
  type Backend,
  BackendError,
  type ColumnType,
  type Op,
  type Row,
  type SetupSpec,
  type TableSpec,
  type Transaction
} from "./Backend.ts"
import { keyOf, seriesRow } from "./Rows.ts"

const typeOids: Record<ColumnType, number> = { int4: 23, int8: 20, text: 25 }

export interface FakeBackend extends Backend {
  readonly fake: FakePostgresShape
}

const toFakeRow = (row: Row): FakeRow => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(row)) if (v !== null) out[k] = v
  return out
}

/** A fake server of its own (no listener) wrapped as a backend. */
export const make = (options: FakePostgresOptions = {}): Effect.Effect<FakeBackend, BackendError, Scope.Scope> =>
  Effect.gen(function* () {
    const fake = yield* FakePostgres.make({ listen: false, ...options }).pipe(
      Effect.mapError((e) => new BackendError({ backend: "fake", message: e.message, cause: e }))
    )
    return fromFake(fake)
  })

/** Wraps a fake server the caller made (its tables, slots and faults stay the caller's to use). */
export const fromFake = (fake: FakePostgresShape): FakeBackend => {
  const name = `fake ${fake.config.serverVersion}`
  const fail = (e: { readonly message: string }) => new BackendError({ backend: name, message: e.message, cause: e })
  const tables = new Map<string, { readonly spec: TableSpec; readonly rows: Map<string, Row> }>()

  const table = (n: string) => {
    const t = tables.get(n)
    if (t === undefined) throw new Error(`table ${n} is not set up`)
    return t
  }

  /** The fake changes for one op, applied to the backend's copy of the rows (for old images). */
  const changesOf = (op: Op, rows: Map<string, Map<string, Row>>): ReadonlyArray<FakeChange> => {
    const rowsOf = (n: string) => {
      let r = rows.get(n)
      if (r === undefined) {
        r = new Map(table(n).rows)
        rows.set(n, r)
      }
      return r
    }
    switch (op._tag) {
      case "Insert":
        rowsOf(op.table).set(keyOf(table(op.table).spec, op.row), op.row)
        return [Change.insert(op.table, toFakeRow(op.row))]
      case "Update": {
        const spec = table(op.table).spec
        const r = rowsOf(op.table)
        const key = keyOf(spec, op.row)
        const old = r.get(key)
        r.set(key, op.row)
        return [
          Change.update(
            op.table,
            toFakeRow(op.row),
            spec.replicaIdentity === "full" && old !== undefined ? toFakeRow(old) : undefined
          )
        ]
      }
      case "Delete": {
        const spec = table(op.table).spec
        const r = rowsOf(op.table)
        const key = keyOf(spec, op.key)
        const old = r.get(key)
        r.delete(key)
        return [Change.delete(op.table, toFakeRow(spec.replicaIdentity === "full" && old !== undefined ? old : op.key))]
      }
      case "Truncate":
        for (const t of op.tables) rowsOf(t).clear()
        return [Change.truncate(op.tables)]
      case "Message":
        return [Change.message(op.prefix, op.content)]
      case "InsertSeries": {
        const r = rowsOf(op.table)
        const spec = table(op.table).spec
        const out: Array<FakeChange> = []
        for (let i = 0; i < op.count; i++) {
          const row = seriesRow(op, i)
          r.set(keyOf(spec, row), row)
          out.push(Change.insert(op.table, toFakeRow(row)))
        }
        return out
      }
    }
  }

  const connection: ConnectionConfig = connectionConfig(fake)

  return {
    name,
    kind: "fake",
    serverVersion: fake.config.serverVersionNum,
    connection,
    // In memory a reconnect needs no delay, and none keeps runs under TestClock from waiting for the clock.
    replicationOptions: { reconnect: Schedule.recurs(20), statusInterval: "1 hour" },
    fake,
    setup: (spec: SetupSpec) =>
      Effect.gen(function* () {
        for (const t of [...spec.tables, ...(spec.unpublished ?? [])]) {
          yield* fake.defineTable({
            name: t.name,
            columns: t.columns.map((c) => ({ name: c.name, typeOid: typeOids[c.type], key: c.key === true })),
            replicaIdentity: t.replicaIdentity === "full" ? "f" : "d"
          })
          tables.set(t.name, { spec: t, rows: new Map() })
        }
        yield* fake.createPublication(spec.publication, {
          tables: spec.tables.map((t) => t.name),
          publish: spec.publish,
          columns: spec.columns,
          rowFilters: spec.rowFilters
        })
        for (const more of spec.more ?? []) {
          yield* fake.createPublication(more.publication, {
            tables: spec.tables.map((t) => t.name),
            columns: more.columns,
            rowFilters: more.rowFilters
          })
        }
        if (spec.createSlot !== false) yield* fake.createSlot(spec.slot)
      }).pipe(Effect.mapError(fail)),
    transaction: (tx: Transaction) =>
      Effect.gen(function* () {
        const touched = new Map<string, Map<string, Row>>()
        const changes = yield* Effect.try({
          try: () => tx.ops.flatMap((op) => changesOf(op, touched)),
          catch: (e) => new BackendError({ backend: name, message: String(e), cause: e })
        })
        if (tx.streamed === true) {
          yield* fake.streamed(changes, { segments: 3, abort: tx.rollback === true }).pipe(Effect.mapError(fail))
        } else if (tx.rollback !== true) {
          yield* fake.transaction(changes).pipe(Effect.mapError(fail))
        }
        if (tx.rollback !== true) {
          for (const [n, rows] of touched) {
            const t = table(n)
            t.rows.clear()
            for (const [k, r] of rows) t.rows.set(k, r)
          }
        }
      }),
    message: (prefix, content) => fake.message(prefix, content).pipe(Effect.asVoid, Effect.mapError(fail)),
    confirmedFlush: (slot) =>
      Effect.flatMap(fake.confirmedFlush(slot), (lsn) =>
        lsn === undefined
          ? Effect.fail(new BackendError({ backend: name, message: `replication slot "${slot}" does not exist` }))
          : Effect.succeed(Lsn.unsafeMake(lsn))
      ),
    // As on PostgreSQL: the session holding the slot (streaming from it), not the others.
    dropReplicationConnections: (slot) =>
      Effect.flatMap(fake.slots, (slots) => {
        const pid = slots.find((s) => s.name === slot)?.activePid
        return pid === undefined ? Effect.void : Effect.asVoid(fake.terminate(pid))
      }),
    slotExists: (slot) => Effect.map(fake.slots, (slots) => slots.some((s) => s.name === slot)),
    awaitSlot: (slot) => Effect.asVoid(fake.awaitSlot(slot)),
    dropTemporarySlotSessions: Effect.flatMap(fake.slots, (slots) =>
      Effect.forEach(
        slots.flatMap((s) => (s.temporary && s.activePid !== undefined ? [s.activePid] : [])),
        (pid) => fake.terminate(pid),
        { discard: true }
      )
    ),
    logicalMessages: (prefix) =>
      Effect.sync(() =>
        fake.server.wal.entries.flatMap((e) =>
          e._tag === "Message" && e.prefix === prefix ? [Lsn.unsafeMake(e.lsn)] : []
        )
      ),
    eventually: (what, check) =>
      Effect.gen(function* () {
        for (let round = 0; round < 10_000; round++) {
          if (yield* check) return
          yield* Effect.yieldNow
        }
        return yield* Effect.fail(new BackendError({ backend: name, message: `${what}: not after 10,000 rounds` }))
      }),
    readTable: (t) =>
      Effect.map(fake.rows(t.name), (rows) =>
        rows.map((r) => {
          const out: Record<string, string | null> = {}
          for (const c of t.columns) {
            const v = r[c.name]
            out[c.name] = typeof v === "string" ? v : v === null || v === undefined ? null : `<not text: ${String(v)}>`
          }
          return out
        })
      )
  }
}

export const FakeBackend = { make, fromFake } as const
