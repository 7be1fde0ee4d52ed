/**
 * Lazy rows (the `values: "lazy"` option): a row whose columns are decoded on first access, for consumers that read
 * a key or pass most values through. Reading a row costs a scan of the tuple's lengths and three small objects; each
 * column is decoded by the same reader the eager path uses (values/ColumnReaders.ts) when it is first read, and kept.
 *
 * The row is a `Proxy` over a plain object whose own enumerable properties are the columns in order, as an eager
 * row's (a column not read yet holds a placeholder the proxy never hands out): property access, `in`, `Object.keys`,
 * spread, `JSON.stringify` and deep equality see the eager row's values (property-tested), and assignment replaces
 * a value. (Accessor properties were the other way: building an object literal of accessors cost 3-10 µs per row on
 * Node 24, a proxy 0.1-0.3 µs.) `structuredClone` cannot clone a proxy: clone `{ ...row }`.
 *
 * The row reads its bytes from the socket read it came from, which nothing reuses (connection/CopyDataPull.ts hands
 * out views of fresh chunks; the framer assembles a message that spans chunks into a fresh buffer): no copy, but a
 * lazy row keeps that read (up to 64 KB) alive while it lives; `{ ...row }` decodes it and lets the read go.
 *
 * What it deliberately does not do: validate values before they are read. A value that cannot be decoded (or invalid
 * UTF-8) fails when its column is read, with a `ReplicationError` thrown by the property access.
 */
import { isProtocolError, Reader, readTextValue, UnchangedToast } from "@pgcdc/protocol"
import { replicationError } from "../../ReplicationError.ts"
import { decodeBinary } from "../../values/decodeBinary.ts"
import { decodeText } from "../../values/decodeText.ts"
import type { TypeResolver } from "../../values/TypeResolver.ts"
import { ValueError } from "../../values/ValueError.ts"
import type { ColumnValue, Row, Table } from "../../WalMessage.ts"
import type { ColumnReader } from "./ColumnReaders.ts"
import type { MakeRow } from "./RowMaker.ts"

const KIND_TEXT = 0x74
const KIND_NULL = 0x6e
const KIND_TOAST = 0x75
const KIND_BINARY = 0x62

/** A column not read yet: only ever in a proxy's target, never handed out (and printed as such by `util.inspect`). */
const PENDING: ColumnValue = Object.freeze({
  [Symbol.for("nodejs.util.inspect.custom")]: () => "[not decoded yet]"
}) as unknown as ColumnValue

/** One reader for every lazy decode: decoding is synchronous, so no two decodes share it at once. */
const shared = new Reader(new Uint8Array(0), "TupleData")

/** What a relation's lazy rows share. */
export interface LazyCodec {
  readonly table: Table
  readonly readers: ReadonlyArray<ColumnReader>
  readonly types: TypeResolver
  /** Builds the proxy's target: every column, in order, holding the placeholder. */
  readonly make: MakeRow
  readonly placeholders: ReadonlyArray<ColumnValue>
  /** Column name → index (a column name is any string, so a Map, not an object). */
  readonly index: ReadonlyMap<string, number>
}

export const lazyCodec = (
  table: Table,
  readers: ReadonlyArray<ColumnReader>,
  types: TypeResolver,
  make: MakeRow
): LazyCodec => ({
  table,
  readers,
  types,
  make,
  placeholders: table.columns.map(() => PENDING),
  index: new Map(table.columns.map((c, i) => [c.name, i]))
})

/**
 * The proxy handler of one row: where its TupleData starts in `buf`, and (from the first read on) where each value
 * starts (`at[2i]`: -1 for NULL, -2 for unchanged TOAST) and its length (`at[2i + 1]`, `-(length + 1)` when binary).
 */
class LazyValues implements ProxyHandler<Record<string, ColumnValue>> {
  private readonly codec: LazyCodec
  private readonly buf: Uint8Array
  private readonly from: number
  private at: Array<number> | undefined = undefined

  constructor(codec: LazyCodec, buf: Uint8Array, from: number) {
    this.codec = codec
    this.buf = buf
    this.from = from
  }

