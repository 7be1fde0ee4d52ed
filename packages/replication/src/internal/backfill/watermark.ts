/**
 * The logical messages a backfill writes into the WAL (transactional `pg_logical_emit_message`, prefix
 * `pgcdc.backfill`), so the stream itself says where each chunk's read happened: a `low` watermark before the chunk's
 * SELECT, a `high` one after it. Between the two, the stream's changes of the table tell which rows the SELECT may
 * have read stale; at the high watermark the rest of the chunk is handed out. Also `pgcdc.signal` messages, which ask
 * a running consumer to start a backfill (what `pgcdc backfill` writes).
 *
 * Pure: the text of a watermark, and back. It deliberately knows nothing of tables or sessions.
 */
export const watermarkPrefix = "pgcdc.backfill"
export const signalPrefix = "pgcdc.signal"
/** The service's heartbeat (internal/heartbeat.ts): non-transactional messages that keep an idle slot moving. */
export const heartbeatPrefix = "pgcdc.heartbeat"

export interface Watermark {
  /** The backfill's id. */
  readonly id: string
  /**
   * This run of it (a new one each time a process starts or resumes it): after a restart the stream replays the
   * watermarks of the run that crashed, and those must not pick up the chunks of the new one.
   */
  readonly run: string
  readonly chunk: number
  readonly mark: "low" | "high" | "cancel"
  /** High watermarks: whether this is the table's last chunk. */
  readonly last: boolean
}

export const encodeWatermark = (w: Watermark): string => JSON.stringify(w)

const decoder = new TextDecoder("utf-8", { fatal: true })

/** The watermark in a message's content, or undefined when it is not one of ours (then it is passed on). */
export const decodeWatermark = (content: Uint8Array): Watermark | undefined => {
  try {
    const v = JSON.parse(decoder.decode(content)) as Partial<Watermark>
    if (typeof v.id !== "string" || typeof v.run !== "string" || typeof v.chunk !== "number") return undefined
    if (v.mark !== "low" && v.mark !== "high" && v.mark !== "cancel") return undefined
    return { id: v.id, run: v.run, chunk: v.chunk, mark: v.mark, last: v.last === true }
  } catch {
    return undefined
  }
}

/** A request to backfill a table, from another process. */
export interface Signal {
  readonly backfill: { readonly schema: string; readonly name: string }
  readonly chunkSize?: number | undefined
}

export const encodeSignal = (s: Signal): string => JSON.stringify(s)

export const decodeSignal = (content: Uint8Array): Signal | undefined => {
  try {
    const v = JSON.parse(decoder.decode(content)) as Partial<Signal>
    const b = v.backfill
    if (typeof b !== "object" || b === null || typeof b.schema !== "string" || typeof b.name !== "string")
      return undefined
    return {
      backfill: { schema: b.schema, name: b.name },
      chunkSize: typeof v.chunkSize === "number" ? v.chunkSize : undefined
    }
  } catch {
    return undefined
  }
}
