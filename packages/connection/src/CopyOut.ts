/**
 * CopyOut mode (`COPY ... TO STDOUT`): the rows of one COPY as a Stream of CopyData payloads, and its `COPY n` count.
 *
 * `startCopyOut` sends the statement and waits for CopyOutResponse. Any other answer (CopyInResponse,
 * CopyBothResponse, rows, an empty query, an ErrorResponse) fails it with a typed `ConnectionError` once the server is
 * back at ReadyForQuery, so the session stays usable; the server is told to end a COPY FROM STDIN (CopyFail) or a
 * CopyBoth stream (CopyDone) that it started instead.
 *
 * Reading is `CopyDataPull`'s loop, shared with CopyBoth: one pull reads one socket chunk and hands out every
 * payload in it as offsets (no Effect per row), and nothing reads the socket while nobody pulls (backpressure down to
 * TCP). The stream ends only after CopyDone, CommandComplete and ReadyForQuery, so when it ends the session is idle
 * and the query lock is given back at once, not at the end of the scope. An ErrorResponse (a division by zero in the
 * SELECT, a cancellation) fails the stream with the server's error after reading on to ReadyForQuery.
 *
 * A copy abandoned before its end (the consumer stopped pulling for good: `take`, an interruption, the scope closing)
 * is cancelled on the server with a CancelRequest, and what was still in flight is read and dropped up to
 * ReadyForQuery. If the server has not got there within `abandonTimeout`, the session is marked broken instead of
 * hanging.
 *
 * It deliberately does not decode rows (`@pgcdc/protocol`'s `CopyTextCursor` does, for the text format), runs one
 * statement per call, and does not support COPY FROM STDIN.
 */
import type * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import type { Backend } from "@pgcdc/protocol"
import { type ConnectionError, closedError, protocolError } from "./ConnectionError.ts"
import { CopyDataPull, type CopyDataFrames } from "./CopyDataPull.ts"
import { collectResults, drive, isFatal, type SessionHooks } from "./SimpleQuery.ts"
import { encodeOne, serverError, type Wire } from "./Wire.ts"

export interface CopyOut {
  /**
   * "text" (the default: one row per payload, tab-separated and ending with a newline; decode it with
   * `@pgcdc/protocol`'s `CopyTextCursor`) or "binary" (`WITH (FORMAT binary)`).
   */
  readonly format: "text" | "binary"
  /** The number of columns in each row (from CopyOutResponse). */
  readonly columnCount: number
  /**
   * The copy's CopyData payloads, one element per socket read, as offsets into the received chunks. Ends once the
   * server is ready for the next query; fails with the server's error (SQLSTATE and all) at an ErrorResponse, the
   * session staying usable. Stopping before the end cancels the COPY on the server. Read it once.
   */
  readonly frames: Stream.Stream<CopyDataFrames, ConnectionError>
  /**
   * The row count of the `COPY n` tag. Reads the copy to its end first, dropping whatever `frames` did not read;
   * fails as the copy failed (the server's error, 57014 if it was cancelled before its end).
   */
  readonly rowCount: Effect.Effect<number, ConnectionError>
}

/** What a copy needs from its session (`Connection` supplies it). */
export interface CopyOutSession {
  readonly wire: Wire
  readonly hooks: SessionHooks
  /** Asks the server to cancel what the session runs (CancelRequest on a side connection); best effort, never fails. */
  readonly cancel: Effect.Effect<void>
  /**
   * Brings a session interrupted in the middle of a statement back to ReadyForQuery (or marks it broken);
   * `progress.ready` says whether ReadyForQuery was already read.
   */
  readonly recover: (progress: { ready: boolean }) => Effect.Effect<void>
  /** Gives the session's query lock back. Idempotent; called once the server is ready for the next query. */
  readonly release: Effect.Effect<void>
}

/** How long an abandoned copy may take to reach ReadyForQuery after the CancelRequest. */
export const abandonTimeout = Duration.seconds(10)

const copyFailBytes = encodeOne({ _tag: "CopyFail", message: "pgcdc copyOut() runs COPY ... TO STDOUT only" })
const copyDoneBytes = encodeOne({ _tag: "CopyDone" })

const notCopyOut = (answer: string): ConnectionError =>
  protocolError(`copyOut() needs a COPY ... TO STDOUT statement; the server answered ${answer}`)

const copyTag = /^COPY (\d+)$/

/**
 * Sends `sql` and waits for CopyOutResponse. The caller has taken the session's query lock; it is given back through
 * `session.release` when the copy fails to start, when it ends, or when the scope closes.
 */
