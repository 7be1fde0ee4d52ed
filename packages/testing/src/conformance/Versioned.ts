/**
 * Versioned rows for the backfill cases: every write of a row gives it a higher `ver` (a re-inserted key too), so a
 * consumer can tell a row handed out behind a newer change of it. `VersionedRows` is the writer's side (the rows the
 * table holds, and the operations that bump them); `VersionedReplica` the consumer's: it applies changes and
 * backfilled `Read`s by key and records every Read older than a change of the same row already handed out, and every
 * Read of a row whose last change handed out deleted it.
 *
 * It deliberately holds no I/O: cases write the operations and feed the replica.
 */
import type { WalMessage } from "@pgcdc/replication"
import type { Op, Row, TableSpec } from "../simulation/Backend.ts"
import { rowFromDecoded } from "../simulation/Rows.ts"

export const versionedTable = (name: string): TableSpec => ({
  name,
  columns: [
    { name: "id", type: "int4", key: true },
    { name: "ver", type: "int8" },
    { name: "v", type: "text" }
  ]
})

/** The writer's model of the table: its rows' versions, and the highest version each key ever had. */
export class VersionedRows {
  readonly table: TableSpec
  private readonly rows = new Map<number, number>()
  private readonly highest = new Map<number, number>()

  constructor(table: TableSpec) {
    this.table = table
  }

  private row(id: number, ver: number): Row {
    this.rows.set(id, ver)
    this.highest.set(id, ver)
    return { id: String(id), ver: String(ver), v: `${id}@${ver}` }
  }

  insert(id: number): Op {
    return { _tag: "Insert", table: this.table.name, row: this.row(id, (this.highest.get(id) ?? 0) + 1) }
  }

  /** A new version of a row the table holds. */
  update(id: number): Op {
    return { _tag: "Update", table: this.table.name, row: this.row(id, (this.highest.get(id) ?? 0) + 1) }
  }

  delete(id: number): Op {
    this.rows.delete(id)
    return { _tag: "Delete", table: this.table.name, key: { id: String(id) } }
  }

  /** The keys the table holds, ascending. */
  keys(): ReadonlyArray<number> {
    return [...this.rows.keys()].sort((a, b) => a - b)
  }
}

interface Last {
  readonly ver: bigint
  readonly deleted: boolean
}

/** The consumer's map, and what its backfilled rows say about the order they came in. */
export class VersionedReplica {
  readonly table: TableSpec
  readonly rows = new Map<string, Row>()
  /** Reads handed out behind a newer change of their row (or after its delete), in words. */
  readonly problems: Array<string> = []
  /** How many times each key came as a Read. */
  readonly reads = new Map<string, number>()
  private readonly last = new Map<string, Last>()

  constructor(table: TableSpec) {
    this.table = table
  }

  /** Applies a message of the table; other messages are ignored. */
  apply(m: WalMessage): void {
    switch (m._tag) {
      case "Insert":
      case "Update": {
        if (m.table.name !== this.table.name) return
        const row = rowFromDecoded(this.table, m.new)
        this.rows.set(row.id!, row)
        this.last.set(row.id!, { ver: BigInt(row.ver!), deleted: false })
        return
      }
      case "Delete": {
        if (m.table.name !== this.table.name) return
        const id = rowFromDecoded(this.table, (m.key ?? m.old)!).id!
        this.rows.delete(id)
        const before = this.last.get(id)
        this.last.set(id, { ver: before?.ver ?? 0n, deleted: true })
        return
      }
      case "Read": {
        if (m.table.name !== this.table.name) return
        const row = rowFromDecoded(this.table, m.new)
        const id = row.id!
        const ver = BigInt(row.ver!)
        this.reads.set(id, (this.reads.get(id) ?? 0) + 1)
        const last = this.last.get(id)
        if (last !== undefined && (ver < last.ver || (last.deleted && ver <= last.ver))) {
          this.problems.push(
            `Read of id ${id} at version ${ver} after ${last.deleted ? "its delete" : `version ${last.ver}`} was handed out`
          )
        }
        this.rows.set(id, row)
        return
      }
      default:
        return
    }
  }

  /** The map's rows, by key. */
  sorted(): ReadonlyArray<Row> {
    return [...this.rows.values()].sort((a, b) => Number(a.id) - Number(b.id))
  }
}

/** A table's rows read back from the backend, by key, to compare with `VersionedReplica.sorted`. */
export const byKey = (rows: ReadonlyArray<Row>): ReadonlyArray<Row> =>
  [...rows].sort((a, b) => Number(a.id) - Number(b.id))
