/**
 * The consumer's journal: one JSON line per transaction it applied (which consumer process, the transaction's commit
 * LSN, its changes, the writer's sequence number and when it was written), appended and fsynced before the consumer
 * commits the transaction's LSN. The verifier replays it.
 *
 * Values are kept as PostgreSQL's text form would compare them: numbers and strings as JSON, int8 as
 * `{"int8": "…"}`, and a TOASTed value pgoutput did not send as `{"toast": "unchanged"}` (the previous value stays).
 *
 * A SIGKILL can leave a line without its newline at the end of the file; `open` cuts such a tail off before
 * appending (the transaction was not committed, so the slot sends it again), and `parse` reports one it finds.
 *
 * It does not decide when to commit (see consumer.ts) and does not interpret the changes (see Verifier.ts).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as fs from "node:fs/promises"

/** A column value in the journal. */
export type JournalValue =
  | string
  | number
  | boolean
  | null
  | { readonly int8: string }
  | { readonly toast: "unchanged" }

export type JournalRow = { readonly [column: string]: JournalValue }

export interface JournalChange {
  readonly table: string
  /** Insert, Update, Delete, Truncate. */
  readonly op: "I" | "U" | "D" | "T"
  /** The old key of an Update that changed it, or the key of a Delete. */
  readonly key?: JournalRow | undefined
  /** The new row of an Insert or Update. */
  readonly row?: JournalRow | undefined
}

export interface JournalEntry {
  /** The consumer process that wrote it: 1 for the first, +1 after each restart. */
  readonly run: number
  /** The LSN the consumer committed for it (the end of the commit record), as "X/Y". */
  readonly lsn: string
  readonly xid: number
  /** The writer's sequence number, from the transaction's chaos_log insert; null if it had none. */
  readonly seq: number | null
  /** Date.now() when the line was written, just before it was fsynced and committed. */
  readonly at: number
  readonly changes: ReadonlyArray<JournalChange>
}

/** "X/Y" of an LSN, as PostgreSQL prints it. */
export const formatLsn = (lsn: bigint): string =>
  `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`

/** The LSN of "X/Y"; throws on anything else. */
export const parseLsn = (text: string): bigint => {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (m === null) throw new Error(`not an LSN: ${JSON.stringify(text)}`)
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`)
}

export const encode = (entry: JournalEntry): string => `${JSON.stringify(entry)}\n`

export interface Parsed {
  readonly entries: ReadonlyArray<JournalEntry>
  /** Lines that were not valid entries (a torn last line), with their line numbers. */
  readonly bad: ReadonlyArray<{ readonly line: number; readonly text: string }>
}

const isEntry = (u: unknown): u is JournalEntry => {
  if (typeof u !== "object" || u === null) return false
  const e = u as Record<string, unknown>
  return (
    typeof e.run === "number" &&
    typeof e.lsn === "string" &&
    typeof e.xid === "number" &&
    (typeof e.seq === "number" || e.seq === null) &&
    typeof e.at === "number" &&
    Array.isArray(e.changes)
  )
}

export const parse = (text: string): Parsed => {
  const entries: Array<JournalEntry> = []
  const bad: Array<{ line: number; text: string }> = []
  const lines = text.split("\n")
  lines.forEach((line, i) => {
    if (line === "") return
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      value = undefined
    }
    if (isEntry(value)) entries.push(value)
    else bad.push({ line: i + 1, text: line.slice(0, 200) })
  })
  return { entries, bad }
}

export const read = (file: string): Effect.Effect<Parsed> =>
  Effect.promise(() => fs.readFile(file, "utf8").then(parse, () => parse("")))

export interface JournalWriter {
  /** Appends the entry and fsyncs the file: once this returns, the line survives a crash of the process. */
  readonly append: (entry: JournalEntry) => Effect.Effect<void>
  /**
   * Appends without waiting (the bug of `--consumer-bug buffered-journal`): the line sits in memory until `flush`.
   */
  readonly buffer: (entry: JournalEntry) => Effect.Effect<void>
  /** Writes and fsyncs what `buffer` holds. */
  readonly flush: Effect.Effect<void>
}

/**
 * Opens the journal for appending, first cutting off a torn last line (no newline) left by a killed process. The
 * file is closed with the scope.
 */
export const open = (file: string): Effect.Effect<JournalWriter, never, Scope.Scope> =>
  Effect.gen(function* () {
    const handle = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const h = await fs.open(file, "a+")
        const { size } = await h.stat()
        if (size > 0) {
          const content = await h.readFile()
          const end = content.lastIndexOf(0x0a) + 1
          if (end < size) {
            await h.truncate(end)
            await h.sync()
          }
        }
        return h
      }),
      (h) => Effect.promise(() => h.close())
    )
    let pending: Array<string> = []
    const writeDurably = (text: string) => Effect.promise(() => handle.write(text).then(() => handle.sync()))
    return {
      append: (entry) => writeDurably(encode(entry)),
      buffer: (entry) =>
        Effect.sync(() => {
          pending.push(encode(entry))
        }),
      flush: Effect.suspend(() => {
        if (pending.length === 0) return Effect.void
        const text = pending.join("")
        pending = []
        return writeDurably(text)
      })
    }
  })
