/**
 * The one error every codec in this package reports: which message, which field, and what was wrong with it.
 *
 * Decoders throw it internally (a throw is the cheapest way out of a deeply nested read on the hot path) and the
 * public `decode*` edges return it inside a `Result`. It never carries the input bytes themselves, only their
 * offset, so an error for a message holding a secret does not leak it into logs.
 */
import * as Data from "effect/Data"

export type ProtocolErrorReason =
  /** The input ended before the field was complete. */
  | "Truncated"
  /** The message was complete but bytes were left after its last field. */
  | "TrailingBytes"
  /** A type byte (or sub-type byte) that the protocol does not define. */
  | "UnknownType"
  /** A length or count field that is negative or points past the message. */
  | "LengthOutOfRange"
  /** A string field that is not valid UTF-8. */
  | "InvalidUtf8"
  /** A message longer than the configured maximum size. */
  | "Oversize"
  /** A field whose value the protocol does not allow (a bad flag, an unknown enum value, an unexpected context). */
  | "InvalidValue"

export class ProtocolError extends Data.TaggedError("ProtocolError")<{
  readonly reason: ProtocolErrorReason
  /** The message being decoded or encoded, named as in the PostgreSQL documentation (e.g. "XLogData"). */
  readonly messageName: string
  /** The field being read, named as in the PostgreSQL documentation (e.g. "walEnd"). */
  readonly field: string
  /** Byte offset of the field within the message, when known. */
  readonly offset?: number | undefined
  /** Free text with specifics (the bad value, the limit that was exceeded). */
  readonly detail?: string | undefined
}> {
  override get message(): string {
    const at = this.offset === undefined ? "" : ` at byte ${this.offset}`
    const detail = this.detail === undefined ? "" : `: ${this.detail}`
    return `${this.reason} in ${this.messageName}.${this.field}${at}${detail}`
  }
}

export const isProtocolError = (u: unknown): u is ProtocolError => u instanceof ProtocolError
