/**
 * Consumers the simulation drives: a consumer turns the `Replication` stream into a replica and says what it has
 * processed with `commit`. The harness hands it each message with a context holding the replica, `commit`, and
 * `crashPoint(where)`, which fails with `Crash` when the run's seeded dice say so: the harness then drops the stream
 * without any further commit and restarts from the slot, as a process restart would.
 *
 * - `applyThenCommit` (correct): applies each change by key at once (upsert for insert and update, delete, clear for
 *   truncate) and commits a transaction's commit LSN only after all of it is applied. A crash anywhere is harmless:
 *   the slot resends everything after the last commit and applying by key is idempotent.
 *   It needs nothing else: the service never hands out a transaction older than one it already handed out, also
 *   across its own reconnects. (It once did: it delivered what it had read ahead from the old session and then the
 *   new session's resend of the same transactions, so re-applying an old transaction rolled the replica back, and a
 *   crash in that window made it permanent. The simulation found it, seed 2; the service now restarts after the last
 *   transaction it handed out and drops what the old session had queued.)
 * - `commitBeforeApply` (deliberately wrong, for testing the harness): buffers a transaction, commits it at its
 *   Commit, and only then applies it; a crash in between loses the transaction for good.
 *
 * Both hold streamed transactions (StreamStart ... StreamCommit) until they commit, and drop them on StreamAbort or
 * when the service reconnects (`Reconnected`: what was open is sent again from its start). Both take an initial
 * snapshot as its contract asks: SnapshotBegin empties the table in the replica (a snapshot taken again after a crash
 * starts from nothing: rows a first, unconfirmed attempt applied may have been deleted since), each Read is an upsert,
 * and SnapshotComplete is committed like a Commit, once everything before it is applied.
 * A consumer's per-session state (such as a buffered transaction) lives in what `session` returns and dies with a
 * crash; the replica survives (it stands for a durable store).
 */
import type { Lsn } from "@pgcdc/protocol"
import { type ReplicationError, WalMessage } from "@pgcdc/replication"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type { Row, TableSpec } from "./Backend.ts"
import type { Tables } from "./Model.ts"
import { rowFromDecoded } from "./Rows.ts"

/** The consumer stopped at a crash point. */
export class Crash extends Data.TaggedError("Crash")<{ readonly where: string }> {}

export interface ConsumerContext {
  readonly replica: Tables
  /** The highest LSN committed so far (the slot's position after a restart). */
  readonly committed: Effect.Effect<Lsn.Lsn>
  readonly commit: (lsn: Lsn.Lsn) => Effect.Effect<void, ReplicationError>
  /** Fails with `Crash` when the run decides to crash here. */
  readonly crashPoint: (where: string) => Effect.Effect<void, Crash>
}

export type Handler = (message: WalMessage) => Effect.Effect<void, Crash | ReplicationError>

export interface Consumer {
  readonly name: string
  /** A handler for one session of the stream (from a start or restart to a crash). */
  readonly session: (context: ConsumerContext) => Handler
}

type Change =
  | { readonly _tag: "Upsert" | "Remove"; readonly table: string; readonly row: Row }
  | { readonly _tag: "Clear"; readonly table: string }

/** The replica changes a message asks for (nothing for tables the replica does not hold). */
const changesOf = (replica: Tables, message: WalMessage): ReadonlyArray<Change> => {
  const known = (name: string): TableSpec | undefined => replica.specs.find((s) => s.name === name)
  switch (message._tag) {
    case "Insert":
    case "Update":
    case "Read": {
      const spec = known(message.table.name)
      return spec === undefined ? [] : [{ _tag: "Upsert", table: spec.name, row: rowFromDecoded(spec, message.new) }]
    }
    case "SnapshotBegin":
      return known(message.table.name) === undefined ? [] : [{ _tag: "Clear", table: message.table.name }]
    case "Delete": {
      const spec = known(message.table.name)
      const key = message.key ?? message.old
      return spec === undefined || key === undefined
        ? []
        : [{ _tag: "Remove", table: spec.name, row: rowFromDecoded(spec, key) }]
    }
    case "Truncate":
      return message.tables.flatMap((t) =>
        known(t.name) === undefined ? [] : [{ _tag: "Clear" as const, table: t.name }]
      )
    default:
      return []
  }
}

