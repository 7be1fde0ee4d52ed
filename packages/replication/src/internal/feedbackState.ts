/**
 * The feedback state: what was received, what the user committed, what the server says its WAL end is, and which
 * positions a standby status update may report. Pure functions over an immutable value; the service keeps it in a
 * `Ref`, so `commit` is a cheap update that never waits on the network (docs/design.md, invariant 2).
 *
 * The flush position it reports is only ever an LSN the user committed, or — when every received message is
 * committed and no transaction is open — the walEnd of a keepalive that arrived after the last data message, so an
 * idle slot does not pin WAL (docs/design.md, invariant 1). It never reports the server's walEnd while received changes are
 * uncommitted, and never moves any position backwards.
 *
 * Receiving and decoding are two steps: the service's reader records what arrived (`ReceivedBatch` in sessionReader.ts, with the XLogData
 * positions and keepalives) and queues it undecoded; the consumer decodes it when it pulls (`onDecoded`). Until the
 * consumer has decoded everything received, whether a transaction is open is unknown, so no idle advance happens.
 *
 * It deliberately knows nothing about sockets, time or pgoutput beyond "is a transaction open after this message".
 */
import { Lsn } from "@pgcdc/protocol"
import * as Result from "effect/Result"

export interface FeedbackState {
  /** Where the service started: the slot's confirmed position, or a snapshot's consistent point. */
  readonly start: Lsn.Lsn
  /** The highest walEnd of any XLogData received (the write position); starts at the start LSN. */
  readonly received: Lsn.Lsn
  /** walStart of the last XLogData received, i.e. the WAL position of the newest message. */
  readonly lastData: Lsn.Lsn
  /** Whether a transaction (or a streamed, prepared-but-undecided chunk) is open after the last message. */
  readonly inTransaction: boolean
  /** The highest LSN the user committed; starts at the start LSN (already confirmed on the server). */
  readonly committed: Lsn.Lsn
  /** The latest walEnd the server reported in a keepalive or XLogData. */
  readonly serverWalEnd: Lsn.Lsn
  /** walEnd of a keepalive received after the last data message; cleared when data arrives. */
  readonly idleWalEnd: Lsn.Lsn | undefined
  /** The flush position last reported to the server (monotonic). */
  readonly flushed: Lsn.Lsn
  /** Batches of received XLogData not decoded yet; `lastData` and `inTransaction` describe only decoded ones. */
  readonly undecoded: number
  /** A commit moved the position past what the last status update reported, and the feedback loop was told. */
  readonly flushPending: boolean
  /**
   * Where an initial snapshot stands: "none" without one; "reading" until its SnapshotComplete is handed out;
   * "handedOut" until the consumer commits it (any commit at or after the consistent point, made after it was handed
   * out); "confirmed" after.
   */
  readonly snapshot: "none" | "reading" | "handedOut" | "confirmed"
}

export const initial = (start: Lsn.Lsn, snapshot: FeedbackState["snapshot"] = "none"): FeedbackState => ({
  start,
  received: start,
  lastData: start,
  inTransaction: false,
  committed: start,
  serverWalEnd: start,
  idleWalEnd: undefined,
  flushed: start,
  undecoded: 0,
  flushPending: false,
  snapshot
})

/**
 * A new session starts streaming at `from` (the last commit, or later: the end of the last transaction already
 * handed to the consumer): nothing of it is received yet and no transaction is open (an interrupted transaction
 * will be sent again from its start). `lastData` becomes `from`, so an idle advance still waits until the consumer
 * has committed what it was handed before the reconnect. `received` keeps its maximum, so an LSN the user saw
 * before the reconnect can still be committed.
 */
export const onSessionStart = (s: FeedbackState, from: Lsn.Lsn = s.committed): FeedbackState => ({
  ...s,
  lastData: Lsn.max(s.committed, from),
  inTransaction: false,
  idleWalEnd: undefined
})

/**
 * An XLogData arrived and was decoded at once; `inTransaction` says whether a transaction is open once its message
 * is applied. (The service records the two steps separately: `ReceivedBatch.apply`, then `onDecoded`.)
 */
export const onData = (
  s: FeedbackState,
  walStart: Lsn.Lsn,
  walEnd: Lsn.Lsn,
  inTransaction: boolean
): FeedbackState => ({
  ...s,
  received: Lsn.max(s.received, Lsn.max(walStart, walEnd)),
  // Relation and Type messages come with position 0/0; they sit inside a transaction and move nothing.
  lastData: walStart === Lsn.zero ? s.lastData : walStart,
  inTransaction,
  serverWalEnd: Lsn.max(s.serverWalEnd, walEnd),
  idleWalEnd: undefined
})

/** A primary keepalive arrived. */
export const onKeepalive = (s: FeedbackState, walEnd: Lsn.Lsn): FeedbackState => ({
  ...s,
  serverWalEnd: Lsn.max(s.serverWalEnd, walEnd),
  idleWalEnd: s.idleWalEnd === undefined ? walEnd : Lsn.max(s.idleWalEnd, walEnd)
})

