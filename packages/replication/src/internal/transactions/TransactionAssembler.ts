/**
 * The state machine behind the transaction views: feeds on `WalMessage`s in arrival order and emits
 * `TransactionEvent`s — Begin…Commit and BeginPrepare…Prepare as they come, and the interleaved segments of
 * streamed transactions (StreamStart…StreamStop per xid, then StreamCommit, StreamPrepare or StreamAbort) either
 * held until the server decides them ("buffer") or passed on at once marked tentative ("tentative").
 *
 * Rolled-back subtransactions follow PostgreSQL's own apply worker: inside a streamed transaction each change
 * carries the xid of the subtransaction that made it, and a StreamAbort for a subtransaction discards that
 * subtransaction's first change and everything after it in the transaction. PostgreSQL sends a subtransaction's
 * StreamAbort only once it has streamed some of its changes, and only for the rollback of a subtransaction that is
 * still open (a released one can only abort with its parent), so nothing the parent did later can sit behind it.
 *
 * It is pure and single-owner; it does no I/O, keeps no row beyond what "buffer" mode holds, and throws
 * `TransactionError` on a sequence pgoutput never produces.
 */
import { TransactionError } from "../../transactions/TransactionError.ts"
import type { Change, OriginInfo, TransactionEvent } from "../../transactions/TransactionEvent.ts"
import type { WalMessage } from "../../WalMessage.ts"

type Of<T extends WalMessage["_tag"]> = Extract<WalMessage, { readonly _tag: T }>

export interface AssemblerOptions {
  /**
   * What to do with the segments of a streamed transaction before the server decides it. "buffer" (default) holds
   * them in memory and emits them, not tentative, at StreamCommit / StreamPrepare (nothing at all for an aborted
   * one). "tentative" emits every change as it arrives with `tentative: true`, then `TransactionAbort` events for
   * what rolled back: bounded memory, but the consumer must stage.
   */
  readonly streamed?: "buffer" | "tentative" | undefined
  /** "buffer" mode: fail with a "TooLarge" TransactionError when one streamed transaction holds more changes. */
  readonly maxStreamedChanges?: number | undefined
}

interface PlainState {
  readonly start: Of<"Begin"> | Of<"BeginPrepare">
  origin: OriginInfo | undefined
  announced: boolean
  next: number
}

interface StreamedState {
  readonly xid: number
  readonly start: Of<"StreamStart">
  origin: OriginInfo | undefined
  announced: boolean
  next: number
  /** Subtransactions in the order of their first change, with that change's index. */
  readonly subxacts: Array<{ readonly xid: number; readonly index: number }>
  readonly seen: Set<number>
  readonly buffer: Array<Change>
}

const sequence = (message: string, xid?: number): TransactionError =>
  new TransactionError({ reason: "Sequence", message, ...(xid !== undefined ? { xid } : {}) })

export class TransactionAssembler {
  private readonly tentative: boolean
  private readonly maxStreamed: number
  private plain: PlainState | undefined = undefined
  private current: StreamedState | undefined = undefined
  private readonly streams = new Map<number, StreamedState>()

  constructor(options: AssemblerOptions = {}) {
    this.tentative = options.streamed === "tentative"
    this.maxStreamed = options.maxStreamedChanges ?? Number.POSITIVE_INFINITY
  }

  /** Streamed transactions begun and not yet decided (their xids). */
  get openStreamed(): ReadonlyArray<number> {
    return Array.from(this.streams.keys())
  }

