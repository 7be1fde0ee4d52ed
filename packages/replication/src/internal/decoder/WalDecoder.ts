/**
 * Turns the XLogData of one replication session into `WalMessage`s: decodes the pgoutput bytes (telling the
 * decoder whether it is inside a streamed block), keeps the relation cache, resolves row changes to their table,
 * decodes each column value losslessly, and tracks whether a transaction is open (the feedback state needs it).
 *
 * Row changes (the bulk of any stream) take a fast path: the tuple is read straight from the message bytes by a
 * value reader per column chosen when the Relation arrived (values/ColumnReaders.ts) into a row built by a
 * per-relation constructor (values/RowMaker.ts), with no TupleData strings in between. Anything that path does not
 * handle, including every error, sends the message to the general path (TupleData, then `decodeText`/`decodeBinary`
 * per value), which gives the same values and reports errors as it always did; tests hold the two paths equal.
 *
 * Stateful and single-owner: one decoder per session, fed in order by one fiber. Bad bytes, undecodable values and
 * rows for unknown relations become a typed `ReplicationError`. It does no I/O and knows nothing about LSN feedback.
 */
import {
  isProtocolError,
  Lsn,
  type PgoutputMessage,
  type PgoutputOptions,
  type ProtoVersion,
  type Reader,
  type RowChangeOf,
  readTextValue,
  type TupleData,
  UnchangedToast,
  unsafeDecodePgoutput,
  unsafeDecodeRowChange,
  unsafeDecodeXLogDataHeader,
  type XLogData,
  type XLogDataHeader
} from "@pgcdc/protocol"
import * as Result from "effect/Result"
import { RelationCache } from "./RelationCache.ts"
import { ReplicationError, replicationError } from "../../ReplicationError.ts"
import { type ColumnReader, columnReaderFor } from "../values/ColumnReaders.ts"
import { type MakeRow, rowMaker, setColumn } from "../values/RowMaker.ts"
import { decodeBinary } from "../../values/decodeBinary.ts"
import { decodeText } from "../../values/decodeText.ts"
import { ValueError } from "../../values/ValueError.ts"
import type { ColumnValue, Row, Table, WalMessage, WalPosition } from "../../WalMessage.ts"

export interface WalDecoderOptions {
  readonly protoVersion: ProtoVersion
  readonly streaming?: "off" | "on" | "parallel" | undefined
}

/** What the fast row path knows about one relation: its table and a value reader per column. */
interface RowCodec {
  readonly table: Table
  readonly readers: ReadonlyArray<ColumnReader>
  /** Builds a whole row from its values in column order. */
  readonly make: MakeRow
  /** Where `readRow` collects a row's values before `make` (one row at a time, so one array per relation). */
  readonly values: Array<ColumnValue>
}

/** Thrown inside the fast row path to hand the message to the general path (which reports any error exactly). */
const FALLBACK: unique symbol = Symbol("WalDecoder.fallback")

const KIND_TEXT = 0x74
const KIND_NULL = 0x6e
const KIND_TOAST = 0x75
const KIND_BINARY = 0x62

export class WalDecoder {
  readonly cache = new RelationCache()
  private inStream = false
  private inPlainTransaction = false
  private readonly openStreamed = new Set<number>()
  private readonly codecs = new Map<number, RowCodec>()
  /** The codec of the last tuple read (its table goes into the message without another lookup). */
  private lastCodec: RowCodec | undefined = undefined
  /** The pgoutput options outside and inside a streamed block (made once: the hot path allocates none). */
  private readonly outsideStream: PgoutputOptions
  private readonly insideStream: PgoutputOptions
  /** Where `unsafeDecodeFrame` reads an XLogData header (reused: one per decoder, not one per message). */
  private readonly header: XLogDataHeader = { walStart: Lsn.zero, walEnd: Lsn.zero, dataStart: 0 }

  constructor(options: WalDecoderOptions) {
    this.outsideStream = { protoVersion: options.protoVersion, inStream: false, streaming: options.streaming }
    this.insideStream = { protoVersion: options.protoVersion, inStream: true, streaming: options.streaming }
  }

  /** The row codec of a relation, rebuilt when a new Relation message replaced its table. */
  private codec(relationId: number): RowCodec | undefined {
    const table = this.cache.get(relationId)
    if (table === undefined) return undefined
    const known = this.codecs.get(relationId)
    if (known !== undefined && known.table === table) return known
    const codec: RowCodec = {
      table,
      readers: table.columns.map((c) => columnReaderFor(c.typeOid, this.cache)),
      make: rowMaker(table.columns.map((c) => c.name)),
      values: new Array<ColumnValue>(table.columns.length).fill(null)
    }
    this.codecs.set(relationId, codec)
    return codec
  }

