/**
 * Typed rows: the changes of one table, with new, old and key row images decoded by an Effect Schema
 * (`Schema.Struct`) that the user writes for the row in terms of the values pgcdc decodes (see PgSchema.ts).
 *
 * - A value that does not fit is a `RowDecodeError` naming table, column, operation, row image and value; nothing
 *   is coerced.
 * - Rows are matched to the Schema by column name on every change, using the table as the change carries it (the
 *   last Relation message), so ALTER TABLE mid-stream just works when the Schema still fits: a column added and
 *   not in the Schema is ignored (or read, with `Schema.optionalKey`); a column the Schema needs that is gone is a
 *   "MissingColumn" error listing the columns the table has now.
 * - Key images (identity DEFAULT / USING INDEX) hold only key columns: they decode as `Partial<A>` through the
 *   Schema's fields for those columns. A TOASTed column PostgreSQL did not send (unchanged) keeps the
 *   `UnchangedToast` marker in an Update's images; only the columns that were sent are decoded.
 *
 * It deliberately does not look values up elsewhere (no fetching of unchanged TOAST values) and knows nothing of
 * transactions: use it on the raw stream or on the changes of a `Transaction`.
 */
import { type UnchangedToast, UnchangedToast as Unchanged } from "@pgcdc/protocol"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as SchemaIssue from "effect/SchemaIssue"
import type * as Stream from "effect/Stream"
import { statefulMap } from "../internal/transactions/statefulMap.ts"
import * as PgDate from "../values/PgDate.ts"
import * as PgInterval from "../values/PgInterval.ts"
import * as PgTime from "../values/PgTime.ts"
import * as PgTimestamp from "../values/PgTimestamp.ts"
import type { ColumnValue, Row, Table, WalMessage } from "../WalMessage.ts"
import * as FastRow from "../internal/rows/FastRow.ts"
import { RowDecodeError } from "./RowDecodeError.ts"

type Of<T extends WalMessage["_tag"]> = Extract<WalMessage, { readonly _tag: T }>

/** A row image in which columns PostgreSQL did not send (unchanged TOAST) keep the marker. */
export type WithUnchanged<A> = { readonly [K in keyof A]: A[K] | UnchangedToast }

export interface RowInsert<A> {
  readonly _tag: "Insert"
  readonly table: Table
  readonly new: A
  readonly message: Of<"Insert">
}

export interface RowUpdate<A> {
  readonly _tag: "Update"
  readonly table: Table
  readonly new: WithUnchanged<A>
  /** The old row (REPLICA IDENTITY FULL). */
  readonly old: WithUnchanged<A> | undefined
  /** The old key columns, when the key changed (identity DEFAULT / USING INDEX). */
  readonly key: Partial<A> | undefined
  readonly message: Of<"Update">
}

export interface RowDelete<A> {
  readonly _tag: "Delete"
  readonly table: Table
  readonly old: WithUnchanged<A> | undefined
  readonly key: Partial<A> | undefined
  readonly message: Of<"Delete">
}

export interface RowTruncate {
  readonly _tag: "Truncate"
  readonly table: Table
  readonly message: Of<"Truncate">
}

export type RowChange<A> = RowInsert<A> | RowUpdate<A> | RowDelete<A> | RowTruncate

/** A row Schema: a `Schema.Struct` (or anything with its `fields`) that needs no services to decode. */
export type RowSchema = Schema.ConstraintDecoder<unknown> & { readonly fields: Schema.Struct.Fields }

export interface TableRowsOptions<S extends RowSchema> {
  /** `"name"` (schema `public`) or `"schema.name"`, as PostgreSQL spells them (case-sensitive). */
  readonly table: string
  readonly schema: S
}

export interface TableRows<A> {
  readonly schemaName: string
  readonly tableName: string
  /** Whether a change of `table` belongs to these rows. */
  readonly matches: (table: Table) => boolean
  /**
   * Decodes one message: undefined for messages that are not a change of this table (a Truncate of several tables
   * that includes it counts).
   */
  readonly decode: (message: WalMessage) => Result.Result<RowChange<A> | undefined, RowDecodeError>
}

