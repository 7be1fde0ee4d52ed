/**
 * What one replication session sends for each WAL entry: the pgoutput messages, in the order and with the positions
 * that the real walsender and pgoutput use, for the options that START_REPLICATION asked for.
 *
 * - A Relation (preceded by a Type for a column of a non-catalog type) before the first change of a table in the
 *   session, and again after the table was redefined; inside a streamed transaction once per transaction, carrying
 *   its xid, and counted as sent for the session only once that transaction commits (pgoutput does the same).
 * - Streamed transactions go out as StreamStart/StreamStop segments and StreamCommit/StreamAbort when the session
 *   asked for `streaming`; otherwise as an ordinary transaction at commit, and not at all when aborted.
 * - Prepared transactions go out as BeginPrepare/Prepare and CommitPrepared/RollbackPrepared with `two_phase`
 *   (a large one as StreamStart/StreamStop segments and StreamPrepare when the session also streams); otherwise as
 *   an ordinary transaction at COMMIT PREPARED, and not at all when rolled back.
 * - Only the kinds of change the session's publications publish, of the tables they hold, with the columns of their
 *   column lists (a Relation then lists those columns only), and the rows their row filters let through (an update
 *   that moves a row into or out of a filter goes out as an insert or a delete); a transaction left without changes
 *   is not sent at all
 *   from PostgreSQL 15 on (14 sends its Begin and Commit). Streamed and prepared transactions are filtered too but
 *   always sent.
 * - Logical messages only with `messages`; transactions with an origin are skipped with `origin 'none'`.
 * - A transaction whose commit lies before the start position is skipped (the client confirmed it).
 *
 * Each item carries the LSN the walsender puts in the XLogData header: the first change's LSN for Begin, the
 * change's LSN for changes, 0/0 for Relation and Type, the end LSN for Commit. It deliberately does no byte encoding or I/O.
 */
import { Lsn, type Pgoutput, type PgoutputMessage, type ProtoVersion, type TupleData } from "@pgcdc/protocol"
import type { PublishAction, RowPredicate } from "./FakeServer.ts"
import { builtinTypeName } from "./Types.ts"
import {
  type FakeColumn,
  type FakeTable,
  type FakeTypeDefinition,
  relationMessage,
  type WalChange,
  type WalEntry
} from "./Wal.ts"

export interface OutputOptions {
  readonly protoVersion: ProtoVersion
  /** publication_names, parsed. */
  readonly publications: ReadonlyArray<string>
  /** PostgreSQL 15+ sends nothing for a transaction without published changes; 14 sends Begin and Commit. */
  readonly skipEmptyTransactions: boolean
  readonly streaming: "off" | "on" | "parallel"
  readonly twoPhase: boolean
  readonly messages: boolean
  readonly origin: "any" | "none"
}

export interface OutputItem {
  readonly lsn: bigint
  readonly message: PgoutputMessage
  /** Between StreamStart and StreamStop (the encoder writes the xid of xid-bearing messages). */
  readonly inStream: boolean
}

/** Relations already described to one session. */
export class RelationCache {
  private readonly sent = new Map<number, number>()
  /** The server's user-defined types (Wal.defineType), which Type messages name. */
  readonly types: ReadonlyMap<number, FakeTypeDefinition>

  constructor(types: ReadonlyMap<number, FakeTypeDefinition> = new Map()) {
    this.types = types
  }

  isCurrent(table: FakeTable): boolean {
    return this.sent.get(table.relationId) === table.version
  }

  markSent(table: FakeTable): void {
    this.sent.set(table.relationId, table.version)
  }
}

const firstCatalogFreeOid = 16384

/**
 * What a Type message says of a column's type: a defined type by its name, except that pgoutput names a domain by its
 * base type (`getBaseType`), with "" for pg_catalog; an undefined type by the column's `typeName`, if it has one.
 */
const typeMessageName = (
  types: ReadonlyMap<number, FakeTypeDefinition>,
  c: FakeColumn
): { readonly namespace: string; readonly typeName: string } | undefined => {
  let def = types.get(c.typeOid)
  if (def === undefined) {
    return c.typeName === undefined ? undefined : { namespace: c.typeNamespace ?? "public", typeName: c.typeName }
  }
  for (let depth = 0; def.kind === "domain" && depth < 32; depth++) {
    const base: number = def.base ?? 0
    const next: FakeTypeDefinition | undefined = types.get(base)
    if (next === undefined) return { namespace: "", typeName: builtinTypeName(base) }
    def = next
  }
  return { namespace: def.namespace ?? "public", typeName: def.name }
}
const L = Lsn.unsafeMake

