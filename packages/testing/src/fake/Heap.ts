/**
 * The rows of the fake's tables, as the committed WAL leaves them: what a COPY or an initial snapshot reads. The WAL
 * applies each transaction here when it commits (a streamed one unless it aborts, a prepared one at COMMIT PREPARED),
 * so the rows are exactly what the changes sent to consumers say, and a snapshot taken between two commits sees the
 * first and not the second.
 *
 * Rows are kept by column name (so a table redefined with `defineTable` keeps the values of the columns it still
 * has) and found by their key columns; a table without key columns finds a row for an update or a delete by its whole
 * old row (REPLICA IDENTITY FULL), and cannot find it without one (the update is then an insert, the delete does
 * nothing). An update's `UnchangedToast` value keeps the stored one.
 *
 * `freeze` hands out the rows as they are now, in O(tables): each table's map is shared until the next write to it
 * copies it. As on PostgreSQL, TRUNCATE is not MVCC-safe: a table truncated after a snapshot was taken reads as empty
 * in that snapshot (the rows went with the old file; the new rows are not visible to it). It deliberately checks
 * nothing a database would (unique keys, NOT NULL, types): the fake stores what the test wrote.
 */
import { UnchangedToast } from "@pgcdc/protocol"
import type { FakeTable, FakeValue } from "./Wal.ts"
import type { WalChange } from "./WalEntry.ts"

/** One stored row: column name → value as the test wrote it (text, NULL, binary, or a TOAST marker). */
export type HeapRow = Readonly<Record<string, FakeValue>>

/** The rows of every table at one moment: "schema.name" → rows in storage order. */
export type HeapSnapshot = (qualified: string) => Iterable<HeapRow>

interface StoredTable {
  rows: Map<string, HeapRow>
  /** Handed out by `freeze`: the next write copies the map first. */
  shared: boolean
  /** The key columns the row ids were computed with (a redefinition with other keys re-keys the rows). */
  keys: ReadonlyArray<string>
  /** Row ids of a table without key columns. */
  nextId: number
  /** Counts truncations: the table's file, which a snapshot taken before the last one no longer sees. */
  generation: number
}

const keyColumns = (table: FakeTable): ReadonlyArray<string> =>
  table.columns.filter((c) => c.key === true).map((c) => c.name)

const sameValue = (a: FakeValue | undefined, b: FakeValue | undefined): boolean => {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i])
  if (a === UnchangedToast || b === UnchangedToast) return a === b
  return (a ?? null) === (b ?? null)
}

const valueKey = (v: FakeValue | undefined): unknown =>
  v instanceof Uint8Array ? { bytes: Array.from(v) } : v === UnchangedToast ? { toast: true } : (v ?? null)

export class Heap {
  private readonly tables = new Map<string, StoredTable>()

  /** Applies one committed transaction's changes, in order. */
  apply(changes: ReadonlyArray<WalChange>): void {
    for (const change of changes) {
      switch (change._tag) {
        case "Insert":
          this.insert(change.table, rowOf(change.table, change.newTuple))
          break
        case "Update": {
          const old = change.old ?? change.key
          this.update(change.table, old === undefined ? undefined : rowOf(change.table, old), change)
          break
        }
        case "Delete": {
          const old = change.old ?? change.key
          if (old !== undefined) this.remove(change.table, rowOf(change.table, old))
          break
        }
        case "Truncate":
          for (const table of change.tables) {
            const stored = this.writable(table)
            stored.rows = new Map()
            stored.generation++
          }
          break
        case "Message":
          break
      }
    }
  }

  /** The rows of a table now ("schema.name"), in storage order. */
  rows(qualified: string): ReadonlyArray<HeapRow> {
    return [...(this.tables.get(qualified)?.rows.values() ?? [])]
  }

  /** Every table's rows as of now; later writes do not change what it reads, but a later TRUNCATE empties it. */
  freeze(): HeapSnapshot {
    const frozen = new Map<string, { readonly rows: ReadonlyMap<string, HeapRow>; readonly generation: number }>()
    for (const [name, stored] of this.tables) {
      stored.shared = true
      frozen.set(name, { rows: stored.rows, generation: stored.generation })
    }
    return (qualified) => {
      const then = frozen.get(qualified)
      const now = this.tables.get(qualified)
      if (then === undefined || (now !== undefined && now.generation !== then.generation)) return []
      return then.rows.values()
    }
  }

  private writable(table: FakeTable): StoredTable {
    const name = `${table.schema}.${table.name}`
    const keys = keyColumns(table)
    let stored = this.tables.get(name)
    if (stored === undefined) {
      stored = { rows: new Map(), shared: false, keys, nextId: 0, generation: 0 }
      this.tables.set(name, stored)
    }
    if (stored.shared) {
      stored.rows = new Map(stored.rows)
      stored.shared = false
    }
    if (stored.keys.join("\0") !== keys.join("\0")) {
      // The table was redefined with other key columns: the ids follow the new ones.
      const rows = [...stored.rows.values()]
      stored.keys = keys
      stored.rows = new Map()
      for (const row of rows) stored.rows.set(this.idOf(stored, row), row)
    }
    return stored
  }

  private idOf(stored: StoredTable, row: HeapRow): string {
    return stored.keys.length === 0 ? `#${stored.nextId++}` : JSON.stringify(stored.keys.map((k) => valueKey(row[k])))
  }

  /** The id of the stored row `old` designates: by key, or (no key columns) the first row equal to it. */
  private find(stored: StoredTable, old: HeapRow): string | undefined {
    if (stored.keys.length > 0) {
      const id = JSON.stringify(stored.keys.map((k) => valueKey(old[k])))
      return stored.rows.has(id) ? id : undefined
    }
    for (const [id, row] of stored.rows) {
      const names = new Set([...Object.keys(row), ...Object.keys(old)])
      if ([...names].every((n) => sameValue(row[n], old[n]))) return id
    }
    return undefined
  }

  private insert(table: FakeTable, row: HeapRow): void {
    const stored = this.writable(table)
    stored.rows.set(this.idOf(stored, row), row)
  }

  private update(table: FakeTable, old: HeapRow | undefined, change: Extract<WalChange, { _tag: "Update" }>): void {
    const stored = this.writable(table)
    const incoming = rowOf(table, change.newTuple)
    const at = this.find(stored, old ?? incoming)
    const previous = at === undefined ? undefined : stored.rows.get(at)
    const row: Record<string, FakeValue> = { ...incoming }
    for (const [name, value] of Object.entries(incoming)) {
      if (value === UnchangedToast && previous !== undefined && name in previous) row[name] = previous[name]!
    }
    const id = stored.keys.length === 0 && at !== undefined ? at : this.idOf(stored, row)
    if (at !== undefined && at !== id) stored.rows.delete(at)
    stored.rows.set(id, row)
  }

  private remove(table: FakeTable, old: HeapRow): void {
    const stored = this.writable(table)
    const at = this.find(stored, old)
    if (at !== undefined) stored.rows.delete(at)
  }
}

const rowOf = (table: FakeTable, tuple: ReadonlyArray<FakeValue>): HeapRow => {
  const row: Record<string, FakeValue> = {}
  table.columns.forEach((c, i) => {
    row[c.name] = tuple[i] ?? null
  })
  return row
}
