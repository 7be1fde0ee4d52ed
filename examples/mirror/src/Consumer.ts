/**
 * The consumer: keeps an in-memory Map equal to the table by applying the replication stream, and commits each
 * transaction's end LSN once the transaction is applied — the at-least-once pattern every pgcdc consumer follows.
 *
 * Applying is idempotent per row (an insert or update sets the row, a delete removes it), so a transaction the
 * server sends again after a reconnect leaves the Map as it was. An update whose TOASTed column did not change
 * carries the `UnchangedToast` marker for it: the consumer keeps the value it already has, which is why it needs
 * the previous row. It deliberately keeps everything in memory; a real consumer would write to its store in the same
 * step that it commits.
 */
import {
  Lsn,
  type ReplicationError,
  type ReplicationShape,
  type Row,
  UnchangedToast,
  WalMessage
} from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type { Rows } from "./MirrorTable.ts"

/** The mirror and its counters; written only by the consumer fiber, read by the progress display. */
export interface MirrorState {
  readonly rows: Rows
  /** Row changes applied. */
  changes: number
  /** Transactions applied that changed a row (PostgreSQL 14 also sends those that changed none). */
  transactions: number
  /** Row changes of the transaction in progress (taken back if a reconnect sends it again). */
  pending: number
  /** The end LSN of the last transaction applied (and committed). */
  applied: Lsn.Lsn
  /** Between a Begin and its Commit. */
  inTransaction: boolean
  /** Things that must never happen (an unchanged TOAST value for a row the mirror does not have). */
  readonly anomalies: Array<string>
  /** Rows the initial snapshot gave, and its consistent point once it is complete. */
  snapshotRows: number
  snapshotPoint: Lsn.Lsn | undefined
}

export const makeState = (initial: Rows = new Map()): MirrorState => ({
  rows: new Map(initial),
  snapshotRows: 0,
  snapshotPoint: undefined,
  changes: 0,
  transactions: 0,
  pending: 0,
  applied: Lsn.zero,
  inTransaction: false,
  anomalies: []
})

const idOf = (row: Row | undefined): number | undefined => {
  const id = row?.id
  return typeof id === "number" ? id : undefined
}

/** The new row with every unchanged TOAST value taken from the row the mirror already has. */
const resolveToast = (state: MirrorState, id: number, next: Row, previous: Row | undefined): Row => {
  let merged: Record<string, Row[string]> | undefined
  for (const [name, value] of Object.entries(next)) {
    if (value !== UnchangedToast) continue
    merged ??= { ...next }
    const kept = previous?.[name]
    if (previous === undefined || kept === undefined || kept === UnchangedToast) {
      state.anomalies.push(`row ${id}: ${name} arrived unchanged but the mirror has no value for it`)
      continue
    }
    merged[name] = kept
  }
  return merged ?? next
}

/**
 * Counts one message: changes, transactions that carried one, the snapshot's rows and point, and whether a
 * transaction is in progress. The counting half of `apply`, shared with the sink into a target database (Target.ts),
 * which applies the rows itself.
 */
export const count = (state: MirrorState, message: WalMessage): void => {
  switch (message._tag) {
    case "Read":
      state.snapshotRows++
      return
    case "SnapshotComplete":
      state.snapshotPoint = message.consistentPoint
      return
    case "Begin":
      state.inTransaction = true
      state.pending = 0
      return
    case "Reconnected":
      // The transaction in progress comes again from its start: its changes will be counted again.
      if (state.inTransaction) state.changes -= state.pending
      state.inTransaction = false
      state.pending = 0
      return
    case "Insert":
    case "Update":
    case "Delete":
    case "Truncate":
      state.changes++
      state.pending++
      return
    case "Commit":
      state.inTransaction = false
      if (state.pending > 0) state.transactions++
      state.pending = 0
      return
    default:
      return
  }
}

/** Applies one message to the Map; returns the LSN to commit when it ends the snapshot or a transaction. */
export const apply = (state: MirrorState, message: WalMessage): Lsn.Lsn | undefined => {
  count(state, message)
  switch (message._tag) {
    case "Read": {
      // A row of the initial snapshot, as of its consistent point.
      const id = idOf(message.new)
      if (id !== undefined) state.rows.set(id, message.new)
      return undefined
    }
    case "SnapshotComplete":
      // Committing it makes the slot permanent: the Map now holds the table as of the consistent point.
      return WalMessage.lsnToConfirm(message)
    case "Insert": {
      const id = idOf(message.new)
      if (id !== undefined) state.rows.set(id, resolveToast(state, id, message.new, undefined))
      return undefined
    }
    case "Update": {
      const id = idOf(message.new)
      // The old key comes only when the key changed; then the row moves.
      const oldId = idOf(message.key) ?? idOf(message.old) ?? id
      if (id !== undefined) {
        const previous = oldId === undefined ? undefined : state.rows.get(oldId)
        if (oldId !== undefined && oldId !== id) state.rows.delete(oldId)
        state.rows.set(id, resolveToast(state, id, message.new, previous))
      }
      return undefined
    }
    case "Delete": {
      const id = idOf(message.key) ?? idOf(message.old)
      if (id !== undefined) state.rows.delete(id)
      return undefined
    }
    case "Truncate":
      state.rows.clear()
      return undefined
    case "Commit": {
      const lsn = WalMessage.lsnToConfirm(message)
      state.applied = Lsn.max(state.applied, lsn)
      return lsn
    }
    default:
      return undefined
  }
}

/** Applies the stream for as long as it runs, committing after each transaction. */
export const consume = (replication: ReplicationShape, state: MirrorState): Effect.Effect<void, ReplicationError> =>
  replication.stream.pipe(
    Stream.runForEach((message) => {
      const lsn = apply(state, message)
      return lsn === undefined ? Effect.void : replication.commit(lsn)
    })
  )
