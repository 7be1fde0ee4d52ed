/**
 * `@pgcdc/replication/rows`: typed rows: one table's changes decoded by an Effect Schema, and Schemas for pgcdc's
 * lossless values with explicit (named) conversions to JavaScript types.
 *
 * Its own entry point (`import * as Rows from "@pgcdc/replication/rows"`), not part of `@pgcdc/replication`: Effect
 * Schema is about 80 modules and about 100 ms of CPU at every process start, which a consumer that never types its
 * rows should not pay.
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