  get(target: Record<string, ColumnValue>, key: string | symbol): unknown {
    const v = (target as Record<string | symbol, unknown>)[key]
    return v === PENDING ? this.fill(target, key as string) : v
  }

  getOwnPropertyDescriptor(target: Record<string, ColumnValue>, key: string | symbol): PropertyDescriptor | undefined {
    if (typeof key === "string" && Object.hasOwn(target, key) && target[key] === PENDING) this.fill(target, key)
    return Reflect.getOwnPropertyDescriptor(target, key)
  }

  set(target: Record<string, ColumnValue>, key: string | symbol, value: unknown): boolean {
    ;(target as Record<string | symbol, unknown>)[key] = value
    return true
  }

  private fill(target: Record<string, ColumnValue>, key: string): ColumnValue {
    const v = this.decode(this.codec.index.get(key)!)
    target[key] = v
    return v
  }

  /** Where each value is: the tuple's lengths read again (the bytes were checked when the row was read). */
  private positions(): Array<number> {
    const n = this.codec.table.columns.length
    const at = new Array<number>(2 * n)
    const buf = this.buf
    let pos = this.from + 2
    for (let i = 0; i < n; i++) {
      const kind = buf[pos++]
      if (kind === KIND_TEXT || kind === KIND_BINARY) {
        const length = ((buf[pos]! << 24) | (buf[pos + 1]! << 16) | (buf[pos + 2]! << 8) | buf[pos + 3]!) >>> 0
        pos += 4
        at[2 * i] = pos
        at[2 * i + 1] = kind === KIND_BINARY ? -(length + 1) : length
        pos += length
      } else {
        at[2 * i] = kind === KIND_NULL ? -1 : -2
        at[2 * i + 1] = 0
      }
    }
    this.at = at
    return at
  }

  private decode(i: number): ColumnValue {
    const at = this.at ?? this.positions()
    const start = at[2 * i]!
    if (start === -1) return null
    if (start === -2) return UnchangedToast
    const stored = at[2 * i + 1]!
    const column = this.codec.table.columns[i]!
    try {
      if (stored < 0) {
        return decodeBinary(column.typeOid, copy.call(this.buf, start, start - stored - 1), this.codec.types)
      }
      const end = start + stored
      try {
        const v = this.codec.readers[i]!(shared.reset(this.buf, "TupleData", start, end), stored)
        if (shared.pos === end) return v
      } catch {
        // The general decoder below reports what is wrong exactly (as the eager path's fallback does).
      }
      const text = readTextValue(shared.reset(this.buf, "TupleData", start, end), stored)
      return decodeText(column.typeOid, text, this.codec.types)
    } catch (e) {
      const t = this.codec.table
      const where = `Column ${t.schema}.${t.name}.${column.name}`
      if (e instanceof ValueError) throw replicationError("Decode", { message: `${where}: ${e.message}`, cause: e })
      if (isProtocolError(e)) throw replicationError("Protocol", { message: `${where}: ${e.message}`, cause: e })
      throw e
    }
  }
}

const copy = Uint8Array.prototype.slice

/**
 * Reads one TupleData's column kinds and lengths (not its values) from `r` into a lazy row; throws `ProtocolError`
 * on bytes that are not a TupleData of `codec`'s relation (the caller then decodes it on the general path).
 */
export const readLazyRow = (r: Reader, codec: LazyCodec, n: number): Row => {
  // The column count (already read and checked) is where the positions scan starts.
  const from = r.pos - 2
  for (let i = 0; i < n; i++) {
    const kind = r.u8("columnKind")
    if (kind === KIND_TEXT || kind === KIND_BINARY) {
      const length = r.length("columnLength")
      r.need(length, "columnValue")
      r.pos += length
    } else if (kind !== KIND_NULL && kind !== KIND_TOAST) r.fail("InvalidValue", "columnKind", `unknown kind ${kind}`)
  }
  return new Proxy(codec.make(codec.placeholders), new LazyValues(codec, r.buf, from))
}