  /**
   * Reads one TupleData straight into a row: each text value decoded from the bytes by its column's reader, no
   * TupleData strings in between. Anything it does not handle (unknown relation, column count mismatch, a value
   * its reader rejects, invalid UTF-8) throws, and the message is decoded again by the general path.
   */
  private readonly readRow = (r: Reader, relationId: number, keyOnly: boolean): Row => {
    const codec = this.codec(relationId)
    if (codec === undefined) throw FALLBACK
    this.lastCodec = codec
    const columns = codec.table.columns
    const readers = codec.readers
    const n = r.i16("columnCount")
    if (n !== columns.length) throw FALLBACK
    const values = codec.values
    for (let i = 0; i < n; i++) {
      const column = columns[i]!
      const kind = r.u8("columnKind")
      let value: ColumnValue
      if (kind === KIND_TEXT) {
        const length = r.length("columnLength")
        if (keyOnly && !column.isKey) {
          // Not kept, but the general path would still reject invalid UTF-8 here.
          readTextValue(r, length)
          continue
        }
        const end = r.pos + length
        value = readers[i]!(r, length)
        if (r.pos !== end) throw FALLBACK
      } else if (kind === KIND_NULL) value = null
      else if (kind === KIND_TOAST) value = UnchangedToast
      else if (kind === KIND_BINARY) {
        const bytes = r.bytes(r.length("columnLength"), "columnValue")
        if (keyOnly && !column.isKey) continue
        value = decodeBinary(column.typeOid, bytes, this.cache)
      } else throw FALLBACK
      values[i] = value
    }
    if (!keyOnly) return codec.make(values)
    const key: Record<string, ColumnValue> = {}
    for (let i = 0; i < n; i++) if (columns[i]!.isKey) setColumn(key, columns[i]!.name, values[i]!)
    return key
  }

  /**
   * The fast path for Insert, Update and Delete in `bytes[start, end)`; undefined when the general path must decode
   * the message.
   */
  private rowChange(
    bytes: Uint8Array,
    start: number,
    end: number,
    walStart: WalPosition["walStart"],
    walEnd: WalPosition["walEnd"]
  ): WalMessage | undefined {
    let m: RowChangeOf<Row> | undefined
    try {
      m = unsafeDecodeRowChange(bytes, this.inStream ? this.insideStream : this.outsideStream, this.readRow, start, end)
    } catch {
      return undefined
    }
    if (m === undefined) return undefined
    // Every row change has at least one tuple, read by readRow for this relation.
    const table = this.lastCodec!.table
    switch (m._tag) {
      case "Insert":
        return { _tag: "Insert", walStart, walEnd, xid: m.xid, table, new: m.newTuple }
      case "Update":
        return {
          _tag: "Update",
          walStart,
          walEnd,
          xid: m.xid,
          table,
          key: m.key,
          old: m.old,
          new: m.newTuple
        }
      case "Delete":
        return { _tag: "Delete", walStart, walEnd, xid: m.xid, table, key: m.key, old: m.old }
    }
  }

  /** Whether a transaction (plain, or streamed and not yet committed or aborted) is open after the last message. */
  get inTransaction(): boolean {
    return this.inPlainTransaction || this.openStreamed.size > 0
  }

  /** Decodes one XLogData; throws `ReplicationError`. */
  unsafeDecode(x: XLogData): WalMessage {
    const data = x.data
    const fast = this.rowChange(data, 0, data.length, x.walStart, x.walEnd)
    return fast === undefined ? this.general(data, 0, data.length, x.walStart, x.walEnd) : fast
  }

  /**
   * Decodes the XLogData that is the CopyData payload `bytes[start, end)`, header included: what `unsafeDecode`
   * does with the `XLogData` that `unsafeDecodeReplication` gives for those bytes, without making that object (the
   * replication hot path calls this once per message). Throws `ProtocolError` when the bytes are not a whole
   * XLogData header (as `unsafeDecodeReplication` would), `ReplicationError` for the message in it.
   */
  unsafeDecodeFrame(bytes: Uint8Array, start: number, end: number): WalMessage {
    const h = unsafeDecodeXLogDataHeader(bytes, start, end, this.header)
    return this.unsafeDecodeBody(bytes, h.dataStart, end, h.walStart, h.walEnd)
  }

  /**
   * Decodes the pgoutput message `bytes[start, end)` of an XLogData whose header someone else read (the service's
   * reader reads each header once): its positions are `walStart` and `walEnd`. Throws `ReplicationError` or
   * `ProtocolError`.
   */
  unsafeDecodeBody(bytes: Uint8Array, start: number, end: number, walStart: Lsn.Lsn, walEnd: Lsn.Lsn): WalMessage {
    const fast = this.rowChange(bytes, start, end, walStart, walEnd)
    return fast === undefined ? this.general(bytes, start, end, walStart, walEnd) : fast
  }

  /**
   * `unsafeDecode` without the fast row path: TupleData strings first, then `decodeText`/`decodeBinary` per value.
   * Same results and errors, slower; the reference the fast path is tested against.
   */
  unsafeDecodeGeneral(x: XLogData): WalMessage {
    return this.general(x.data, 0, x.data.length, x.walStart, x.walEnd)
  }

