/**
 * The transaction views over the replication stream (`Stream<WalMessage>`):
 *
 * - `transactions`: one element per committed or prepared transaction, in commit order, with all its changes;
 *   aborted streamed transactions and rolled-back subtransactions never appear. Holds one transaction in memory.
 * - `events`: the same sequence as begin / change / end events, so that a transaction of any size passes in
 *   bounded memory; streamed transactions are either held until decided ("buffer") or passed on tentatively.
 * - `acknowledge`: commit the LSN that confirms an element.
 *
 * See docs/transactions.md for the semantics and "which LSN do I commit, and when". It does not confirm anything
 * by itself and does not reorder anything but streamed transactions (which come out at their commit).
 */
import type { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import { lsnToConfirm, type WalMessage } from "../WalMessage.ts"
import { type AssemblerOptions, TransactionAssembler } from "../internal/transactions/TransactionAssembler.ts"
import { TransactionError } from "./TransactionError.ts"
import { statefulMap } from "../internal/transactions/statefulMap.ts"
import type { Change, TransactionBegin, TransactionElement, TransactionEvent } from "./TransactionEvent.ts"

const isTransactionError = (u: unknown): u is TransactionError => u instanceof TransactionError

/**
 * Begin / change / end events in arrival order (streamed transactions at their commit in "buffer" mode, as they
 * arrive in "tentative" mode). Memory: constant for non-streamed transactions; see `AssemblerOptions.streamed`.
 */
export const events: (
  options?: AssemblerOptions
) => <E, R>(self: Stream.Stream<WalMessage, E, R>) => Stream.Stream<TransactionEvent, E | TransactionError, R> =
  (options) => (self) =>
    statefulMapEvents(self, options)

const statefulMapEvents = <E, R>(self: Stream.Stream<WalMessage, E, R>, options: AssemblerOptions | undefined) =>
  statefulMap(
    self,
    () => new TransactionAssembler(options),
    (a: TransactionAssembler, m: WalMessage, out: Array<TransactionEvent>) => a.push(m, out),
    isTransactionError
  )

/** Collects buffered events into whole transactions. */
class Collector {
  private begin: TransactionBegin | undefined = undefined
  private changes: Array<Change> = []

  push(e: TransactionEvent, out: Array<TransactionElement>): void {
    switch (e._tag) {
      case "TransactionBegin":
        this.begin = e
        this.changes = []
        return
      case "TransactionChange":
        this.changes.push(e.change)
        return
      case "TransactionCommit":
      case "TransactionPrepare": {
        const origin = this.begin?.origin
        const changes = this.changes
        this.begin = undefined
        this.changes = []
        out.push(
          e._tag === "TransactionCommit"
            ? { _tag: "Transaction", xid: e.xid, streamed: e.streamed, origin, changes, end: e.end }
            : { _tag: "PreparedTransaction", xid: e.xid, gid: e.gid, streamed: e.streamed, origin, changes, end: e.end }
        )
        return
      }
      case "TransactionInterrupted":
      case "TransactionAbort":
        this.begin = undefined
        this.changes = []
        return
      default:
        out.push(e)
    }
  }
}

/**
 * Whole transactions in commit order (see `TransactionElement`). Streamed transactions are held until their
 * StreamCommit / StreamPrepare, so `maxStreamedChanges` bounds what one may hold.
 */
export const transactions: (options?: {
  readonly maxStreamedChanges?: number | undefined
}) => <E, R>(self: Stream.Stream<WalMessage, E, R>) => Stream.Stream<TransactionElement, E | TransactionError, R> =
  (options) => (self) =>
    statefulMap(
      self,
      () => ({
        assembler: new TransactionAssembler({ streamed: "buffer", maxStreamedChanges: options?.maxStreamedChanges }),
        collector: new Collector(),
        events: [] as Array<TransactionEvent>
      }),
      (s, m: WalMessage, out: Array<TransactionElement>) => {
        s.events.length = 0
        s.assembler.push(m, s.events)
        for (const e of s.events) s.collector.push(e, out)
      },
      isTransactionError
    )

/**
 * Confirms what was processed: an element of `transactions` (a transaction, a decision on a prepared transaction, a
 * standalone message, an aborted streamed transaction), an end event of `events`, or a raw WAL message (a Commit,
 * say). Passes its `WalMessage.lsnToConfirm` to `commit`; in the middle of a transaction it does nothing.
 */
export const acknowledge = <E>(
  replication: { readonly commit: (lsn: Lsn.Lsn) => Effect.Effect<void, E> },
  processed: TransactionElement | TransactionEvent | WalMessage
): Effect.Effect<void, E> => {
  const lsn = lsnToConfirm(processed)
  return lsn === undefined ? Effect.void : replication.commit(lsn)
}
