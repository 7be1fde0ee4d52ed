/**
 * One `WalMessage` as one line of JSON: what `pgcdc tail` and `pgcdc snapshot` print (the format is documented in
 * packages/cli/README.md).
 *
 * JSON has no bigint, no bytes and no LSN, so: LSN fields ("walStart", "walEnd", "lsn", "consistentPoint", any name ending in "Lsn") become
 * PostgreSQL's "X/Y" text, timestamp fields (names ending in "Time") exact ISO 8601 UTC with microseconds, other
 * bigints decimal strings, bytes lowercase hex. Row values keep JSON's own types where they are exact (text,
 * booleans, finite int2/int4/float numbers); everything else is PostgreSQL's text form of the value: int8 and
 * numeric as decimal strings, json/jsonb as their JSON text, dates, times, intervals and arrays as the server prints
 * them. An unchanged TOASTed column (not sent by PostgreSQL) is `{"unchangedToast":true}`, never null.
 *
 * It deliberately writes no trailing newline and never throws for a value it does not know: such a value falls back
 * to a generic conversion.
 */
import {
  type ColumnValue,
  encodeText,
  Lsn,
  type Row,
  type Table,
  Timestamp,
  UnchangedToast,
  type WalMessage
} from "@pgcdc/replication"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

export const unchangedToastMarker = { unchangedToast: true } as const

const hex = (b: Uint8Array): string => {
  let s = ""
  for (const x of b) s += x.toString(16).padStart(2, "0")
  return s
}

const isLsnField = (key: string): boolean =>
  key === "walStart" || key === "walEnd" || key === "lsn" || key === "consistentPoint" || key.endsWith("Lsn")
const isTimeField = (key: string): boolean => key.endsWith("Time")

/** Any message field, by its name where the type alone does not say what a bigint is. */
const field = (key: string, value: unknown): Json | undefined => {
  if (value === undefined) return undefined
  if (value === null || typeof value === "string" || typeof value === "boolean") return value
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value)
  if (typeof value === "bigint") {
    if (isLsnField(key)) return Lsn.format(Lsn.unsafeMake(value))
    if (isTimeField(key)) return Timestamp.format(value)
    return value.toString()
  }
  if (value instanceof Uint8Array) return hex(value)
  if (Array.isArray(value)) return value.map((v) => field("", v) ?? null)
  if (typeof value === "object") {
    const out: Record<string, Json> = {}
    for (const [k, v] of Object.entries(value)) {
      const converted = field(k, v)
      if (converted !== undefined) out[k] = converted
    }
    return out
  }
  return String(value)
}

/** One column value; `typeOid` picks PostgreSQL's text form for values JSON cannot hold exactly. */
export const columnValue = (typeOid: number | undefined, value: ColumnValue): Json => {
  if (value === null) return null
  if (value === UnchangedToast) return unchangedToastMarker
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) ? value : String(value)
    case "bigint":
      return value.toString()
  }
  if (value instanceof Uint8Array) return hex(value)
  if (value._tag === "Numeric") return value.value
  if (value._tag === "Json") return value.text
  if (typeOid !== undefined) {
    try {
      return encodeText(typeOid, value)
    } catch {
      // A value that does not belong to the column's type: fall through to the generic form.
    }
  }
  return field("", value) ?? null
}

const rowOf = (table: Table, row: Row | undefined): Json | undefined => {
  if (row === undefined) return undefined
  const out: Record<string, Json> = {}
  for (const [name, value] of Object.entries(row)) {
    out[name] = columnValue(table.columns.find((c) => c.name === name)?.typeOid, value)
  }
  return out
}

const tableName = (table: Table) => ({ schema: table.schema, table: table.name })

/** The JSON object of a message (before stringification). */
export const toJson = (message: WalMessage): { readonly [key: string]: Json } => {
  const out: Record<string, Json> = {}
  const put = (key: string, value: Json | undefined) => {
    if (value !== undefined) out[key] = value
  }
  switch (message._tag) {
    case "Insert":
    case "Update":
    case "Delete":
    case "Read":
    case "Relation": {
      put("_tag", message._tag)
      put("walStart", field("walStart", message.walStart))
      put("walEnd", field("walEnd", message.walEnd))
      if (message._tag !== "Read") put("xid", field("xid", message.xid))
      const { schema, table } = tableName(message.table)
      put("schema", schema)
      put("table", table)
      if (message._tag === "Relation") {
        put("replicaIdentity", message.table.replicaIdentity)
        put("columns", field("columns", message.table.columns))
      }
      if (message._tag === "Update" || message._tag === "Delete") {
        put("key", rowOf(message.table, message.key))
        put("old", rowOf(message.table, message.old))
      }
      if (message._tag === "Insert" || message._tag === "Update" || message._tag === "Read") {
        put("new", rowOf(message.table, message.new))
      }
      return out
    }
    case "Truncate": {
      for (const [key, value] of Object.entries(message)) {
        if (key !== "tables") put(key, field(key, value))
      }
      put(
        "tables",
        message.tables.map((t) => tableName(t))
      )
      return out
    }
    default: {
      for (const [key, value] of Object.entries(message)) {
        // SnapshotBegin, SnapshotEnd, BackfillBegin, BackfillEnd: the table by name, as row changes have it.
        if (key === "table" && "table" in message) {
          const { schema, table } = tableName(message.table)
          put("schema", schema)
          put("table", table)
        } else {
          put(key, field(key, value))
        }
      }
      return out
    }
  }
}

/** The message as one line of JSON, without the newline. */
export const toJsonLine = (message: WalMessage): string => JSON.stringify(toJson(message))
