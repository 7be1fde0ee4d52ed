/**
 * The tail: streams a logical replication slot and writes every decoded message as one JSON line (like
 * pg_recvlogical, but decoded by pgcdc), committing each message's LSN once its line is written.
 *
 * That order is the at-least-once contract: a line is written before its position is confirmed, so a crash loses
 * nothing; after a restart the server may send again what was written but not yet confirmed (the tail commits after
 * every line, so at most the transaction in flight). With `endLsn` it stops by itself after the last transaction
 * that commits at or before it (or once the server is idle past it); otherwise it runs until interrupted.
 *
 * `endLsn` is handled here rather than by the Replication service's own `endLsn` because the tail must commit its
 * last lines before the session closes: the session's final status update is what moves the slot.
 *
 * It deliberately creates no publication (name an existing one) and creates the slot only when asked.
 */
import { Connection, ConnectionConfig, type ConnectionError, Connector } from "@pgcdc/connection"
import { Lsn, Replication, type ReplicationError, Slot, Transactions } from "@pgcdc/replication"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { toJsonLine } from "./JsonLine.ts"

export class TailError extends Data.TaggedError("TailError")<{ readonly message: string }> {}

export interface TailOptions {
  /** A libpq URL; otherwise PGCDC_URL, otherwise the libpq environment variables (PGHOST, PGUSER, ...). */
  readonly url: string | undefined
  readonly slot: string
  readonly publications: ReadonlyArray<string>
  /** Start here instead of the slot's confirmed position. */
  readonly startLsn?: Lsn.Lsn | undefined
  /** Stop after the last transaction that commits at or before this LSN. */
  readonly endLsn?: Lsn.Lsn | undefined
  /** Create the slot when it does not exist. */
  readonly createSlot?: boolean | undefined
  /** Include logical decoding messages (pg_logical_emit_message). */
  readonly messages?: boolean | undefined
}

export interface TailSummary {
  readonly lines: number
  /** The last LSN committed (the slot's confirmed position once the server has our last status update). */
  readonly committed: Lsn.Lsn
}

/** "X/Y" → Lsn, with an error naming the option. */
export const parseLsn = (text: string, option: string): Effect.Effect<Lsn.Lsn, TailError> => {
  const parsed = Lsn.parse(text)
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success)
    : Effect.fail(
        new TailError({ message: `${option} "${text}" is not an LSN: write it as PostgreSQL does, e.g. 0/16B3748` })
      )
}

const connectionConfig = (url: string | undefined): Effect.Effect<ConnectionConfig, TailError> => {
  const fromUrl = (text: string, origin: string) => {
    const parsed = ConnectionConfig.fromUrl(text)
    return Result.isSuccess(parsed)
      ? Effect.succeed(parsed.success)
      : Effect.fail(new TailError({ message: `${origin}: ${parsed.failure.message}` }))
  }
  if (url !== undefined) return fromUrl(url, "--url")
  const envUrl = process.env.PGCDC_URL
  if (envUrl !== undefined && envUrl !== "") return fromUrl(envUrl, "PGCDC_URL")
  return ConnectionConfig.fromEnv.pipe(
    Effect.mapError((e) => new TailError({ message: `The libpq environment variables: ${e.message}` }))
  )
}

/**
 * Runs the tail, handing each line (without newline) to `write`; the message's LSN is committed only after `write`
 * succeeds. Ends when `endLsn` is reached or the stream fails.
 */
export const run = <E>(
  options: TailOptions,
  write: (line: string) => Effect.Effect<void, E>
): Effect.Effect<TailSummary, E | TailError | ConnectionError | ReplicationError> =>
  Effect.gen(function* () {
    if (options.publications.length === 0) {
      return yield* new TailError({ message: "Name at least one publication (--publication)" })
    }
    const config = yield* connectionConfig(options.url)
    const conn = yield* Connection.make({ ...config, replication: "logical" })
    if (options.createSlot === true) {
      const existing = yield* Slot.inspect(options.slot).pipe(Effect.provideService(Connection, conn))
      if (Option.isNone(existing)) yield* Slot.create(options.slot).pipe(Effect.provideService(Connection, conn))
    }
    const replication = yield* Replication.make({
      slot: options.slot,
      publications: options.publications,
      startLsn: options.startLsn,
      // The service ends the stream before the first transaction that commits after it, or once the server is past
      // it with no transaction open.
      endLsn: options.endLsn,
      messages: options.messages,
      statusInterval: "1 second"
    }).pipe(Effect.provideService(Connector, Connector.make(conn.config)))
    let lines = 0
    yield* replication.stream.pipe(
      Stream.runForEach((message) =>
        Effect.uninterruptible(
          Effect.andThen(write(toJsonLine(message)), () => {
            lines++
            return Transactions.acknowledge(replication, message)
          })
        )
      )
    )
    // Closing the scope sends a last status update with the committed position, then ends the copy.
    const status = yield* replication.status
    return { lines, committed: status.committed } satisfies TailSummary
  }).pipe(Effect.scoped)