  private general(
    bytes: Uint8Array,
    start: number,
    end: number,
    walStart: WalPosition["walStart"],
    walEnd: WalPosition["walEnd"]
  ): WalMessage {
    let m: PgoutputMessage
    try {
      m = unsafeDecodePgoutput(bytes, this.inStream ? this.insideStream : this.outsideStream, start, end)
    } catch (e) {
      if (isProtocolError(e)) {
        throw replicationError("Protocol", {
          message: `The server sent a pgoutput message that cannot be decoded: ${e.message}`,
          cause: e
        })
      }
      throw e
    }
    this.track(m)
    return this.resolve(m, { walStart, walEnd })
  }

  decode(x: XLogData): Result.Result<WalMessage, ReplicationError> {
    try {
      return Result.succeed(this.unsafeDecode(x))
    } catch (e) {
      if (e instanceof ReplicationError) return Result.fail(e)
      throw e
    }
  }

  private track(m: PgoutputMessage): void {
    switch (m._tag) {
      case "Begin":
      case "BeginPrepare":
        this.inPlainTransaction = true
        break
      case "Commit":
      case "Prepare":
      case "CommitPrepared":
      case "RollbackPrepared":
        this.inPlainTransaction = false
        break
      case "StreamStart":
        this.inStream = true
        this.openStreamed.add(m.xid)
        break
      case "StreamStop":
        this.inStream = false
        break
      case "StreamCommit":
      case "StreamPrepare":
        this.openStreamed.delete(m.xid)
        break
      case "StreamAbort":
        if (m.subXid === m.xid) this.openStreamed.delete(m.xid)
        break
      default:
        break
    }
  }

  private table(relationId: number, what: string): Table {
    const t = this.cache.get(relationId)
    if (t === undefined) {
      throw replicationError("UnknownRelation", {
        message: `${what} refers to relation id ${relationId}, which no Relation message described in this session`
      })
    }
    return t
  }

  private row(table: Table, tuple: TupleData, keyOnly: boolean): Row {
    if (tuple.length !== table.columns.length) {
      throw replicationError("Protocol", {
        message: `A row of ${table.schema}.${table.name} has ${tuple.length} columns; its Relation message listed ${table.columns.length}`
      })
    }
    const row: Record<string, ColumnValue> = {}
    for (let i = 0; i < tuple.length; i++) {
      const column = table.columns[i]!
      if (keyOnly && !column.isKey) continue
      const raw = tuple[i]!
      let value: ColumnValue
      if (raw === null || raw === UnchangedToast) value = raw
      else {
        try {
          value =
            typeof raw === "string"
              ? decodeText(column.typeOid, raw, this.cache)
              : decodeBinary(column.typeOid, raw, this.cache)
        } catch (e) {
          if (e instanceof ValueError) {
            throw replicationError("Decode", {
              message: `Column ${table.schema}.${table.name}.${column.name}: ${e.message}`,
              cause: e
            })
          }
          throw e
        }
      }
      setColumn(row, column.name, value)
    }
    return row
  }

  private resolve(m: PgoutputMessage, at: WalPosition): WalMessage {
    switch (m._tag) {
      case "Relation":
        return { _tag: "Relation", ...at, xid: m.xid, table: this.cache.relation(m) }
      case "Type":
        this.cache.type(m)
        return { ...m, ...at }
      case "Insert": {
        const table = this.table(m.relationId, "Insert")
        return { _tag: "Insert", ...at, xid: m.xid, table, new: this.row(table, m.newTuple, false) }
      }
      case "Update": {
        const table = this.table(m.relationId, "Update")
        return {
          _tag: "Update",
          ...at,
          xid: m.xid,
          table,
          key: m.key === undefined ? undefined : this.row(table, m.key, true),
          old: m.old === undefined ? undefined : this.row(table, m.old, false),
          new: this.row(table, m.newTuple, false)
        }
      }
      case "Delete": {
        const table = this.table(m.relationId, "Delete")
        return {
          _tag: "Delete",
          ...at,
          xid: m.xid,
          table,
          key: m.key === undefined ? undefined : this.row(table, m.key, true),
          old: m.old === undefined ? undefined : this.row(table, m.old, false)
        }
      }
      case "Truncate":
        return {
          _tag: "Truncate",
          ...at,
          xid: m.xid,
          cascade: m.cascade,
          restartIdentity: m.restartIdentity,
          tables: m.relationIds.map((id) => this.table(id, "Truncate"))
        }
      // Begin and Commit come with every transaction: built as literals, the same properties in the same order as
      // the spread below, without its generic copy.
      case "Begin":
        return {
          _tag: "Begin",
          finalLsn: m.finalLsn,
          commitTime: m.commitTime,
          xid: m.xid,
          walStart: at.walStart,
          walEnd: at.walEnd
        }
      case "Commit":
        return {
          _tag: "Commit",
          flags: m.flags,
          commitLsn: m.commitLsn,
          endLsn: m.endLsn,
          commitTime: m.commitTime,
          walStart: at.walStart,
          walEnd: at.walEnd
        }
      default:
        return { ...m, ...at }
    }
  }
}