export const startCopyOut = (
  session: CopyOutSession,
  sql: string
): Effect.Effect<CopyOut, ConnectionError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const { wire, hooks } = session
      yield* wire
        .send({ _tag: "Query", sql })
        .pipe(Effect.tapError((e) => (e.reason === "Closed" ? hooks.onFatal(e) : Effect.void)))
      const startProgress = { ready: false }
      let response: Backend.CopyOutResponse | undefined
      let startError: ConnectionError | undefined
      yield* restore(
        drive(wire, hooks, (msg) => {
          switch (msg._tag) {
            case "CopyOutResponse":
              // A COPY after a statement that was refused (`SELECT 1; COPY ...`) is read to its end and dropped.
              if (startError !== undefined) return false
              response = msg
              return true
            case "ErrorResponse":
              startError ??= serverError(msg)
              return false
            case "ReadyForQuery":
              startProgress.ready = true
              return true
            case "CopyInResponse":
              startError ??= notCopyOut("CopyInResponse (COPY FROM STDIN)")
              wire.transport.writeNow(copyFailBytes)
              return false
            case "CopyBothResponse":
              startError ??= notCopyOut("CopyBothResponse (START_REPLICATION: use copyBoth())")
              wire.transport.writeNow(copyDoneBytes)
              return false
            default:
              // RowDescription, DataRow, CommandComplete, EmptyQueryResponse; CopyData of a refused copy.
              startError ??= notCopyOut(msg._tag)
              return false
          }
        })
      ).pipe(
        Effect.onInterrupt(() => session.recover(startProgress)),
        // A FATAL error (the backend was terminated) is followed by the server closing the socket; the error says
        // why, the "Closed" that follows does not.
        Effect.catch((lost) => Effect.fail(startError !== undefined && isFatal(startError) ? startError : lost))
      )
      if (response === undefined) {
        return yield* Effect.fail(startError ?? protocolError("The server did not start a COPY"))
      }
      return yield* makeCopyOut(session, response)
    }).pipe(Effect.onError(() => session.release))
  )

const makeCopyOut = (
  session: CopyOutSession,
  response: Backend.CopyOutResponse
): Effect.Effect<CopyOut, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { wire, hooks, release } = session
    const readLock = yield* Semaphore.make(1)
    /** ReadyForQuery after the copy has been read: the session is idle and the lock given back. */
    const tail = { ready: false }
    let rows: number | undefined

    /** After CopyDone (or the ErrorResponse): CommandComplete and ReadyForQuery, as every statement ends. */
    const readTail: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
      if (tail.ready) return Effect.void
      return collectResults(wire, hooks, tail).pipe(
        Effect.ensuring(Effect.suspend(() => (tail.ready ? release : Effect.void))),
        Effect.flatMap(({ results }) => {
          if (reader.serverError !== undefined) return Effect.void
          const match = results.length === 1 ? copyTag.exec(results[0]!.command) : null
          if (match === null) {
            return Effect.fail(
              protocolError(
                `copyOut() runs a single COPY ... TO STDOUT statement; the copy ended with ${results.map((r) => r.command).join(", ") || "no command tag"}`
              )
            )
          }
          rows = Number(match[1])
          return Effect.void
        })
      )
    })

    const reader = new CopyDataPull(wire, hooks, { name: "CopyOut", beforeEnd: readTail })
    const pull = readLock.withPermit(reader.pull)

    const drainLoop: Effect.Effect<never, ConnectionError | Cause.Done> = Effect.suspend(() =>
      Effect.flatMap(reader.pull, () => drainLoop)
    )
    const drain = Pull.catchDone(drainLoop, () => Effect.void)

    let cancelSent = false
    /** Ends a copy nobody will read to the end: CancelRequest, then everything up to ReadyForQuery is dropped. */
    const abandon: Effect.Effect<void> = Effect.suspend(() => {
      if (tail.ready) return Effect.void
      // Bytes that are not the protocol or a lost socket: the session is already marked broken.
      if (reader.failure !== undefined && reader.serverError === undefined) return release
      const cancel = cancelSent
        ? Effect.void
        : Effect.andThen(
            Effect.sync(() => {
              cancelSent = true
            }),
            session.cancel
          )
      return cancel.pipe(
        // The server's answer to the cancel (57014) or the copy's own error are expected here: only the end counts.
        Effect.andThen(readLock.withPermit(Effect.ignore(drain))),
        Effect.interruptible,
        Effect.timeoutOrElse({
          duration: abandonTimeout,
          orElse: () =>
            Effect.fail(closedError("The server did not end an abandoned COPY in time after a CancelRequest"))
        }),
        Effect.andThen(
          Effect.suspend(() =>
            tail.ready ? Effect.void : Effect.fail(closedError("An abandoned COPY did not end at ReadyForQuery"))
          )
        ),
        Effect.catch(hooks.onFatal),
        Effect.ensuring(release)
      )
    })

    yield* Effect.addFinalizer(() => abandon)

    return {
      format: response.format === 0 ? "text" : "binary",
      columnCount: response.columnFormats.length,
      frames: Stream.fromPull(Effect.succeed(pull)).pipe(Stream.ensuring(abandon)),
      rowCount: readLock
        .withPermit(drain)
        .pipe(
          Effect.andThen(() =>
            rows !== undefined
              ? Effect.succeed(rows)
              : Effect.fail(reader.failure ?? protocolError("The COPY ended without a row count"))
          )
        )
    } satisfies CopyOut
  })
