/**
 * Typed rows: one table's changes decoded by an Effect Schema, and Schemas for pgcdc's lossless values with
 * explicit (named) conversions to JavaScript types.
 */
export * as PgSchema from "./PgSchema.ts"
export { RowDecodeError, RowDecodeErrorReason } from "./RowDecodeError.ts"
export {
  changes,
  completeFromOld,
  decodeAll,
  isComplete,
  make,
  type RowChange,
  type RowDelete,
  type RowInsert,
  type RowSchema,
  type RowTruncate,
  type RowUpdate,
  showValue,
  type TableRows,
  type TableRowsOptions,
  type WithUnchanged
} from "./TypedRows.ts"
