/**
 * The state one fake PostgreSQL server shares between its connections: the WAL (with the rows it leaves), the
 * replication slots, the publications, the live sessions, the snapshots walsenders exported, and what tests read back
 * (status updates received, queries run, disconnections). A statement reads a `DatabaseView`: the database now, or
 * frozen at one moment (a REPEATABLE READ transaction's first query, or an exported snapshot).
 *
 * Everything here is plain synchronous JavaScript driven from one thread, so sessions mutate it directly; time comes
 * from the Effect `Clock` of whoever drives it (so `TestClock` controls it). Observers
 * register with `subscribe` and are called after every change, which is how the driver's `await...` effects wake up
 * without polling.
 *
 * It deliberately does not own sockets or fibers (the transports and `FakePostgres` do).
 */
import type { Lsn, StandbyStatusUpdate, TupleData } from "@pgcdc/protocol"
import type * as Clock from "effect/Clock"
import { type FakeServerOptions, type ResolvedOptions, resolveOptions } from "./FakeServerOptions.ts"
import type { HeapRow, HeapSnapshot } from "./Heap.ts"
import { evaluateRowFilter, filterColumns, type RowFilterExpr, RowFilterUnsupported } from "./RowFilter.ts"
import { makeVerifier, type ScramVerifier } from "./Scram.ts"
import { Session, type SessionHost } from "./Session.ts"
import type { SqlTableInfo } from "./TableWrite.ts"
import { type FakeTable, FakeWalError, Wal } from "./Wal.ts"
import type { WalChange } from "./WalEntry.ts"

export interface SlotState {
  readonly name: string
  readonly kind: "logical" | "physical"
  readonly plugin: string | undefined
  readonly temporary: boolean
  readonly twoPhase: boolean
  /** The position the client confirmed as flushed (StandbyStatusUpdate.flushed), where a 0/0 start resumes. */
  confirmedFlush: bigint
  restartLsn: bigint
  /** PID of the session streaming from it (or owning it, for a temporary slot). */
  activePid: number | undefined
  ownerPid: number | undefined
}

/** What a publication's `publish` option can list: the kinds of change it sends. */
export type PublishAction = "insert" | "update" | "delete" | "truncate"

export const allPublishActions: ReadonlySet<PublishAction> = new Set(["insert", "update", "delete", "truncate"])

/** A publication: every table, or the listed tables ("schema.name") and schemas; and the kinds of change it sends. */
export interface PublicationState {
  readonly allTables: boolean
  readonly tables: ReadonlySet<string>
  readonly schemas: ReadonlySet<string>
  readonly publish: ReadonlySet<PublishAction>
  /** Column lists of listed tables ("schema.name" → column names); a table without one sends every column. */
  readonly columns: ReadonlyMap<string, ReadonlyArray<string>>
  /** Row filters of listed tables ("schema.name" → the parsed `WHERE`); a table without one sends every row. */
  readonly rowFilters: ReadonlyMap<string, RowFilterExpr>
}

/** Whether a row passes: the filters of the session's publications for one kind of change, combined. */
export type RowPredicate = (tuple: TupleData) => boolean

/**
 * An ERROR the walsender raises while decoding, which ends the stream (the session returns to idle): `code` is its
 * SQLSTATE.
 */
export class DecodingError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/**
 * The publications of a session hold a table with different column lists: PostgreSQL 15 to 18 end the stream with
 * this at the table's first change.
 */
export class ColumnListConflict extends DecodingError {
  constructor(schema: string, table: string) {
    super("0A000", `cannot use different column lists for table "${schema}.${table}" in different publications`)
  }
}

/**
 * What a statement reads: the catalog (table definitions, publications) and the tables' rows, either as they are now
 * or frozen at one moment (a snapshot: REPEATABLE READ, or one a walsender exported).
 */
export interface DatabaseView {
  /** "schema.name" → the table as defined at that moment. */
  readonly tables: ReadonlyMap<string, FakeTable>
  readonly publications: ReadonlyMap<string, PublicationState>
  /** The rows of a table ("schema.name") at that moment, in storage order. */
  readonly rows: (qualified: string) => Iterable<HeapRow>
}