  /** Feeds one message; appends what it completes to `out`. Throws `TransactionError`. */
  push(m: WalMessage, out: Array<TransactionEvent>): void {
    switch (m._tag) {
      case "Begin":
      case "BeginPrepare":
        if (this.current !== undefined) throw sequence(`${m._tag} inside the stream segment of xid ${this.current.xid}`)
        this.interruptPlain(out)
        this.plain = { start: m, origin: undefined, announced: false, next: 0 }
        return
      case "Origin": {
        const origin = { name: m.name, commitLsn: m.commitLsn }
        const open = this.current ?? this.plain
        if (open === undefined) throw sequence("Origin outside any transaction")
        open.origin = origin
        return
      }
      case "Commit":
      case "Prepare":
        this.endPlain(m, out)
        return
      case "StreamStart":
        this.streamStart(m, out)
        return
      case "StreamStop":
        if (this.current === undefined) throw sequence("StreamStop without a StreamStart")
        this.current = undefined
        return
      case "StreamCommit":
      case "StreamPrepare":
        this.endStreamed(m, out)
        return
      case "StreamAbort":
        this.streamAbort(m, out)
        return
      case "CommitPrepared":
      case "RollbackPrepared":
        if (this.current !== undefined) throw sequence(`${m._tag} inside a stream segment`, m.xid)
        this.interruptPlain(out)
        out.push(m)
        return
      case "Reconnected":
        this.reset(out)
        return
      // The snapshot comes before any transaction and stands alone: each of its messages passes through.
      case "SnapshotBegin":
      case "Read":
      case "SnapshotEnd":
      case "SnapshotComplete":
      // A backfill's messages come inside its watermark transactions, but stand alone: applying them needs no
      // transaction around them.
      case "BackfillBegin":
      case "BackfillEnd":
        out.push(m)
        return
      case "Insert":
      case "Update":
      case "Delete":
      case "Truncate":
      case "Relation":
      case "Type":
      case "Message":
        this.change(m, out)
        return
    }
  }

  /**
   * A new session restarts from the last committed LSN and sends every undecided transaction again, so what is open
   * now will never be decided in this form: report each as interrupted and forget it.
   */
  private reset(out: Array<TransactionEvent>): void {
    this.interruptPlain(out)
    for (const xid of this.streams.keys()) out.push({ _tag: "TransactionInterrupted", xid })
    this.streams.clear()
    this.current = undefined
  }

  private interruptPlain(out: Array<TransactionEvent>): void {
    // Only a session restart cuts a transaction short: the server sends it again from its Begin.
    if (this.plain !== undefined) {
      out.push({ _tag: "TransactionInterrupted", xid: this.plain.start.xid })
      this.plain = undefined
    }
  }

  private announcePlain(p: PlainState, out: Array<TransactionEvent>): void {
    if (p.announced) return
    p.announced = true
    out.push({
      _tag: "TransactionBegin",
      xid: p.start.xid,
      streamed: false,
      tentative: false,
      origin: p.origin,
      start: p.start
    })
  }

  private announceStreamed(s: StreamedState, out: Array<TransactionEvent>): void {
    if (s.announced) return
    s.announced = true
    out.push({
      _tag: "TransactionBegin",
      xid: s.xid,
      streamed: true,
      tentative: this.tentative,
      origin: s.origin,
      start: s.start
    })
  }

  private change(m: Change, out: Array<TransactionEvent>): void {
    const s = this.current
    if (s !== undefined) {
      this.streamedChange(s, m, out)
      return
    }
    const p = this.plain
    if (p !== undefined) {
      this.announcePlain(p, out)
      out.push({ _tag: "TransactionChange", xid: p.start.xid, index: p.next++, tentative: false, change: m })
      return
    }
    if (m._tag === "Message" && !m.transactional) {
      out.push(m)
      return
    }
    // A Relation or Type between transactions says nothing about one; the decoder has already applied it.
    if (m._tag === "Relation" || m._tag === "Type") return
    throw sequence(`${m._tag} outside any transaction`)
  }

  private streamedChange(s: StreamedState, m: Change, out: Array<TransactionEvent>): void {
    const sub = m.xid ?? s.xid
    if (sub !== s.xid && !s.seen.has(sub)) {
      s.seen.add(sub)
      s.subxacts.push({ xid: sub, index: s.next })
    }
    if (this.tentative) {
      this.announceStreamed(s, out)
      out.push({ _tag: "TransactionChange", xid: s.xid, index: s.next++, tentative: true, change: m })
      return
    }
    if (s.buffer.length >= this.maxStreamed) {
      throw new TransactionError({
        reason: "TooLarge",
        message: `Streamed transaction ${s.xid} holds more than ${this.maxStreamed} changes; raise maxStreamedChanges, use the "tentative" mode of the events view, or stream with streaming "off" so that the server spills it to its disk`,
        xid: s.xid
      })
    }
    s.buffer.push(m)
    s.next++
  }

