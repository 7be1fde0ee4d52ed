/**
 * The decoded value of one column: what a row of a `WalMessage` holds for a non-NULL, sent column.
 *
 * The mapping from PostgreSQL types is fixed (see README): int2/int4/oid/float → `number`, int8 → `bigint`,
 * numeric → `Numeric`, bool → `boolean`, character types/uuid/enums/unknown types in text → `string`, bytea → a
 * copied `Uint8Array`, json/jsonb → `Json`, the date/time types → their `Pg*` value, arrays → `PgArray`, domains →
 * their base type's value, composites and ranges → their text (in both modes, when the type catalog knows them).
 * Values of types this package does not know arrive as their text, or (binary mode) as their bytes.
 */
import type { Json } from "./Json.ts"
import type { Numeric } from "./Numeric.ts"
import type { PgDate } from "./PgDate.ts"
import type { PgInterval } from "./PgInterval.ts"
import type { PgTime, PgTimeTz } from "./PgTime.ts"
import type { PgTimestamp, PgTimestampTz } from "./PgTimestamp.ts"

export type PgValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | Numeric
  | Json
  | PgDate
  | PgTime
  | PgTimeTz
  | PgTimestamp
  | PgTimestampTz
  | PgInterval
  | PgArray

export interface PgArrayDimension {
  /** Number of elements along this dimension. */
  readonly length: number
  /** Index of the first element (1 unless the array was written with explicit bounds such as `[0:2]={…}`). */
  readonly lowerBound: number
}

/**
 * An array of any dimension. `elements` is flat in row-major order (the last dimension varies fastest), with SQL
 * NULL elements as `null`; `toNested` gives nested JavaScript arrays. An empty array has no dimensions.
 */
export interface PgArray {
  readonly _tag: "PgArray"
  readonly dimensions: ReadonlyArray<PgArrayDimension>
  readonly elements: ReadonlyArray<PgValue | null>
}

export type NestedElements = ReadonlyArray<PgValue | null | NestedElements>

/** The elements as nested arrays, one level per dimension (lower bounds are not represented: see `dimensions`). */
export const toNested = (array: PgArray): NestedElements => {
  const build = (dim: number, offset: number): { readonly out: NestedElements; readonly size: number } => {
    const d = array.dimensions[dim]!
    if (dim === array.dimensions.length - 1) {
      return { out: array.elements.slice(offset, offset + d.length), size: d.length }
    }
    const out: Array<NestedElements> = []
    let at = offset
    for (let i = 0; i < d.length; i++) {
      const sub = build(dim + 1, at)
      out.push(sub.out)
      at += sub.size
    }
    return { out, size: at - offset }
  }
  return array.dimensions.length === 0 ? [] : build(0, 0).out
}
