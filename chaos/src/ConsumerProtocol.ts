/**
 * What the harness and the consumer process say to each other: the consumer's configuration (one JSON argument),
 * the events it prints on stdout (one JSON object per line), the stall request (a file holding milliseconds, then
 * SIGUSR2), and its exit codes.
 *
 * It does not spawn or run anything (see ConsumerProcess.ts for the harness side, consumer.ts for the process).
 */
import * as Schema from "effect/Schema"

/**
 * Deliberate bugs, to show that the verifier catches a consumer that breaks the contract:
 * - `buffered-journal`: lines go to a write-behind buffer written every 10 s, but each transaction is committed at
 *   once: a commit before the work is durable. A SIGKILL loses what was committed and still buffered.
 */
export const ConsumerBug = Schema.Literals(["none", "buffered-journal"])
export type ConsumerBug = typeof ConsumerBug.Type

export const ConsumerConfig = Schema.Struct({
  run: Schema.Number,
  host: Schema.String,
  port: Schema.Number,
  user: Schema.String,
  password: Schema.String,
  database: Schema.String,
  slot: Schema.String,
  publication: Schema.String,
  journal: Schema.String,
  /** Read on SIGUSR2: how many milliseconds the handler of the next transaction sleeps. */
  stallFile: Schema.String,
  bug: ConsumerBug
})
export type ConsumerConfig = typeof ConsumerConfig.Type

/** How often the `buffered-journal` bug writes its buffer. */
export const bufferedJournalFlushMs = 10_000

/** Printed by the consumer, one per line on stdout; `at` is its Date.now(). */
export type ConsumerEvent =
  /** The Replication service is built: the slot is held and START_REPLICATION was sent. */
  | { readonly ev: "started"; readonly run: number; readonly pid: number; readonly at: number }
  /** The service reconnected (a Reconnected message): its `session`-th session starts at `walStart`. */
  | { readonly ev: "reconnected"; readonly session: number; readonly walStart: string; readonly at: number }
  | { readonly ev: "stall"; readonly ms: number; readonly at: number }
  | { readonly ev: "stall-end"; readonly at: number }
  /** The stream failed: the process exits with `exitCodes.streamFailed` after printing this. */
  | { readonly ev: "failed"; readonly error: string; readonly at: number }
  /** The stream ended without an error, which it must never do: exit code `exitCodes.streamEnded`. */
  | { readonly ev: "ended"; readonly at: number }

export const exitCodes = {
  /** SIGTERM: the stream was interrupted, the final status update sent. */
  stopped: 0,
  streamFailed: 2,
  streamEnded: 3,
  badConfig: 4
} as const

/** Parses one stdout line; undefined for anything that is not an event (a stray log line). */
export const parseEvent = (line: string): ConsumerEvent | undefined => {
  if (!line.startsWith("{")) return undefined
  try {
    const value: unknown = JSON.parse(line)
    if (typeof value === "object" && value !== null && "ev" in value && typeof value.ev === "string") {
      return value as ConsumerEvent
    }
  } catch {
    return undefined
  }
  return undefined
}