/** What the session's publications send of a table (`FakeServer.publishes` and `publishedColumns`). */
export interface SessionPublications {
  /** Whether they send this kind of change of the table. */
  readonly publishes: (table: FakeTable, action: PublishAction) => boolean
  /**
   * The columns they send of the table, as indexes into its columns, or undefined for all of them. Throws
   * `ColumnListConflict` (a `DecodingError`) when they disagree.
   */
  readonly columns: (table: FakeTable) => ReadonlyArray<number> | undefined
  /** Their row filter for this kind of change of the table (on the whole row), or undefined to send every row. */
  readonly rowFilter: (table: FakeTable, action: PublishAction) => RowPredicate | undefined
  /** Called before a change of a table is decoded; throws the `DecodingError` of a missing publication. */
  readonly load: () => void
}

const everything: SessionPublications = {
  publishes: () => true,
  columns: () => undefined,
  rowFilter: () => undefined,
  load: () => {}
}

type RowChange = Extract<WalChange, { readonly _tag: "Insert" | "Update" | "Delete" }>

/**
 * What a row filter lets through of a change (as pgoutput, PostgreSQL 15+): the change, nothing, or for an update
 * that moves the row into the filter an insert of the new row, out of it a delete of the old one. An update whose
 * old row was not logged (the key did not change, REPLICA IDENTITY DEFAULT) is decided by its new row alone.
 */
const filtered = (change: RowChange, pass: RowPredicate | undefined): RowChange | undefined => {
  if (pass === undefined) return change
  switch (change._tag) {
    case "Insert":
      return pass(change.newTuple) ? change : undefined
    case "Delete": {
      const old = change.old ?? change.key
      return old !== undefined && pass(old) ? change : undefined
    }
    case "Update": {
      const newPasses = pass(change.newTuple)
      const old = change.old ?? change.key
      if (old === undefined) return newPasses ? change : undefined
      const oldPasses = pass(old)
      if (oldPasses && newPasses) return change
      const { lsn, table } = change
      if (newPasses) return { _tag: "Insert", lsn, table, newTuple: change.newTuple }
      if (oldPasses)
        return { _tag: "Delete", lsn, table, key: change.old === undefined ? change.key : undefined, old: change.old }
      return undefined
    }
  }
}

/** The table as a session with this column selection sees it (the columns it is sent, in table order). */
const projectTable = (table: FakeTable, keep: ReadonlyArray<number> | undefined): FakeTable =>
  keep === undefined ? table : { ...table, columns: keep.map((i) => table.columns[i]!) }

const projectTuple = <T extends TupleData | undefined>(tuple: T, keep: ReadonlyArray<number> | undefined): T =>
  (tuple === undefined || keep === undefined ? tuple : keep.map((i) => tuple[i]!)) as T

const actionOf = { Insert: "insert", Update: "update", Delete: "delete" } as const

class Emitter {
  readonly items: Array<OutputItem> = []
  private readonly options: OutputOptions
  private readonly cache: RelationCache
  private readonly publications: SessionPublications
  // Relations described inside the current streamed transaction (pgoutput's per-xid schema tracking).
  private streamSent: Map<number, FakeTable> | undefined = undefined
  private streamXid: number | undefined = undefined

  constructor(options: OutputOptions, cache: RelationCache, publications: SessionPublications) {
    this.options = options
    this.cache = cache
    this.publications = publications
  }

  push(lsn: bigint, message: PgoutputMessage, inStream = false): void {
    this.items.push({ lsn, message, inStream })
  }

  beginStream(xid: number): void {
    this.streamXid = xid
    this.streamSent ??= new Map()
  }

  endStream(committed: boolean): void {
    if (committed && this.streamSent !== undefined)
      for (const table of this.streamSent.values()) this.cache.markSent(table)
    this.streamSent = undefined
    this.streamXid = undefined
  }

