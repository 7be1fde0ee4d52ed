/**
 * Decodes the rows of a snapshot COPY (text format, one CopyData payload per row) into rows keyed by column name,
 * with the same lossless values as the stream: per column the value reader the stream's fast path uses, straight from
 * the COPY bytes (`CopyTextCursor`), falling back to `decodeText` on the unescaped text where a reader gives up.
 * One codec per snapshot table, used by one fiber at a time (the consumer's pull); it keeps no row.
 */
import { CopyTextCursor } from "@pgcdc/protocol"
import { replicationError } from "../../ReplicationError.ts"
import { decodeText } from "../../values/decodeText.ts"
import { ValueError } from "../../values/ValueError.ts"
import type { ColumnValue, Row, Table } from "../../WalMessage.ts"
import { type ColumnReader, columnReaderFor } from "../values/ColumnReaders.ts"
import { type MakeRow, rowMaker } from "../values/RowMaker.ts"
import type { SnapshotTable } from "./plan.ts"

export class SnapshotRowCodec {
  readonly table: Table
  private readonly readers: ReadonlyArray<ColumnReader>
  private readonly make: MakeRow
  private readonly values: Array<ColumnValue>
  private readonly cursor = new CopyTextCursor()
  private readonly snapshot: SnapshotTable

  constructor(snapshot: SnapshotTable) {
    this.snapshot = snapshot
    this.table = snapshot.table
    this.readers = snapshot.table.columns.map((c) => columnReaderFor(c.typeOid, snapshot.types))
    this.make = rowMaker(snapshot.table.columns.map((c) => c.name))
    this.values = new Array<ColumnValue>(snapshot.table.columns.length).fill(null)
  }

  /** The row that is the COPY payload `bytes[start, end)`; throws `ReplicationError`. */
  decode(bytes: Uint8Array, start: number, end: number): Row {
    const columns = this.table.columns
    const row = this.cursor.reset(bytes, columns.length, start, end)
    for (let i = 0; i < columns.length; i++) {
      row.next()
      if (row.isNull) {
        this.values[i] = null
        continue
      }
      const at = row.reader.pos
      try {
        this.values[i] = this.readers[i]!(row.reader, row.length)
      } catch {
        // The general decoder on the field's text reports exactly what is wrong (or decodes what the reader skipped).
        row.reader.pos = at
        this.values[i] = this.general(i, row.text()!)
      }
    }
    return this.make(this.values)
  }

  private general(i: number, text: string): ColumnValue {
    const column = this.table.columns[i]!
    try {
      return decodeText(column.typeOid, text, this.snapshot.types)
    } catch (e) {
      if (e instanceof ValueError) {
        throw replicationError("Decode", {
          message: `Column ${this.table.schema}.${this.table.name}.${column.name} (snapshot): ${e.message}`,
          cause: e
        })
      }
      throw e
    }
  }
}