/** What a Commit, StreamCommit or SnapshotComplete confirms (each has a position to confirm). */
const confirm = (message: WalMessage): Lsn.Lsn => WalMessage.lsnToConfirm(message) ?? message.walStart

const applyChange = (replica: Tables, change: Change): void => {
  if (change._tag === "Upsert") replica.upsert(change.table, change.row)
  else if (change._tag === "Remove") replica.remove(change.table, change.row)
  else replica.clear(change.table)
}

/**
 * Streamed (in-progress) transactions: their changes are held per top-level xid, each tagged with its own
 * (sub)transaction xid, until StreamCommit hands them over or StreamAbort drops them (a whole transaction, or one
 * subtransaction). Nothing of a streamed transaction may reach the replica before its StreamCommit: it may abort.
 */
class Streams {
  private current: number | undefined = undefined
  private readonly held = new Map<number, Array<{ readonly xid: number; readonly change: Change }>>()

  /** Handles the stream framing messages and holds streamed changes; true when the message was taken. */
  take(replica: Tables, message: WalMessage): boolean {
    switch (message._tag) {
      case "Reconnected":
        this.current = undefined
        this.held.clear()
        return true
      case "StreamStart":
        this.current = message.xid
        if (!this.held.has(message.xid)) this.held.set(message.xid, [])
        return true
      case "StreamStop":
        this.current = undefined
        return true
      case "StreamAbort": {
        const held = this.held.get(message.xid) ?? []
        if (message.subXid === message.xid) this.held.delete(message.xid)
        else
          this.held.set(
            message.xid,
            held.filter((h) => h.xid !== message.subXid)
          )
        return true
      }
      default: {
        if (this.current === undefined) return false
        const top = this.current
        const own = "xid" in message && typeof message.xid === "number" ? message.xid : top
        for (const change of changesOf(replica, message)) this.held.get(top)?.push({ xid: own, change })
        return true
      }
    }
  }

  /** The changes of a streamed transaction that commits now. */
  commit(xid: number): ReadonlyArray<Change> {
    const held = this.held.get(xid) ?? []
    this.held.delete(xid)
    return held.map((h) => h.change)
  }
}

export const applyThenCommit: Consumer = {
  name: "apply then commit",
  session: (ctx) => {
    const streams = new Streams()
    return (message) =>
      Effect.gen(function* () {
        yield* ctx.crashPoint(`before ${message._tag}`)
        if (streams.take(ctx.replica, message)) return
        if (message._tag === "StreamCommit") {
          for (const change of streams.commit(message.xid)) applyChange(ctx.replica, change)
          return yield* ctx.commit(confirm(message))
        }
        for (const change of changesOf(ctx.replica, message)) applyChange(ctx.replica, change)
        if (message._tag === "Commit" || message._tag === "SnapshotComplete") yield* ctx.commit(confirm(message))
      })
  }
}

export const commitBeforeApply: Consumer = {
  name: "commit before apply (wrong)",
  session: (ctx) => {
    const streams = new Streams()
    let pending: Array<Change> = []
    return (message) =>
      Effect.gen(function* () {
        yield* ctx.crashPoint(`before ${message._tag}`)
        if (message._tag === "Reconnected") pending = []
        if (streams.take(ctx.replica, message)) return
        if (message._tag === "StreamCommit") {
          pending.push(...streams.commit(message.xid))
        } else {
          pending.push(...changesOf(ctx.replica, message))
          if (message._tag !== "Commit" && message._tag !== "SnapshotComplete") return
        }
        yield* ctx.commit(confirm(message))
        yield* ctx.crashPoint("after commit, before apply")
        for (const change of pending) applyChange(ctx.replica, change)
        pending = []
      })
  }
}

export const Consumers = { applyThenCommit, commitBeforeApply } as const
