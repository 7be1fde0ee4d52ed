/**
 * Whether a transaction is open after each message of a session (the feedback state may advance an idle slot only
 * when none is), and whether the decoder is inside a streamed block (pgoutput messages carry an xid there). Plain
 * transactions open at Begin or BeginPrepare and end at Commit, Prepare or a decision; streamed ones stay open by xid
 * from their first StreamStart until StreamCommit, StreamPrepare or the StreamAbort of the whole transaction.
 *
 * Exhaustive over pgoutput messages: a new one is a compile error here. It keeps no rows.
 */
import type { PgoutputMessage } from "@pgcdc/protocol"

export class TransactionTracker {
  /** Between StreamStart and StreamStop. */
  inStream = false
  private inPlainTransaction = false
  private readonly openStreamed = new Set<number>()

  /** Whether a transaction (plain, or streamed and not yet committed or aborted) is open after the last message. */
  get inTransaction(): boolean {
    return this.inPlainTransaction || this.openStreamed.size > 0
  }

  track(m: PgoutputMessage): void {
    switch (m._tag) {
      case "Begin":
      case "BeginPrepare":
        this.inPlainTransaction = true
        return
      case "Commit":
      case "Prepare":
      case "CommitPrepared":
      case "RollbackPrepared":
        this.inPlainTransaction = false
        return
      case "StreamStart":
        this.inStream = true
        this.openStreamed.add(m.xid)
        return
      case "StreamStop":
        this.inStream = false
        return
      case "StreamCommit":
      case "StreamPrepare":
        this.openStreamed.delete(m.xid)
        return
      case "StreamAbort":
        if (m.subXid === m.xid) this.openStreamed.delete(m.xid)
        return
      // Inside a transaction (or, for a non-transactional Message, outside any): nothing opens or closes.
      case "Message":
      case "Origin":
      case "Relation":
      case "Type":
      case "Insert":
      case "Update":
      case "Delete":
      case "Truncate":
        return
    }
  }
}
