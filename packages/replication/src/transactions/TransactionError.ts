/**
 * The error of the transaction views: the message sequence broke pgoutput's rules (a Commit without a Begin, a row
 * change outside any transaction, a StreamCommit for an xid never streamed), or a streamed transaction grew past the
 * limit the caller set for holding it in memory.
 *
 * It names the message and the xid, never row values.
 */
import * as Data from "effect/Data"

/**
 * `Sequence`: a message arrived where pgoutput never sends it. `TooLarge`: a streamed transaction held in memory
 * exceeded `maxStreamedChanges`.
 */
export type TransactionErrorReason = "Sequence" | "TooLarge"

/** A plain tagged error, not an Effect Schema class, so that the main entry does not load `effect/Schema`. */
export class TransactionError extends Data.TaggedError("TransactionError")<{
  readonly reason: TransactionErrorReason
  readonly message: string
  readonly xid?: number | undefined
}> {}