export interface ReceivedStatusUpdate {
  readonly pid: number
  readonly slot: string
  readonly update: StandbyStatusUpdate
  /** The server's clock (milliseconds) when it arrived. */
  readonly receivedAt: number
}

/** Why a connection ended, with the text the real server writes in its log for the same event. */
export interface Disconnection {
  readonly pid: number
  readonly reason: "client" | "timeout" | "fatal" | "fault" | "protocol" | "shutdown"
  readonly message: string
  readonly at: number
}

const keyColumns = (table: FakeTable): Array<string> => table.columns.filter((c) => c.key === true).map((c) => c.name)

/** Whether a publication holds a table (FOR ALL TABLES, FOR TABLES IN SCHEMA, or listed). */
export const holds = (p: PublicationState, table: { readonly schema: string; readonly name: string }): boolean =>
  p.allTables || p.schemas.has(table.schema) || p.tables.has(`${table.schema}.${table.name}`)

/** The table's own entry of a publication (column list, row filter), which FOR ALL TABLES and schemas lack. */
export const listed = (p: PublicationState, qualified: string): boolean => !p.allTables && p.tables.has(qualified)

const sameColumns = (a: ReadonlyArray<number> | undefined, b: ReadonlyArray<number> | undefined): boolean =>
  a === undefined || b === undefined ? a === b : a.length === b.length && a.every((x, i) => x === b[i])

export class FakeServer {
  readonly config: ResolvedOptions
  readonly wal: Wal
  readonly slots = new Map<string, SlotState>()
  readonly publications = new Map<string, PublicationState>()
  readonly sessions = new Set<Session>()
  readonly statusUpdates: Array<ReceivedStatusUpdate> = []
  readonly queries: Array<string> = []
  readonly disconnections: Array<Disconnection> = []
  private verifier: ScramVerifier | undefined = undefined
  /** The clock of whoever drives the server right now (set by each driver entry point: TestClock in tests). */
  clock: Clock.Clock
  private readonly listeners = new Set<() => void>()
  private nextPid = 4242
  /** What CREATE TABLE said of the tables it made ("schema.name"): defaults and NOT NULL columns, for INSERT. */
  readonly sqlTables = new Map<string, SqlTableInfo>()
  /** Snapshots exported by CREATE_REPLICATION_SLOT and still importable, by name; and which session holds each. */
  readonly exportedSnapshots = new Map<string, DatabaseView>()
  private readonly exportedBy = new Map<number, string>()
  private snapshotsExported = 0

  constructor(options: FakeServerOptions | undefined, clock: Clock.Clock) {
    this.config = resolveOptions(options)
    this.wal = new Wal(this.config.startLsn)
    this.wal.checkChange = (change) => this.checkReplicaIdentity(change)
    this.clock = clock
  }

  /** The SCRAM verifier of the password, derived on first use (PBKDF2 is slow on purpose). */
  get scramVerifier(): ScramVerifier {
    this.verifier ??= makeVerifier(this.config.password)
    return this.verifier
  }

  now(): number {
    return this.clock.currentTimeMillisUnsafe()
  }

  /** A new connection: the transport feeds it bytes and carries what it writes. */
  connect(host: SessionHost): Session {
    const session = new Session(this, this.nextPid++, host)
    this.sessions.add(session)
    this.changed()
    return session
  }

  /** Called by a session when it ends (for any reason): its temporary slots and its exported snapshot go with it. */
  sessionEnded(session: Session, disconnection: Omit<Disconnection, "pid" | "at">): void {
    if (!this.sessions.delete(session)) return
    this.dropTemporarySlots(session.pid)
    this.clearExportedSnapshot(session.pid)
    for (const slot of this.slots.values()) if (slot.activePid === session.pid) slot.activePid = undefined
    this.disconnections.push({ ...disconnection, pid: session.pid, at: this.now() })
    this.changed()
  }

  /**
   * Drops the temporary slots a session owns: at its end, and after any ERROR on a walsender (PostgreSQL's
   * WalSndErrorCleanup does the same; checked against 14 to 18).
   */
  dropTemporarySlots(pid: number): void {
    for (const slot of [...this.slots.values()]) {
      if (slot.temporary && slot.ownerPid === pid) this.slots.delete(slot.name)
    }
  }

