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
import { Lsn, type Pgoutput, type PgoutputMessage, type ProtoVersion } from "@pgcdc/protocol"
import {
  everything,
  projectTable,
  projectTuple,
  publishedChange,
  type SessionPublications
} from "./PublishedChanges.ts"
import { firstCatalogFreeOid, type RelationCache, typeMessageName } from "./RelationCache.ts"
import { type FakeTable, relationMessage } from "./Wal.ts"
import type { WalChange, WalEntry } from "./WalEntry.ts"

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

const L = Lsn.unsafeMake

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
      const published = publishedChange(this.publications, written)
      if (published === undefined) continue
      const { change, keep } = published
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
    case "Transaction":
      transactionOutput(out, entry, options, start)
      break
    case "Prepare":
      prepareOutput(out, entry, options, start)
      break
    case "CommitPrepared":
    case "RollbackPrepared":
      preparedEndOutput(out, entry, options, start)
      break
  }
  return out.items
}

const twoPhase = (options: OutputOptions): boolean => options.twoPhase && options.protoVersion >= 3

/** Writes the messages of one kind of WAL entry, for a session that started at `start`. */
type EntryOutput<Tag extends WalEntry["_tag"]> = (
  out: Emitter,
  entry: Extract<WalEntry, { readonly _tag: Tag }>,
  options: OutputOptions,
  start: bigint
) => void

/**
 * A transaction: at commit as an ordinary one (not at all when aborted), or as StreamStart/StreamStop segments and
 * StreamCommit/StreamAbort when the session streams.
 */
const transactionOutput: EntryOutput<"Transaction"> = (out, entry, options, start) => {
  if (entry.commitLsn < start || skipOrigin(options, entry.origin)) return
  const streaming = entry.segments !== undefined && options.streaming !== "off" && options.protoVersion >= 2
  if (!streaming) {
    if (!entry.aborted) {
      out.plain(entry.xid, entry.firstLsn, entry.commitLsn, entry.endLsn, entry.commitTime, entry.origin, entry.changes)
    }
    return
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
}

/** A prepared transaction with `two_phase`: BeginPrepare/Prepare, or segments and StreamPrepare when streamed. */
const prepareOutput: EntryOutput<"Prepare"> = (out, entry, options, start) => {
  if (!twoPhase(options) || entry.prepareLsn < start || skipOrigin(options, entry.origin)) return
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
    return
  }
  out.push(entry.firstLsn, { _tag: "BeginPrepare", ...prepared })
  out.changes(entry.changes, false)
  out.push(entry.endLsn, { _tag: "Prepare", flags: 0, ...prepared })
}

/**
 * COMMIT/ROLLBACK PREPARED: CommitPrepared/RollbackPrepared with `two_phase`, otherwise the whole transaction at
 * COMMIT PREPARED (and nothing at ROLLBACK PREPARED).
 */
const preparedEndOutput: EntryOutput<"CommitPrepared" | "RollbackPrepared"> = (out, entry, options, start) => {
  const prepare = entry.prepare
  if (entry.lsn < start || skipOrigin(options, prepare.origin)) return
  if (!twoPhase(options)) {
    if (entry._tag === "CommitPrepared") {
      out.plain(prepare.xid, prepare.firstLsn, entry.lsn, entry.endLsn, entry.time, prepare.origin, prepare.changes)
    }
    return
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
}
