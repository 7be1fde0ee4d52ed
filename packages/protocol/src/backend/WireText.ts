/**
 * Checks shared by the frontend and backend encoders: values that the wire format cannot carry (a NUL inside a
 * NUL-terminated string, a number outside its integer field) would otherwise produce bytes that decode to something
 * else, so the encoders reject them with a `ProtocolError` instead.
 */
import { ProtocolError } from "../ProtocolError.ts"
import type { Writer } from "../Writer.ts"

export const invalid = (messageName: string, field: string, detail: string): never => {
  throw new ProtocolError({ reason: "InvalidValue", messageName, field, detail })
}

/** Writes a NUL-terminated string, rejecting embedded NULs. */
export const writeCString = (w: Writer, s: string, messageName: string, field: string): void => {
  if (s.includes("\0")) invalid(messageName, field, "contains a NUL character")
  w.cstring(s)
}

export const checkInt = (v: number, min: number, max: number, messageName: string, field: string): number => {
  if (!Number.isInteger(v) || v < min || v > max)
    invalid(messageName, field, `${v} is not an integer in [${min}, ${max}]`)
  return v
}

export const INT16_MIN = -0x8000
export const INT16_MAX = 0x7fff
export const INT32_MIN = -0x8000_0000
export const INT32_MAX = 0x7fff_ffff
export const UINT32_MAX = 0xffff_ffff
