/**
 * The error of typed rows: a column value that does not fit the user's Schema, or a column the Schema requires
 * that the table (as PostgreSQL last described it) does not have. It names the table, the column, the operation
 * and which row image (new, old, key) held the value, and shows the value: typed rows exist to turn a silently
 * wrong value into this error.
 */
import * as Schema from "effect/Schema"

export const RowDecodeErrorReason = Schema.Literals([
  /** The column's value does not fit the Schema. */
  "Mismatch",
  /** The Schema requires a column that the row does not have (dropped, renamed, or never there). */
  "MissingColumn"
])
export type RowDecodeErrorReason = typeof RowDecodeErrorReason.Type

export class RowDecodeError extends Schema.TaggedError<RowDecodeError>()("RowDecodeError", {
  reason: RowDecodeErrorReason,
  /** `schema.table` */
  table: Schema.String,
  /** The column the problem is in; undefined when the Schema rejected the row as a whole. */
  column: Schema.optional(Schema.String),
  /** The offending value as text (shortened), or undefined for a missing column. */
  value: Schema.optional(Schema.String),
  operation: Schema.Literals(["Insert", "Update", "Delete"]),
  part: Schema.Literals(["new", "old", "key"]),
  message: Schema.String,
  /** The SchemaError with the full issue. */
  cause: Schema.optional(Schema.Defect())
}) {}