const splitName = (name: string): readonly [string, string] => {
  const dot = name.indexOf(".")
  return dot < 0 ? ["public", name] : [name.slice(0, dot), name.slice(dot + 1)]
}

const hex = (b: Uint8Array): string => {
  let s = "\\x"
  for (const x of b.subarray(0, 32)) s += x.toString(16).padStart(2, "0")
  return b.length > 32 ? `${s}…` : s
}

/** A short printable form of a column value for error messages. */
export const showValue = (value: ColumnValue | undefined): string => {
  const text = (): string => {
    if (value === undefined) return "(absent)"
    if (value === null) return "NULL"
    if (value === Unchanged) return "(unchanged TOAST, not sent)"
    if (typeof value === "string") return JSON.stringify(value)
    if (typeof value === "bigint") return `${value}n`
    if (typeof value === "number" || typeof value === "boolean") return String(value)
    if (value instanceof Uint8Array) return hex(value)
    switch (value._tag) {
      case "Numeric":
        return `numeric ${value.value}`
      case "Json":
        return `json ${value.text}`
      case "PgDate":
        return `date ${PgDate.format(value)}`
      case "PgTime":
        return `time ${PgTime.format(value)}`
      case "PgTimeTz":
        return `timetz ${PgTime.formatTz(value)}`
      case "PgTimestamp":
        return `timestamp ${PgTimestamp.format(value)}`
      case "PgTimestampTz":
        return `timestamptz ${PgTimestamp.formatTz(value)}`
      case "PgInterval":
        return `interval ${PgInterval.format(value)}`
      case "PgArray":
        return `array of ${value.elements.length} element(s)`
    }
  }
  const t = text()
  return t.length > 120 ? `${t.slice(0, 117)}…` : t
}

/** The path to the first failing leaf of an issue, and that leaf. */
const locate = (
  issue: SchemaIssue.Issue
): { readonly path: ReadonlyArray<PropertyKey>; readonly leaf: SchemaIssue.Issue } => {
  switch (issue._tag) {
    case "Pointer": {
      const inner = locate(issue.issue)
      return { path: [...issue.path, ...inner.path], leaf: inner.leaf }
    }
    case "Composite":
      return locate(issue.issues[0])
    case "AnyOf":
      return issue.issues.length > 0 ? locate(issue.issues[0]!) : { path: [], leaf: issue }
    case "Filter":
    case "Encoding":
      return locate(issue.issue)
    default:
      return { path: [], leaf: issue }
  }
}

type Decoder = (input: unknown) => Result.Result<unknown, Schema.SchemaError>