  private describe(table: FakeTable, inStream: boolean): void {
    const xid = inStream ? this.streamXid : undefined
    if (inStream) {
      const sent = this.streamSent!.get(table.relationId)
      if (sent !== undefined && sent.version === table.version) return
      if (sent === undefined && this.cache.isCurrent(table)) return
      this.streamSent!.set(table.relationId, table)
    } else {
      if (this.cache.isCurrent(table)) return
      this.cache.markSent(table)
    }
    const types = new Set<number>()
    for (const c of table.columns) {
      if (c.typeOid < firstCatalogFreeOid || types.has(c.typeOid)) continue
      const named = typeMessageName(this.cache.types, c)
      if (named === undefined) continue
      types.add(c.typeOid)
      const type: Pgoutput.Type = { _tag: "Type", xid, typeOid: c.typeOid, ...named }
      this.push(0n, type, inStream)
    }
    // The walsender sends Relation and Type with 0/0 in the XLogData header (checked against PostgreSQL 18).
    this.push(0n, relationMessage(table, xid), inStream)
  }

  changes(changes: ReadonlyArray<WalChange>, inStream: boolean): void {
    const xid = inStream ? this.streamXid : undefined
    for (const written of changes) {
      // pgoutput loads the session's publications at its first change of a table (not for a logical message), then
      // resolves the table's column list (an error when publications disagree, whatever they publish), and only then
      // looks at what is published and at the row filter.
      if (written._tag !== "Message") this.publications.load()
      const keep =
        written._tag === "Truncate" || written._tag === "Message" ? undefined : this.publications.columns(written.table)
      if (
        written._tag !== "Truncate" &&
        written._tag !== "Message" &&
        !this.publications.publishes(written.table, actionOf[written._tag])
      ) {
        continue
      }
      const change =
        written._tag === "Truncate" || written._tag === "Message"
          ? written
          : filtered(written, this.publications.rowFilter(written.table, actionOf[written._tag]))
      if (change === undefined) continue
      switch (change._tag) {
        case "Insert":
          this.describe(projectTable(change.table, keep), inStream)
          this.push(
            change.lsn,
            { _tag: "Insert", xid, relationId: change.table.relationId, newTuple: projectTuple(change.newTuple, keep) },
            inStream
          )
          break
        case "Update":
          this.describe(projectTable(change.table, keep), inStream)
          this.push(
            change.lsn,
            {
              _tag: "Update",
              xid,
              relationId: change.table.relationId,
              key: projectTuple(change.key, keep),
              old: projectTuple(change.old, keep),
              newTuple: projectTuple(change.newTuple, keep)
            },
            inStream
          )
          break
        case "Delete":
          this.describe(projectTable(change.table, keep), inStream)
          this.push(
            change.lsn,
            {
              _tag: "Delete",
              xid,
              relationId: change.table.relationId,
              key: projectTuple(change.key, keep),
              old: projectTuple(change.old, keep)
            },
            inStream
          )
          break
        case "Truncate": {
          const tables = change.tables.filter((t) => this.publications.publishes(t, "truncate"))
          if (tables.length === 0) break
          for (const table of tables) this.describe(table, inStream)
          this.push(
            change.lsn,
            {
              _tag: "Truncate",
              xid,
              cascade: change.cascade,
              restartIdentity: change.restartIdentity,
              relationIds: tables.map((t) => t.relationId)
            },
            inStream
          )
          break
        }
        case "Message":
          if (this.options.messages) {
            this.push(
              change.lsn,
              {
                _tag: "Message",
                xid,
                transactional: true,
                lsn: L(change.lsn),
                prefix: change.prefix,
                content: change.content
              },
              inStream
            )
          }
          break
      }
    }
  }

  /** A streamed transaction's changes as StreamStart/StreamStop segments (the caller ends the stream). */
  segments(xid: number, changes: ReadonlyArray<WalChange>, segments: number): void {
    const per = Math.ceil(changes.length / segments)
    this.beginStream(xid)
    for (let i = 0; i < changes.length; i += per) {
      const chunk = changes.slice(i, i + per)
      this.push(chunk[0]!.lsn, { _tag: "StreamStart", xid, firstSegment: i === 0 })
      this.changes(chunk, true)
      this.push(chunk[chunk.length - 1]!.lsn, { _tag: "StreamStop" })
    }
  }

  plain(
    xid: number,
    firstLsn: bigint,
    commitLsn: bigint,
    endLsn: bigint,
    time: bigint,
    origin: string | undefined,
    changes: ReadonlyArray<WalChange>
  ): void {
    const before = this.items.length
    this.push(firstLsn, { _tag: "Begin", finalLsn: L(commitLsn), commitTime: time, xid })
    if (origin !== undefined) this.push(firstLsn, { _tag: "Origin", commitLsn: L(commitLsn), name: origin })
    const header = this.items.length
    this.changes(changes, false)
    if (this.items.length === header && this.options.skipEmptyTransactions) {
      this.items.length = before
      return
    }
    this.push(endLsn, { _tag: "Commit", flags: 0, commitLsn: L(commitLsn), endLsn: L(endLsn), commitTime: time })
  }
}

