/**
 * Log sequence numbers: a position in the WAL, as an unsigned 64-bit integer, written `X/Y` by PostgreSQL
 * (two hexadecimal 32-bit halves).
 *
 * `Lsn` is a branded `bigint` so that a byte count or an xid can never be passed where a WAL position is meant.
 * This module parses and formats the text form, orders positions and measures the distance between them.
 * Its Effect Schemas (`LsnSchema`, `LsnFromString`) are in `LsnSchema.ts`, exported by `@pgcdc/protocol/schema`.
 * It does not know anything about timelines or segments.
 */
import type * as Brand from "effect/Brand"
import * as Order from "effect/Order"
import * as Result from "effect/Result"
import { ProtocolError } from "./ProtocolError.ts"

export type Lsn = bigint & Brand.Brand<"Lsn">

const MAX = 0xffff_ffff_ffff_ffffn

/** Brands a bigint as an LSN without checking; for values read from the wire, which are u64 by construction. */
export const unsafeMake = (n: bigint): Lsn => n as Lsn

/** The LSN whose high and low 32-bit words are `hi` and `lo` (as `readXLogDataPositions` reads them). */
export const fromWords = (hi: number, lo: number): Lsn =>
  // Below 2^53 one double holds it exactly: one BigInt instead of three.
  (hi < 0x200000 ? BigInt(hi * 4294967296 + lo) : (BigInt(hi) << 32n) | BigInt(lo)) as Lsn

/** The invalid position `0/0` (InvalidXLogRecPtr), which the protocol uses for "none" and "from the slot". */
export const zero: Lsn = 0n as Lsn

/** Brands a bigint, failing unless it is in the unsigned 64-bit range. */
export const make = (n: bigint): Result.Result<Lsn, ProtocolError> =>
  n >= 0n && n <= MAX
    ? Result.succeed(n as Lsn)
    : Result.fail(
        new ProtocolError({
          reason: "InvalidValue",
          messageName: "Lsn",
          field: "value",
          detail: `${n} is outside the unsigned 64-bit range`
        })
      )

const pattern = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/** Parses PostgreSQL's `X/Y` form (e.g. `16/B374D848`). */
export const parse = (text: string): Result.Result<Lsn, ProtocolError> => {
  const m = pattern.exec(text)
  if (m === null) {
    return Result.fail(
      new ProtocolError({
        reason: "InvalidValue",
        messageName: "Lsn",
        field: "text",
        detail: `${JSON.stringify(text)} is not an LSN; expected two hexadecimal halves like "16/B374D848"`
      })
    )
  }
  return Result.succeed(((BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`)) as Lsn)
}

/** Parses `X/Y`, throwing on bad input; for literals in code and tests. */
export const unsafeParse = (text: string): Lsn => {
  const r = parse(text)
  if (Result.isFailure(r)) throw r.failure
  return r.success
}

/** Formats as PostgreSQL does: upper-case hexadecimal halves without leading zeros. */
export const format = (lsn: Lsn): string =>
  `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffff_ffffn).toString(16).toUpperCase()}`

export const Order_: Order.Order<Lsn> = Order.BigInt as Order.Order<Lsn>
export { Order_ as Order }

export const max = (a: Lsn, b: Lsn): Lsn => (a > b ? a : b)
export const min = (a: Lsn, b: Lsn): Lsn => (a < b ? a : b)

/** Bytes of WAL from `from` to `to` (negative when `to` is before `from`). */
export const diff = (to: Lsn, from: Lsn): bigint => to - from
