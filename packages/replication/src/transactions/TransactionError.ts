/**
 * The error of the transaction views: the message sequence broke pgoutput's rules (a Commit without a Begin, a row
 * change outside any transaction, a StreamCommit for an xid never streamed), or a streamed transaction grew past the
 * limit the caller set for holding it in memory.
 *
 * It names the message and the xid, never row values.
 */
import * as Schema from "effect/Schema"

export const TransactionErrorReason = Schema.Literals([
  /** A message arrived where pgoutput never sends it. */
  "Sequence",
  /** A streamed transaction held in memory exceeded `maxStreamedChanges`. */
  "TooLarge"
])
export type TransactionErrorReason = typeof TransactionErrorReason.Type

export class TransactionError extends Schema.TaggedError<TransactionError>()("TransactionError", {
  reason: TransactionErrorReason,
  message: Schema.String,
  xid: Schema.optional(Schema.Number)
}) {}