  /** The database as it is now (each read sees the latest writes). */
  liveView(): DatabaseView {
    return { tables: this.wal.definitions(), publications: this.publications, rows: (t) => this.wal.heap.rows(t) }
  }

  /** The database as of now, unchanged by later writes, table definitions or publications. */
  freezeView(): DatabaseView {
    const rows: HeapSnapshot = this.wal.heap.freeze()
    return { tables: this.wal.definitions(), publications: new Map(this.publications), rows }
  }

  /**
   * Exports a snapshot of the database as of now for the walsender `pid` (CREATE_REPLICATION_SLOT ... SNAPSHOT
   * 'export'): importable until that session runs another command or ends. Returns its name, in PostgreSQL's format.
   */
  exportSnapshot(pid: number): string {
    this.clearExportedSnapshot(pid)
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, "0")
    const name = `${hex(pid)}-${hex(++this.snapshotsExported)}-1`
    this.exportedSnapshots.set(name, this.freezeView())
    this.exportedBy.set(pid, name)
    return name
  }

  /** The session's exported snapshot can no longer be imported (its next command, or its end). */
  clearExportedSnapshot(pid: number): void {
    const name = this.exportedBy.get(pid)
    if (name === undefined) return
    this.exportedBy.delete(pid)
    this.exportedSnapshots.delete(name)
  }

  /** New WAL was written: streaming sessions send it now. */
  walAppended(): void {
    for (const session of this.sessions) session.pump()
    this.changed()
  }

  confirmedFlush(slot: string): Lsn.Lsn | undefined {
    const s = this.slots.get(slot)
    return s === undefined ? undefined : (s.confirmedFlush as Lsn.Lsn)
  }

  /**
   * Whether a session that asked for `names` receives `action` changes of `schema.name`: one of its publications
   * holds the table and publishes that kind of change (pgoutput takes the union over the session's publications).
   * With no publication defined at all, everything is published (tests that do not care about publications need not
   * create one); names that do not exist publish nothing.
   */
  publishes(names: ReadonlyArray<string>, schema: string, table: string, action: PublishAction): boolean {
    if (this.publications.size === 0) return true
    return names.some((n) => {
      const p = this.publications.get(n)
      if (p === undefined || !p.publish.has(action)) return false
      return holds(p, { schema, name: table })
    })
  }

  /**
   * The columns a session that asked for `names` receives of a table, as indexes into its columns in table order, or
   * undefined for all of them. Every one of its publications that holds the table counts, whatever it publishes; a
   * list naming every column is no list. Throws `ColumnListConflict` when they differ (as PostgreSQL does).
   */
  publishedColumns(names: ReadonlyArray<string>, table: FakeTable): ReadonlyArray<number> | undefined {
    const qualified = `${table.schema}.${table.name}`
    let chosen: ReadonlyArray<number> | undefined
    let first = true
    for (const n of names) {
      const p = this.publications.get(n)
      if (p === undefined || !holds(p, table)) continue
      const list = listed(p, qualified) ? p.columns.get(qualified) : undefined
      let keep: ReadonlyArray<number> | undefined
      if (list !== undefined) {
        const wanted = new Set(list)
        const indexes = table.columns.flatMap((c, i) => (wanted.has(c.name) ? [i] : []))
        keep = indexes.length === table.columns.length ? undefined : indexes
      }
      if (first) {
        chosen = keep
        first = false
      } else if (!sameColumns(keep, chosen)) {
        throw new ColumnListConflict(table.schema, table.name)
      }
    }
    return chosen
  }

  /**
   * The row filter a session that asked for `names` applies to `action` changes of a table, or undefined when every
   * row is sent. As pgoutput combines them: the publications that hold the table and publish that kind of change
   * count; if one of them has no filter for it (FOR ALL TABLES, FOR TABLES IN SCHEMA, or a table without WHERE),
   * nothing is filtered; otherwise a row passes when any of their filters is true for it.
   */
  rowFilter(names: ReadonlyArray<string>, table: FakeTable, action: PublishAction): RowPredicate | undefined {
    if (this.publications.size === 0) return undefined
    const qualified = `${table.schema}.${table.name}`
    const filters: Array<RowFilterExpr> = []
    for (const n of names) {
      const p = this.publications.get(n)
      if (p === undefined || !p.publish.has(action) || !holds(p, table)) continue
      const filter = listed(p, qualified) ? p.rowFilters.get(qualified) : undefined
      if (filter === undefined) return undefined
      filters.push(filter)
    }
    if (filters.length === 0) return undefined
    const columns = table.columns
    return (tuple) => {
      const column = (name: string) => {
        const i = columns.findIndex((c) => c.name === name)
        if (i < 0) return undefined
        const v = tuple[i]
        // NULL, and what the row does not carry (an unchanged TOAST value, a binary value), read as NULL.
        return { text: typeof v === "string" ? v : null, typeOid: columns[i]!.typeOid }
      }
      try {
        return filters.some((f) => evaluateRowFilter(f, column) === true)
      } catch (e) {
        // A filter naming a column the table does not have (PostgreSQL refuses it at CREATE PUBLICATION; the fake
        // may meet the table later): the stream ends with PostgreSQL's error for an unknown column.
        if (e instanceof RowFilterUnsupported)
          throw new DecodingError("42703", `${e.message} in relation "${qualified}"`)
        throw e
      }
    }
  }

  /**
   * Throws the `DecodingError` PostgreSQL 14 to 17 raise at a session's first change of a table when one of the
   * publications it asked for does not exist (42704). PostgreSQL 18 skips a missing publication instead (with a
   * WARNING in its log), which the fake does from 18 on: such a name publishes nothing.
   */
  checkPublicationsExist(names: ReadonlyArray<string>): void {
    if (this.config.major >= 18 || this.publications.size === 0) return
    const missing = names.find((n) => !this.publications.has(n))
    if (missing !== undefined) throw new DecodingError("42704", `publication "${missing}" does not exist`)
  }

  /**
   * PostgreSQL's check of an UPDATE or DELETE of a published table (15 to 18, checked against embedded 15 and 18), for
   * the publications that publish that kind of change: a row filter may only read replica identity columns (any, under
   * REPLICA IDENTITY FULL); a column list must cover the replica identity (no column list at all under FULL); and the
   * table must have a replica identity. Throws `FakeWalError` with PostgreSQL's message; inserts are never checked.
   */
  private checkReplicaIdentity(change: WalChange): void {
    if (change._tag !== "Update" && change._tag !== "Delete") return
    const action: PublishAction = change._tag === "Update" ? "update" : "delete"
    const table = change.table
    const qualified = `${table.schema}.${table.name}`
    const publishing = [...this.publications.values()].filter((p) => p.publish.has(action) && holds(p, table))
    if (publishing.length === 0) return
    const refused = `${action === "update" ? "cannot update table" : "cannot delete from table"} "${table.name}"`
    const full = table.replicaIdentity === "f"
    const identity = new Set(
      full ? table.columns.map((c) => c.name) : table.replicaIdentity === "n" ? [] : keyColumns(table)
    )
    for (const p of publishing) {
      const filter = listed(p, qualified) ? p.rowFilters.get(qualified) : undefined
      if (filter !== undefined && !full && ![...filterColumns(filter)].every((c) => identity.has(c))) {
        throw new FakeWalError(
          `${refused}: Column used in the publication WHERE expression is not part of the replica identity.`
        )
      }
    }
    for (const p of publishing) {
      const list = listed(p, qualified) ? p.columns.get(qualified) : undefined
      if (list !== undefined && (full || ![...identity].every((c) => list.includes(c)))) {
        throw new FakeWalError(`${refused}: Column list used by the publication does not cover the replica identity.`)
      }
    }
    if (identity.size === 0) {
      throw new FakeWalError(
        `${refused} because it does not have a replica identity and publishes ${action}s. To enable it, give the table key columns or replicaIdentity "f".`
      )
    }
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  changed(): void {
    for (const listener of [...this.listeners]) listener()
  }
}