  private endPlain(m: Of<"Commit"> | Of<"Prepare">, out: Array<TransactionEvent>): void {
    const p = this.plain
    if (this.current !== undefined) throw sequence(`${m._tag} inside the stream segment of xid ${this.current.xid}`)
    const expected = m._tag === "Commit" ? "Begin" : "BeginPrepare"
    if (p === undefined || p.start._tag !== expected) throw sequence(`${m._tag} without a ${expected}`)
    this.plain = undefined
    this.announcePlain(p, out)
    out.push(
      m._tag === "Commit"
        ? { _tag: "TransactionCommit", xid: p.start.xid, streamed: false, end: m }
        : { _tag: "TransactionPrepare", xid: p.start.xid, gid: m.gid, streamed: false, end: m }
    )
  }

  private streamStart(m: Of<"StreamStart">, out: Array<TransactionEvent>): void {
    if (this.current !== undefined)
      throw sequence(`StreamStart for xid ${m.xid} inside the segment of ${this.current.xid}`)
    this.interruptPlain(out)
    let s = this.streams.get(m.xid)
    if (m.firstSegment) {
      // A first segment for an xid we hold: the session restarted and the server streams it again from the start.
      if (s?.announced === true) {
        out.push({ _tag: "TransactionAbort", xid: s.xid, subXid: s.xid, fromIndex: 0, final: true, abort: undefined })
      }
      s = {
        xid: m.xid,
        start: m,
        origin: undefined,
        announced: false,
        next: 0,
        subxacts: [],
        seen: new Set(),
        buffer: []
      }
      this.streams.set(m.xid, s)
    } else if (s === undefined) {
      throw sequence(`StreamStart continues xid ${m.xid}, whose first segment this view never saw`, m.xid)
    }
    this.current = s
  }

  private endStreamed(m: Of<"StreamCommit"> | Of<"StreamPrepare">, out: Array<TransactionEvent>): void {
    if (this.current !== undefined) throw sequence(`${m._tag} inside a stream segment`, m.xid)
    const s = this.streams.get(m.xid)
    if (s === undefined) throw sequence(`${m._tag} for xid ${m.xid}, which was never streamed`, m.xid)
    this.streams.delete(m.xid)
    this.announceStreamed(s, out)
    if (!this.tentative) {
      for (let i = 0; i < s.buffer.length; i++) {
        out.push({ _tag: "TransactionChange", xid: s.xid, index: i, tentative: false, change: s.buffer[i]! })
      }
    }
    out.push(
      m._tag === "StreamCommit"
        ? { _tag: "TransactionCommit", xid: s.xid, streamed: true, end: m }
        : { _tag: "TransactionPrepare", xid: s.xid, gid: m.gid, streamed: true, end: m }
    )
  }

  private streamAbort(m: Of<"StreamAbort">, out: Array<TransactionEvent>): void {
    if (this.current !== undefined) throw sequence("StreamAbort inside a stream segment", m.xid)
    const s = this.streams.get(m.xid)
    // An abort only ever discards: for an xid this view holds nothing of, there is nothing to undo.
    if (s === undefined) {
      if (m.subXid === m.xid) out.push(m)
      return
    }
    if (m.subXid === m.xid) {
      this.streams.delete(m.xid)
      // Passed on (nothing to apply) so that the consumer can confirm it: an idle slot advances only once
      // everything received is confirmed.
      if (this.tentative && s.announced) {
        out.push({ _tag: "TransactionAbort", xid: s.xid, subXid: s.xid, fromIndex: 0, final: true, abort: m })
      } else out.push(m)
      return
    }
    const at = s.subxacts.findIndex((x) => x.xid === m.subXid)
    // No change of that subtransaction reached us: nothing to discard.
    if (at < 0) return
    const fromIndex = s.subxacts[at]!.index
    for (const dropped of s.subxacts.splice(at)) s.seen.delete(dropped.xid)
    s.next = fromIndex
    if (this.tentative) {
      out.push({ _tag: "TransactionAbort", xid: s.xid, subXid: m.subXid, fromIndex, final: false, abort: m })
    } else {
      s.buffer.length = fromIndex
    }
  }
}
