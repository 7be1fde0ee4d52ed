/**
 * The consumer's side of backfills (DBLog's watermark method): as the stream passes, the desk
 * - at a backfill's low watermark, opens a window for the chunk, and from then on records the key of every change of
 *   the table (an Insert, Update or Delete: both keys of an Update that moves a row; a Truncate taints every key);
 * - at its high watermark, closes the window and hands out the chunk's rows (which the backfill read between the two
 *   watermarks) as `Read` messages, except those whose key changed in between: the stream already handed out a change
 *   of those that is at least as new, so a backfilled row is never behind a newer change of the same row;
 * - tells the backfill when the transaction holding the high watermark has been handed out (its Commit's LSN), so it
 *   can wait for the consumer to commit it before the next chunk;
 * - hides the changes of its progress table (a publication of every table publishes it too), and watermarks, heartbeats (`pgcdc.heartbeat`) and signals (`pgcdc.signal`, passed on to start a backfill), and every logical message when the
 *   consumer did not ask for messages (the service always asks pgoutput for them, to see its watermarks).
 *
 * Owned by the consumer's side (one fiber at a time, synchronously inside a pull). Backfills hand it registrations and
 * chunks through queues it drains without waiting. It deliberately does no I/O.
 */
import { type Lsn, UnchangedToast } from "@pgcdc/protocol"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import { encodeText } from "../../values/encode.ts"
import type { Column, Row, Table, WalMessage } from "../../WalMessage.ts"
import { isProgressTable } from "./progressTable.ts"
import {
  decodeSignal,
  decodeWatermark,
  heartbeatPrefix,
  type Signal,
  signalPrefix,
  watermarkPrefix
} from "./watermark.ts"

type Of<T extends WalMessage["_tag"]> = Extract<WalMessage, { readonly _tag: T }>

export interface BackfillRegistration {
  readonly id: string
  /** The run whose watermarks open windows (see Watermark.run). */
  readonly run: string
  readonly table: Table
  /** The columns that order the chunks and identify a row: the primary key. */
  readonly key: ReadonlyArray<Column>
}

export interface ChunkRows {
  readonly id: string
  readonly chunk: number
  readonly rows: ReadonlyArray<Row>
  /** Completed with the LSN that confirms the high watermark's transaction, once its Commit is handed out. */
  readonly handedOut: Deferred.Deferred<Lsn.Lsn>
}

const tainted = Symbol("every key")

interface Active {
  readonly registration: BackfillRegistration
  /** Open windows by chunk: the keys changed since their low watermark. */
  readonly windows: Map<number, Set<string> | typeof tainted>
  rows: number
}

/** A row's key, as the text of its key columns; undefined when one is missing (not sent). */
export const keyOf = (row: Row | undefined, key: ReadonlyArray<Column>): string | undefined => {
  if (row === undefined) return undefined
  const parts: Array<string> = []
  for (const c of key) {
    const v = row[c.name]
    if (v === undefined || v === UnchangedToast) return undefined
    parts.push(v === null ? "\\N" : encodeText(c.typeOid, v))
  }
  return parts.join("\u0001")
}

export class BackfillDesk {
  private readonly registrations: Queue.Queue<BackfillRegistration>
  private readonly chunks: Queue.Queue<ChunkRows>
  private readonly signals: Queue.Queue<Signal>
  private readonly userMessages: boolean
  /** Whether the consumer asked to see the heartbeat's messages. */
  private readonly heartbeats: boolean
  /** The schema of the progress table, whose changes are hidden. */
  private readonly progressSchema: string
  private readonly known = new Map<string, BackfillRegistration>()
  private readonly active = new Map<string, Active>()
  private readonly ready = new Map<string, ChunkRows>()
  /** High watermarks handed out whose transaction's Commit has not been yet. */
  private awaitingCommit: Array<Deferred.Deferred<Lsn.Lsn>> = []

  constructor(options: {
    readonly registrations: Queue.Queue<BackfillRegistration>
    readonly chunks: Queue.Queue<ChunkRows>
    readonly signals: Queue.Queue<Signal>
    readonly userMessages: boolean
    readonly heartbeats?: boolean | undefined
    readonly progressSchema: string
  }) {
    this.registrations = options.registrations
    this.chunks = options.chunks
    this.signals = options.signals
    this.userMessages = options.userMessages
    this.heartbeats = options.heartbeats === true
    this.progressSchema = options.progressSchema
  }

  /** Whether `table` is the backfills' progress table: its Relation and changes are the service's, never handed out. */
  isOwnTable(table: Table): boolean {
    return isProgressTable(this.progressSchema, table)
  }

  /** Whether a change must be looked at (only while a backfill is active). */
  get watching(): boolean {
    return this.active.size > 0
  }

