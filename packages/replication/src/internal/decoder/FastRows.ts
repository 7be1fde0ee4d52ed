/**
 * The fast path for row changes (the bulk of any stream): the tuple is read straight from the message bytes by a
 * value reader per column, chosen when the Relation arrived (values/ColumnReaders.ts), into a row built by a
 * per-relation constructor (values/RowMaker.ts), with no TupleData strings in between.
 *
 * With lazy values, a row's columns are not decoded here but on first access (values/LazyRow.ts).
 *
 * Anything it does not handle, including every error, makes it answer `undefined`: the caller then decodes the
 * message on the general path (resolveMessage.ts), which gives the same values and reports errors exactly; tests hold
 * the two paths equal. It keeps no state but its per-relation codecs, rebuilt when a Relation replaces a table.
 */
import {
  type PgoutputOptions,
  type Reader,
  type RowChangeOf,
  readTextValue,
  UnchangedToast,
  unsafeDecodeRowChange
} from "@pgcdc/protocol"
import { decodeBinary } from "../../values/decodeBinary.ts"
import type { ColumnValue, Row, Table, WalMessage, WalPosition } from "../../WalMessage.ts"
import { type ColumnReader, columnReaderFor } from "../values/ColumnReaders.ts"
import { type LazyCodec, lazyCodec, readLazyRow } from "../values/LazyRow.ts"
import { type MakeRow, rowMaker, setColumn } from "../values/RowMaker.ts"
import type { RelationCache } from "./RelationCache.ts"

/** What the fast path knows about one relation: its table and a value reader per column. */
interface RowCodec {
  readonly table: Table
  readonly readers: ReadonlyArray<ColumnReader>
  /** Builds a whole row from its values in column order. */
  readonly make: MakeRow
  /** Where `readRow` collects a row's values before `make` (one row at a time, so one array per relation). */
  readonly values: Array<ColumnValue>
  /** With `values: "lazy"`: how its rows are built undecoded. */
  readonly lazy: LazyCodec | undefined
}

/** Thrown inside the fast path to hand the message to the general path. */
const FALLBACK: unique symbol = Symbol("FastRows.fallback")

const KIND_TEXT = 0x74
const KIND_NULL = 0x6e
const KIND_TOAST = 0x75
const KIND_BINARY = 0x62

export class FastRows {
  private readonly cache: RelationCache
  private readonly codecs = new Map<number, RowCodec>()
  /** The codec of the last tuple read (its table goes into the message without another lookup). */
  private lastCodec: RowCodec | undefined = undefined

  /** Rows (not keys: they hold only the key columns) decode their columns on first access. */
  private readonly lazy: boolean

  constructor(cache: RelationCache, lazy = false) {
    this.cache = cache
    this.lazy = lazy
  }

  /** The row codec of a relation, rebuilt when a new Relation message replaced its table. */
  private codec(relationId: number): RowCodec | undefined {
    const table = this.cache.get(relationId)
    if (table === undefined) return undefined
    const known = this.codecs.get(relationId)
    if (known !== undefined && known.table === table) return known
    const readers = table.columns.map((c) => columnReaderFor(c.typeOid, this.cache))
    const make = rowMaker(table.columns.map((c) => c.name))
    const codec: RowCodec = {
      table,
      readers,
      make,
      values: new Array<ColumnValue>(table.columns.length).fill(null),
      lazy: this.lazy ? lazyCodec(table, readers, this.cache, make) : undefined
    }
    this.codecs.set(relationId, codec)
    return codec
  }

  /**
   * Reads one TupleData straight into a row: each text value decoded from the bytes by its column's reader. Anything
   * it does not handle (unknown relation, column count mismatch, a value its reader rejects, invalid UTF-8) throws.
   */
  private readonly readRow = (r: Reader, relationId: number, keyOnly: boolean): Row => {
    const codec = this.codec(relationId)
    if (codec === undefined) throw FALLBACK
    this.lastCodec = codec
    const columns = codec.table.columns
    const readers = codec.readers
    const n = r.i16("columnCount")
    if (n !== columns.length) throw FALLBACK
    if (codec.lazy !== undefined && !keyOnly) return readLazyRow(r, codec.lazy, n)
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

  /** The Insert, Update or Delete in `bytes[start, end)`; undefined when the general path must decode it. */
  decode(
    bytes: Uint8Array,
    options: PgoutputOptions,
    start: number,
    end: number,
    walStart: WalPosition["walStart"],
    walEnd: WalPosition["walEnd"]
  ): WalMessage | undefined {
    let m: RowChangeOf<Row> | undefined
    try {
      m = unsafeDecodeRowChange(bytes, options, this.readRow, start, end)
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
        return { _tag: "Update", walStart, walEnd, xid: m.xid, table, key: m.key, old: m.old, new: m.newTuple }
      case "Delete":
        return { _tag: "Delete", walStart, walEnd, xid: m.xid, table, key: m.key, old: m.old }
    }
  }
}