export interface CommitBeyondReceived {
  readonly _tag: "CommitBeyondReceived"
  readonly lsn: Lsn.Lsn
  readonly received: Lsn.Lsn
}

/**
 * The user processed everything up to `lsn`. Monotonic: an older LSN leaves the state unchanged. An LSN beyond
 * everything received cannot have been processed and is refused.
 */
export const commit = (s: FeedbackState, lsn: Lsn.Lsn): Result.Result<FeedbackState, CommitBeyondReceived> => {
  if (lsn > s.received) return Result.fail({ _tag: "CommitBeyondReceived", lsn, received: s.received })
  return Result.succeed(lsn > s.committed ? { ...s, committed: lsn } : s)
}

/**
 * What a commit asks of the service besides the state: bit 1, wake the feedback loop; bit 2, the snapshot is
 * confirmed; bit 4, the committed position moved.
 */
export type CommitSignals = number
export const wakeFeedback = 1
export const snapshotConfirmed = 2
/** The commit moved the committed position (someone may wait for it: Replication's commit waiters). */
export const committedMoved = 4

/**
 * `commit`, and what it signals: the feedback loop is woken to report it soon only for the first commit since the
 * last status update that moves the position past what the server has heard (later ones ride on the same update); a
 * commit at or after the consistent point made after SnapshotComplete was handed out confirms the snapshot.
 */
export const commitWithSignal = (
  s: FeedbackState,
  lsn: Lsn.Lsn
): Result.Result<readonly [FeedbackState, CommitSignals], CommitBeyondReceived> => {
  if (lsn > s.received) return Result.fail({ _tag: "CommitBeyondReceived", lsn, received: s.received })
  const confirms = s.snapshot === "handedOut" && lsn >= s.start
  if (lsn <= s.committed && !confirms) return Result.succeed([s, 0])
  const wake = lsn > s.committed && !s.flushPending && lsn > s.flushed
  return Result.succeed([
    {
      ...s,
      committed: Lsn.max(s.committed, lsn),
      flushPending: s.flushPending || wake,
      snapshot: confirms ? "confirmed" : s.snapshot
    },
    (wake ? wakeFeedback : 0) | (confirms ? snapshotConfirmed : 0) | (lsn > s.committed ? committedMoved : 0)
  ])
}

/** The consumer was handed SnapshotComplete: its next commit at or after the consistent point confirms the snapshot. */
export const onSnapshotHandedOut = (s: FeedbackState): FeedbackState =>
  s.snapshot === "reading" ? { ...s, snapshot: "handedOut" } : s

/**
 * The consumer decoded one item that `ReceivedBatch.apply` counted as received: `lastData` is the walStart of its last
 * message with a position (undefined when none had one), `inTransaction` whether a transaction is open after it.
 */
export const onDecoded = (
  s: FeedbackState,
  lastData: Lsn.Lsn | undefined,
  inTransaction: boolean,
  passable?: Lsn.Lsn | undefined
): FeedbackState => ({
  ...s,
  lastData: lastData ?? s.lastData,
  inTransaction,
  undecoded: s.undecoded > 0 ? s.undecoded - 1 : 0,
  // A message the consumer was not handed, outside any transaction (a heartbeat): nothing for the consumer to commit,
  // so once everything before it is committed the slot may pass it, as it may pass a keepalive's WAL end.
  idleWalEnd:
    passable === undefined ? s.idleWalEnd : s.idleWalEnd === undefined ? passable : Lsn.max(s.idleWalEnd, passable)
})

/** Whether every received message is decoded and committed, and no transaction is open. */
export const allCommitted = (s: FeedbackState): boolean =>
  s.undecoded === 0 && !s.inTransaction && s.committed >= s.lastData

/** The flush (and apply) position a status update may report now. */
export const flushPosition = (s: FeedbackState): Lsn.Lsn => {
  const target = allCommitted(s) && s.idleWalEnd !== undefined ? Lsn.max(s.committed, s.idleWalEnd) : s.committed
  return Lsn.max(s.flushed, target)
}

export interface StatusPositions {
  readonly written: Lsn.Lsn
  readonly flushed: Lsn.Lsn
  readonly applied: Lsn.Lsn
}

/** The positions of the next standby status update and the state that remembers them. */
export const nextStatus = (s: FeedbackState): readonly [StatusPositions, FeedbackState] => {
  const flushed = flushPosition(s)
  const written = Lsn.max(s.received, flushed)
  return [
    { written, flushed, applied: flushed },
    flushed === s.flushed && !s.flushPending ? s : { ...s, flushed, flushPending: false }
  ]
}

/** Bytes of WAL the server holds for us beyond what we committed (0 when nothing is pending). */
export const lagBytes = (s: FeedbackState): bigint => {
  const d = Lsn.diff(s.serverWalEnd, flushPosition(s))
  return d > 0n ? d : 0n
}