export const make = <S extends RowSchema>(options: TableRowsOptions<S>): TableRows<S["Type"]> => {
  type A = S["Type"]
  const [schemaName, tableName] = splitName(options.table)
  const qualified = `${schemaName}.${tableName}`
  const fields = options.schema.fields
  const fieldNames = Object.keys(fields)
  const full: Decoder = Schema.decodeUnknownResult(options.schema)
  // Plain code for whole rows when every field is a column Schema pgcdc knows; the Schema decides everything else.
  const fast = FastRow.compile(options.schema)
  // Sub-Schemas for partial images (key columns, or all but the unchanged ones), by the columns they keep.
  const partial = new Map<string, Decoder>()
  const decoderFor = (columns: ReadonlyArray<string>): Decoder => {
    if (columns.length === fieldNames.length) return full
    const id = columns.join("\u0000")
    let d = partial.get(id)
    if (d === undefined) {
      const picked: Record<string, Schema.Constraint> = {}
      for (const c of columns) picked[c] = fields[c]!
      const sub: Schema.Constraint = Schema.Struct(picked)
      d = Schema.decodeUnknownResult(sub as Schema.ConstraintDecoder<unknown>)
      partial.set(id, d)
    }
    return d
  }

  const matches = (table: Table): boolean => table.schema === schemaName && table.name === tableName

  const fail = (
    error: Schema.SchemaError,
    row: Row,
    table: Table,
    operation: "Insert" | "Update" | "Delete",
    part: "new" | "old" | "key"
  ): RowDecodeError => {
    const { path, leaf } = locate(error.issue)
    const column = path.length > 0 ? String(path[0]) : undefined
    const where = `Table ${qualified}${column !== undefined ? `, column "${column}"` : ""} (${operation}, ${part} row)`
    if (leaf._tag === "MissingKey" && column !== undefined) {
      return new RowDecodeError({
        reason: "MissingColumn",
        table: qualified,
        column,
        operation,
        part,
        message: `${where}: the Schema requires this column, but the row has none; the table's columns are now ${table.columns.map((c) => c.name).join(", ")}. Make the field optional (Schema.optionalKey) or update the Schema after the ALTER TABLE.`,
        cause: error
      })
    }
    const value = column !== undefined ? showValue(row[column]) : undefined
    return new RowDecodeError({
      reason: "Mismatch",
      table: qualified,
      ...(column !== undefined ? { column } : {}),
      ...(value !== undefined ? { value } : {}),
      operation,
      part,
      message: `${where}: ${value !== undefined ? `value ${value} ` : ""}does not fit the Schema: ${error.message}`,
      cause: error
    })
  }

  /**
   * Decodes an image: "full" needs every Schema field (absent ones are missing columns); "present" decodes only the
   * fields whose columns the image has (key images). Unchanged TOAST columns are left out of decoding and keep
   * their marker.
   */
  const image = (
    row: Row,
    table: Table,
    operation: "Insert" | "Update" | "Delete",
    part: "new" | "old" | "key",
    mode: "full" | "present"
  ): Result.Result<Record<string, unknown>, RowDecodeError> => {
    if (fast !== undefined && mode === "full") {
      // Gives up on missing columns and unchanged TOAST (neither is a value it knows), which the code below handles.
      const decoded = fast(row)
      if (decoded !== undefined) return Result.succeed(decoded)
    }
    const unchanged: Array<string> = []
    const columns: Array<string> = []
    for (const f of fieldNames) {
      const v = row[f]
      if (v === Unchanged) unchanged.push(f)
      else if (mode === "full" || Object.hasOwn(row, f)) columns.push(f)
    }
    let input: Row = row
    if (unchanged.length > 0) {
      const copy: Record<string, ColumnValue> = {}
      for (const c of columns) if (Object.hasOwn(row, c)) copy[c] = row[c]!
      input = copy
    }
    const r = decoderFor(columns)(input)
    if (Result.isFailure(r)) return Result.fail(fail(r.failure, row, table, operation, part))
    if (unchanged.length === 0) return Result.succeed(r.success as Record<string, unknown>)
    const out: Record<string, unknown> = { ...(r.success as Record<string, unknown>) }
    for (const u of unchanged) out[u] = Unchanged
    return Result.succeed(out)
  }

  const optionalImage = (
    row: Row | undefined,
    table: Table,
    operation: "Update" | "Delete",
    part: "old" | "key"
  ): Result.Result<Record<string, unknown> | undefined, RowDecodeError> =>
    row === undefined
      ? Result.succeed(undefined)
      : image(row, table, operation, part, part === "key" ? "present" : "full")

  const decode = (m: WalMessage): Result.Result<RowChange<A> | undefined, RowDecodeError> => {
    switch (m._tag) {
      case "Insert": {
        if (!matches(m.table)) return Result.succeed(undefined)
        const n = image(m.new, m.table, "Insert", "new", "full")
        if (Result.isFailure(n)) return Result.fail(n.failure)
        return Result.succeed({ _tag: "Insert", table: m.table, new: n.success as A, message: m })
      }
      case "Update": {
        if (!matches(m.table)) return Result.succeed(undefined)
        const n = image(m.new, m.table, "Update", "new", "full")
        if (Result.isFailure(n)) return Result.fail(n.failure)
        const old = optionalImage(m.old, m.table, "Update", "old")
        if (Result.isFailure(old)) return Result.fail(old.failure)
        const key = optionalImage(m.key, m.table, "Update", "key")
        if (Result.isFailure(key)) return Result.fail(key.failure)
        return Result.succeed({
          _tag: "Update",
          table: m.table,
          new: n.success as WithUnchanged<A>,
          old: old.success as WithUnchanged<A> | undefined,
          key: key.success as Partial<A> | undefined,
          message: m
        })
      }
      case "Delete": {
        if (!matches(m.table)) return Result.succeed(undefined)
        const old = optionalImage(m.old, m.table, "Delete", "old")
        if (Result.isFailure(old)) return Result.fail(old.failure)
        const key = optionalImage(m.key, m.table, "Delete", "key")
        if (Result.isFailure(key)) return Result.fail(key.failure)
        return Result.succeed({
          _tag: "Delete",
          table: m.table,
          old: old.success as WithUnchanged<A> | undefined,
          key: key.success as Partial<A> | undefined,
          message: m
        })
      }
      case "Truncate": {
        const table = m.tables.find(matches)
        return Result.succeed(table === undefined ? undefined : { _tag: "Truncate", table, message: m })
      }
      default:
        return Result.succeed(undefined)
    }
  }

  return { schemaName, tableName, matches, decode }
}