  private registration(id: string): BackfillRegistration | undefined {
    for (let r = Queue.takeUnsafe(this.registrations); r !== undefined && r._tag === "Success"; ) {
      this.known.set(r.value.id, r.value)
      r = Queue.takeUnsafe(this.registrations)
    }
    return this.known.get(id)
  }

  private chunkRows(id: string, chunk: number): ChunkRows | undefined {
    for (let r = Queue.takeUnsafe(this.chunks); r !== undefined && r._tag === "Success"; ) {
      this.ready.set(`${r.value.id}/${r.value.chunk}`, r.value)
      r = Queue.takeUnsafe(this.chunks)
    }
    const key = `${id}/${chunk}`
    const rows = this.ready.get(key)
    this.ready.delete(key)
    return rows
  }

  /**
   * What to hand out instead of a logical message: nothing (a watermark, a signal, a message nobody asked for), the
   * messages a watermark releases, or undefined to hand the message itself out.
   */
  onMessage(m: Of<"Message">): ReadonlyArray<WalMessage> | undefined {
    if (m.prefix === watermarkPrefix) return this.onWatermark(m)
    if (m.prefix === heartbeatPrefix) return this.heartbeats ? undefined : []
    if (m.prefix === signalPrefix) {
      const signal = decodeSignal(m.content)
      if (signal !== undefined) Queue.offerUnsafe(this.signals, signal)
      return []
    }
    return this.userMessages ? undefined : []
  }

  private onWatermark(m: Of<"Message">): ReadonlyArray<WalMessage> {
    const w = decodeWatermark(m.content)
    if (w === undefined) return []
    const at = { walStart: m.walStart, walEnd: m.walEnd }
    let active = this.active.get(w.id)
    const out: Array<WalMessage> = []
    if (active !== undefined && active.registration.run !== w.run) return []
    if (active === undefined) {
      // A watermark of a run this process does not run (replayed after a restart: that backfill is redone from its
      // last confirmed chunk, or finished) opens nothing.
      const registration = w.mark === "low" ? this.registration(w.id) : undefined
      if (registration === undefined || registration.run !== w.run) return []
      active = { registration, windows: new Map(), rows: 0 }
      this.active.set(w.id, active)
      out.push({ _tag: "BackfillBegin", ...at, id: w.id, table: registration.table })
    }
    const table = active.registration.table
    switch (w.mark) {
      case "low":
        active.windows.set(w.chunk, new Set())
        return out
      case "cancel":
        this.active.delete(w.id)
        this.known.delete(w.id)
        out.push({ _tag: "BackfillEnd", ...at, id: w.id, table, rows: active.rows, cancelled: true })
        return out
      case "high": {
        const changed = active.windows.get(w.chunk)
        active.windows.delete(w.chunk)
        const chunk = this.chunkRows(w.id, w.chunk)
        if (chunk !== undefined) {
          for (const row of chunk.rows) {
            if (changed === tainted) break
            const key = keyOf(row, active.registration.key)
            if (key !== undefined && changed?.has(key) === true) continue
            out.push({ _tag: "Read", ...at, table, new: row })
            active.rows++
          }
          this.awaitingCommit.push(chunk.handedOut)
        }
        if (w.last) {
          this.active.delete(w.id)
          this.known.delete(w.id)
          out.push({ _tag: "BackfillEnd", ...at, id: w.id, table, rows: active.rows, cancelled: false })
        }
        return out
      }
    }
  }

  /** A change of the stream: its keys go into the open windows of its table's backfills. */
  onChange(m: Of<"Insert"> | Of<"Update"> | Of<"Delete"> | Of<"Truncate">): void {
    for (const active of this.active.values()) {
      if (active.windows.size === 0) continue
      const id = active.registration.table.relationId
      if (m._tag === "Truncate") {
        if (m.tables.some((t) => t.relationId === id))
          for (const chunk of active.windows.keys()) active.windows.set(chunk, tainted)
        continue
      }
      if (m.table.relationId !== id) continue
      const key = active.registration.key
      const keys =
        m._tag === "Insert"
          ? [keyOf(m.new, key)]
          : m._tag === "Update"
            ? [keyOf(m.new, key), keyOf(m.key ?? m.old, key)]
            : [keyOf(m.key ?? m.old, key)]
      for (const [chunk, window] of active.windows) {
        if (window === tainted) continue
        // A key the change does not carry (it was not sent) could be any row: drop the whole chunk.
        if (keys.some((k) => k === undefined) && m._tag !== "Update") active.windows.set(chunk, tainted)
        for (const k of keys) if (k !== undefined) window.add(k)
      }
    }
  }

  /** A Commit is handed out: the high watermarks before it are in a confirmed transaction once it is committed. */
  onCommit(confirm: Lsn.Lsn): void {
    if (this.awaitingCommit.length === 0) return
    for (const d of this.awaitingCommit) Deferred.doneUnsafe(d, Exit.succeed(confirm))
    this.awaitingCommit = []
  }
}