const skipOrigin = (options: OutputOptions, origin: string | undefined): boolean =>
  origin !== undefined && options.origin === "none"

/** The messages one WAL entry produces for a session that started at `start`. */
export const entryOutput = (
  entry: WalEntry,
  options: OutputOptions,
  cache: RelationCache,
  start: bigint,
  publications: SessionPublications = everything
): Array<OutputItem> => {
  const out = new Emitter(options, cache, publications)
  switch (entry._tag) {
    case "Message":
      if (options.messages && entry.lsn >= start) {
        out.push(entry.lsn, {
          _tag: "Message",
          xid: undefined,
          transactional: false,
          lsn: L(entry.lsn),
          prefix: entry.prefix,
          content: entry.content
        })
      }
      break
    case "Transaction": {
      if (entry.commitLsn < start || skipOrigin(options, entry.origin)) break
      const streaming = entry.segments !== undefined && options.streaming !== "off" && options.protoVersion >= 2
      if (!streaming) {
        if (!entry.aborted) {
          out.plain(
            entry.xid,
            entry.firstLsn,
            entry.commitLsn,
            entry.endLsn,
            entry.commitTime,
            entry.origin,
            entry.changes
          )
        }
        break
      }
      out.segments(entry.xid, entry.changes, entry.segments!)
      if (entry.aborted) {
        const withInfo = options.protoVersion >= 4 && options.streaming === "parallel"
        out.push(entry.endLsn, {
          _tag: "StreamAbort",
          xid: entry.xid,
          subXid: entry.xid,
          abortLsn: withInfo ? L(entry.commitLsn) : undefined,
          abortTime: withInfo ? entry.commitTime : undefined
        })
      } else {
        out.push(entry.endLsn, {
          _tag: "StreamCommit",
          xid: entry.xid,
          flags: 0,
          commitLsn: L(entry.commitLsn),
          endLsn: L(entry.endLsn),
          commitTime: entry.commitTime
        })
      }
      out.endStream(!entry.aborted)
      break
    }
    case "Prepare": {
      if (!twoPhase(options) || entry.prepareLsn < start || skipOrigin(options, entry.origin)) break
      const prepared = {
        prepareLsn: L(entry.prepareLsn),
        endLsn: L(entry.endLsn),
        prepareTime: entry.prepareTime,
        xid: entry.xid,
        gid: entry.gid
      }
      if (entry.segments !== undefined && options.streaming !== "off") {
        out.segments(entry.xid, entry.changes, entry.segments)
        out.push(entry.endLsn, { _tag: "StreamPrepare", flags: 0, ...prepared })
        out.endStream(true)
        break
      }
      out.push(entry.firstLsn, { _tag: "BeginPrepare", ...prepared })
      out.changes(entry.changes, false)
      out.push(entry.endLsn, { _tag: "Prepare", flags: 0, ...prepared })
      break
    }
    case "CommitPrepared":
    case "RollbackPrepared": {
      const prepare = entry.prepare
      if (entry.lsn < start || skipOrigin(options, prepare.origin)) break
      if (!twoPhase(options)) {
        if (entry._tag === "CommitPrepared") {
          out.plain(prepare.xid, prepare.firstLsn, entry.lsn, entry.endLsn, entry.time, prepare.origin, prepare.changes)
        }
        break
      }
      if (entry._tag === "CommitPrepared") {
        out.push(entry.endLsn, {
          _tag: "CommitPrepared",
          flags: 0,
          commitLsn: L(entry.lsn),
          endLsn: L(entry.endLsn),
          commitTime: entry.time,
          xid: prepare.xid,
          gid: prepare.gid
        })
      } else {
        out.push(entry.endLsn, {
          _tag: "RollbackPrepared",
          flags: 0,
          prepareEndLsn: L(prepare.endLsn),
          rollbackEndLsn: L(entry.endLsn),
          prepareTime: prepare.prepareTime,
          rollbackTime: entry.time,
          xid: prepare.xid,
          gid: prepare.gid
        })
      }
      break
    }
  }
  return out.items
}

const twoPhase = (options: OutputOptions): boolean => options.twoPhase && options.protoVersion >= 3