/** Whether an Update's image has every column (no unchanged TOAST marker). */
export const isComplete = <A>(row: WithUnchanged<A>): row is WithUnchanged<A> & A =>
  Object.values(row).every((v) => v !== Unchanged)

/**
 * An Update's new row with every unchanged TOAST column filled from its old row, or undefined when some cannot be:
 * the old row is only sent with REPLICA IDENTITY FULL, where it holds every value (PostgreSQL 14 to 18).
 */
export const completeFromOld = <A>(update: RowUpdate<A>): A | undefined => {
  if (isComplete(update.new)) return update.new
  const old = update.old
  if (old === undefined) return undefined
  const out: Record<string, unknown> = { ...update.new }
  for (const [k, v] of Object.entries(out)) {
    if (v !== Unchanged) continue
    const o: unknown = (old as Record<string, unknown>)[k]
    if (o === Unchanged || o === undefined) return undefined
    out[k] = o
  }
  return out as A
}

/**
 * The changes of one table from a stream of WAL messages (the raw replication stream, or the changes of
 * transactions), decoded by the Schema. The stream fails with the first `RowDecodeError`, after the changes before it.
 */
export const changes =
  <S extends RowSchema>(options: TableRowsOptions<S>) =>
  <E, R>(self: Stream.Stream<WalMessage, E, R>): Stream.Stream<RowChange<S["Type"]>, E | RowDecodeError, R> =>
    statefulMap(
      self,
      () => make(options),
      (rows: TableRows<S["Type"]>, m: WalMessage, out: Array<RowChange<S["Type"]>>) => {
        const r = rows.decode(m)
        if (Result.isFailure(r)) throw r.failure
        if (r.success !== undefined) out.push(r.success)
      },
      (u: unknown): u is RowDecodeError => u instanceof RowDecodeError
    )

/** Decodes the changes of a transaction (or any list of messages) that belong to the table; stops at the first error. */
export const decodeAll = <A>(
  rows: TableRows<A>,
  messages: ReadonlyArray<WalMessage>
): Result.Result<ReadonlyArray<RowChange<A>>, RowDecodeError> => {
  const out: Array<RowChange<A>> = []
  for (const m of messages) {
    const r = rows.decode(m)
    if (Result.isFailure(r)) return Result.fail(r.failure)
    if (r.success !== undefined) out.push(r.success)
  }
  return Result.succeed(out)
}
