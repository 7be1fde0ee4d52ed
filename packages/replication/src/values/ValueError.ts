/**
 * The error of the value decoders: which type, which format, and what was wrong with the bytes or text.
 *
 * Decoders throw it internally (values nest: an array element inside an array) and the public edges return it in a
 * `Result`. It carries no part of the value itself beyond a short excerpt, so a failed secret does not end up in logs.
 */
import * as Data from "effect/Data"

export class ValueError extends Data.TaggedError("ValueError")<{
  /** The PostgreSQL type OID of the value being decoded. */
  readonly typeOid: number
  /** Text ('t') or binary ('b') tuple format. */
  readonly format: "text" | "binary"
  readonly detail: string
}> {
  override get message(): string {
    return `Cannot decode a ${this.format} value of type OID ${this.typeOid}: ${this.detail}`
  }
}

/** A short, printable excerpt of an offending text, for error details. */
export const excerpt = (text: string): string => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)
