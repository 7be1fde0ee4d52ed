/**
 * What the conformance suite compares: the `Replication` service's messages reduced to what must be the same on
 * every backend (tags in order, table names, row values as text), with the differences that are allowed taken out,
 * each for a stated reason:
 *
 * - LSNs are dropped: the fake numbers its WAL its own way; the suite checks LSN *behaviour* (commit, confirm,
 *   resume) instead of values.
 * - Relation messages leave the sequence and are checked apart (`relations`): PostgreSQL sends one before the first
 *   change of a table in each session and again inside streamed transactions and after invalidations, the fake on
 *   first use per session; both send one before a table's first change, which `checkRelationsFirst` verifies.
 * - StreamStart/StreamStop leave the sequence: PostgreSQL cuts a large transaction into segments by memory use
 *   (logical_decoding_work_mem), the fake by a count it is given. The changes inside and the StreamCommit stay.
 * - An aborted streamed transaction is dropped whole (segments and StreamAbort): whether PostgreSQL sends any of it
 *   depends on timing. Decoding live, it streams what passed logical_decoding_work_mem, then StreamAbort; decoding
 *   after the abort is in the WAL, PostgreSQL 17 and later see that the transaction aborted and send nothing (seen
 *   on 18). The fake always sends every segment and StreamAbort.
 * - Key rows keep only key columns: pgoutput fills the other columns of a key tuple with NULLs, which say nothing.
 * - An initial snapshot's `Read` rows keep their table and values; the order of rows within a table (heap order) and
 *   of tables read in parallel is the server's, so cases compare them sorted (`snapshotOf`).
 *
 * It deliberately knows no backend: the same function runs on every stream.
 */
import type { WalMessage } from "@pgcdc/replication"
import type { Row, TableSpec } from "../simulation/Backend.ts"
import { rowFromDecoded } from "../simulation/Rows.ts"

export type Event = ReadonlyArray<unknown>

export interface Observation {
  readonly events: ReadonlyArray<Event>
  /** Each Relation's table as `[schema.name, replicaIdentity, [[column, typeOid, isKey], ...]]`, deduplicated. */
  readonly relations: ReadonlyArray<Event>
  /** Tables changed before any Relation of theirs arrived in the same session (must be empty). */
  readonly changedBeforeRelation: ReadonlyArray<string>
}

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

const keyRow = (spec: TableSpec, row: Row): Row => {
  const out: Record<string, string | null> = {}
  for (const c of spec.columns) if (c.key === true) out[c.name] = row[c.name] ?? null
  return out
}

/** Reduces messages of one session (or several, split where `sessionStarts` says) to an `Observation`. */
export const observe = (
  tables: ReadonlyArray<TableSpec>,
  messages: ReadonlyArray<WalMessage>,
  sessionStarts: ReadonlySet<number> = new Set()
): Observation => {
  const specOf = (name: string): TableSpec => {
    const spec = tables.find((t) => t.name === name)
    if (spec === undefined) throw new Error(`a change of table ${name}, which the workload does not know`)
    return spec
  }
  const events: Array<Event> = []
  const relations = new Map<string, Event>()
  const changedBeforeRelation = new Set<string>()
  let announced = new Set<string>()
  let streamed: Array<Event> = []
  let inStream = false
  for (const [index, m] of messages.entries()) {
    if (sessionStarts.has(index)) announced = new Set()
    const push = (e: Event) => (inStream ? streamed.push(e) : events.push(e))
    const changed = (name: string) => {
      if (!announced.has(name)) changedBeforeRelation.add(name)
    }
    switch (m._tag) {
      case "Relation": {
        const t = m.table
        announced.add(t.name)
        const event: Event = [
          `${t.schema}.${t.name}`,
          t.replicaIdentity,
          t.columns.map((c) => [c.name, c.typeOid, c.isKey])
        ]
        relations.set(JSON.stringify(event), event)
        continue
      }
      case "Insert":
        changed(m.table.name)
        push(["Insert", m.table.name, rowFromDecoded(specOf(m.table.name), m.new)])
        continue
      case "Update": {
        changed(m.table.name)
        const spec = specOf(m.table.name)
        push([
          "Update",
          m.table.name,
          rowFromDecoded(spec, m.new),
          m.key === undefined ? null : keyRow(spec, rowFromDecoded(spec, m.key)),
          m.old === undefined ? null : rowFromDecoded(spec, m.old)
        ])
        continue
      }
      case "Delete": {
        changed(m.table.name)
        const spec = specOf(m.table.name)
        push([
          "Delete",
          m.table.name,
          m.key === undefined ? null : keyRow(spec, rowFromDecoded(spec, m.key)),
          m.old === undefined ? null : rowFromDecoded(spec, m.old)
        ])
        continue
      }
      case "Truncate":
        for (const t of m.tables) changed(t.name)
        push(["Truncate", m.tables.map((t) => t.name).sort(), m.cascade, m.restartIdentity])
        continue
      case "Message":
        push(["Message", m.transactional, m.prefix, text(m.content)])
        continue
      case "SnapshotBegin":
        push(["SnapshotBegin", m.table.name])
        continue
      case "Read":
        push(["Read", m.table.name, rowFromDecoded(specOf(m.table.name), m.new)])
        continue
      case "SnapshotEnd":
        push(["SnapshotEnd", m.table.name, m.rows])
        continue
      case "SnapshotComplete":
        push(["SnapshotComplete", m.tables, m.rows])
        continue
      case "StreamStart":
        inStream = true
        continue
      case "StreamStop":
        inStream = false
        continue
      case "StreamCommit":
        events.push(...streamed, ["StreamCommit"])
        streamed = []
        continue
      case "StreamAbort":
        // Dropped whole, see the module header.
        streamed = []
        continue
      default:
        events.push([m._tag])
    }
  }
  return { events, relations: [...relations.values()], changedBeforeRelation: [...changedBeforeRelation].sort() }
}

/**
 * Splits events at an initial snapshot's end: the snapshot's events in an order every server gives alike (per table,
 * by name: its SnapshotBegin, its Reads sorted, its SnapshotEnd; then SnapshotComplete), and what followed, as it came.
 */
export const snapshotOf = (
  events: ReadonlyArray<Event>
): { readonly snapshot: ReadonlyArray<Event>; readonly after: ReadonlyArray<Event> } => {
  const end = events.findIndex((e) => e[0] === "SnapshotComplete")
  if (end < 0) return { snapshot: [], after: events }
  const tables = new Map<string, { begin: Array<Event>; reads: Array<Event>; end: Array<Event> }>()
  for (const e of events.slice(0, end)) {
    const name = String(e[1])
    let t = tables.get(name)
    if (t === undefined) {
      t = { begin: [], reads: [], end: [] }
      tables.set(name, t)
    }
    if (e[0] === "SnapshotBegin") t.begin.push(e)
    else if (e[0] === "Read") t.reads.push(e)
    else t.end.push(e)
  }
  const json = (e: Event) => JSON.stringify(e)
  const snapshot = [...tables.keys()].sort().flatMap((name) => {
    const t = tables.get(name)!
    return [...t.begin, ...t.reads.sort((a, b) => (json(a) < json(b) ? -1 : json(a) > json(b) ? 1 : 0)), ...t.end]
  })
  return { snapshot: [...snapshot, events[end]!], after: events.slice(end + 1) }
}
