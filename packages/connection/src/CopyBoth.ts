/**
 * CopyBoth mode (START_REPLICATION): a Stream of the server's CopyData payloads, `send` for ours, `done` for our
 * CopyDone, and a scope that ends the copy cleanly if the caller did not.
 *
 * Reading is `CopyDataPull`'s hot loop (one pull per socket chunk, every payload in it as offsets, backpressure by not
 * pulling); `messages` adds one view per payload for consumers that want them.
 *
 * It deliberately does not interpret payloads (XLogData, keepalives): that is `@pgcdc/protocol`'s `decodeReplication`.
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { type ConnectionError, closedError, protocolError } from "./ConnectionError.ts"
import { CopyDataPull, type CopyDataFrames } from "./CopyDataPull.ts"
import { drive, type SessionHooks } from "./SimpleQuery.ts"
import { encodeOne, serverError, type Wire } from "./Wire.ts"

export interface CopyBoth {
  /**
   * CopyData payloads from the server; ends on the server's CopyDone, fails on an ErrorResponse, and fails with a
   * "Closed" error when the server ends the copy with CommandComplete and no CopyDone (a walsender exiting at
   * shutdown).
   */
  readonly messages: Stream.Stream<Uint8Array, ConnectionError>
  /**
   * The same payloads as `messages`, one element per read, as offsets instead of views: for a consumer that keeps
   * payloads for a while (a view per payload is an object that then has to be collected). Read one of the two.
   */
  readonly frames: Stream.Stream<CopyDataFrames, ConnectionError>
  /** Sends one CopyData message. */
  readonly send: (payload: Uint8Array) => Effect.Effect<void, ConnectionError>
  /** Sends our CopyDone, then waits for the server to finish (its CopyDone, CommandComplete, ReadyForQuery). */
  readonly done: Effect.Effect<void, ConnectionError>
}

// A COPY IN/OUT has nothing to do with replication; fail it so the server returns to ReadyForQuery.
const copyFailBytes = encodeOne({ _tag: "CopyFail", message: "pgcdc copyBoth() does not support this COPY" })
const finishTimeout = Duration.seconds(10)

const views = (frames: CopyDataFrames): Arr.NonEmptyReadonlyArray<Uint8Array> => {
  const { buffers, starts, ends } = frames
  const out: Arr.NonEmptyArray<Uint8Array> = [buffers[0]!.subarray(starts[0], ends[0])]
  for (let i = 1; i < buffers.length; i++) out.push(buffers[i]!.subarray(starts[i], ends[i]))
  return out
}

/**
 * Sends `sql` and waits for CopyBothResponse. The caller holds the session's query lock for the scope;
 * `hooks.onFatal` is called when the copy could not be ended cleanly and the session must not be reused.
 */
export const startCopyBoth = (
  wire: Wire,
  hooks: SessionHooks,
  sql: string
): Effect.Effect<CopyBoth, ConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const onBroken = hooks.onFatal
    yield* wire
      .send({ _tag: "Query", sql })
      .pipe(Effect.tapError((e) => (e.reason === "Closed" ? onBroken(e) : Effect.void)))
    let startError: ConnectionError | undefined
    let started = false
    yield* drive(wire, hooks, (msg) => {
      switch (msg._tag) {
        case "CopyBothResponse":
          started = true
          return true
        case "ErrorResponse":
          startError ??= serverError(msg)
          return false
        case "ReadyForQuery":
          return true
        case "CopyInResponse":
        case "CopyOutResponse":
          startError ??= protocolError("copyBoth() needs a command that answers CopyBothResponse (START_REPLICATION)")
          wire.transport.writeNow(copyFailBytes)
          return false
        default:
          startError ??= protocolError(
            `copyBoth() needs a command that answers CopyBothResponse (START_REPLICATION); the server answered ${msg._tag}`
          )
          return false
      }
    }).pipe(
      // Interrupted before the server answered: whether a copy is about to start is unknown, so the session cannot
      // be handed to anyone else.
      Effect.onInterrupt(() => onBroken(closedError("copyBoth() was interrupted before the server answered")))
    )
    if (!started) {
      return yield* Effect.fail(startError ?? protocolError("The server did not start a CopyBoth stream"))
    }

    const readLock = yield* Semaphore.make(1)
    const reader = new CopyDataPull(wire, hooks, {
      name: "CopyBoth",
      // A walsender that is caught up when the server shuts down ends the copy this way and exits (walsender.c,
      // WalSndDone): the session is over, as if the socket had closed.
      endedWithoutCopyDone: (commandTag) =>
        closedError(
          `The server ended the copy with CommandComplete "${commandTag}" and no CopyDone: its walsender is exiting, as it does when the server shuts down or restarts`
        )
    })
    let clientDone = false
    let finished = false

    // After `done` the session may already serve other queries: the stream must not read from it any more.
    const pullBatch = Effect.suspend(() => {
      if (!finished) return reader.pull
      const failure = reader.failure
      return failure === undefined ? Cause.done() : Effect.fail(failure)
    })

    const pull = readLock.withPermit(pullBatch)

    /** After our CopyDone: discard the rest of the copy, then CommandComplete(s) and ReadyForQuery. */
    const finish: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
      if (finished) return Effect.void
      let error: ConnectionError | undefined
      return drive(wire, hooks, (msg) => {
        switch (msg._tag) {
          case "CopyData":
            return false
          case "CopyDone":
            return false
          case "ErrorResponse":
            error ??= serverError(msg)
            return false
          case "ReadyForQuery":
            finished = true
            return true
          default:
            // CommandComplete, and the result set a physical walsender sends at the end of a timeline.
            return false
        }
      }).pipe(Effect.andThen(() => (error === undefined ? Effect.void : Effect.fail(error))))
    })

    const sendCopyDone = Effect.suspend(() => {
      // After the server's ErrorResponse it has left copy mode: a CopyDone from us would be noise.
      if (clientDone || reader.serverError !== undefined) return Effect.void
      clientDone = true
      return wire.send({ _tag: "CopyDone" })
    })

    yield* Effect.addFinalizer(() =>
      finished
        ? Effect.void
        : sendCopyDone.pipe(
            Effect.andThen(readLock.withPermit(finish)),
            Effect.interruptible,
            Effect.timeoutOrElse({
              duration: finishTimeout,
              orElse: () => Effect.fail(closedError("The server did not end the CopyBoth stream in time"))
            }),
            Effect.catch((e) => onBroken(e))
          )
    )

    return {
      messages: Stream.fromPull(Effect.succeed(Effect.map(pull, ([frames]) => views(frames)))),
      frames: Stream.fromPull(Effect.succeed(pull)),
      send: (payload) =>
        Effect.suspend(() =>
          // The server ended the copy with an error (say 57P01, the walsender was terminated): a send racing with
          // the stream reports that error, as the stream does, not a protocol misuse that hides whether a retry helps.
          reader.failure !== undefined
            ? Effect.fail(reader.failure)
            : clientDone || finished
              ? Effect.fail(protocolError("CopyData after CopyDone: the copy is over"))
              : wire
                  .send({ _tag: "CopyData", data: payload })
                  .pipe(Effect.tapError((e) => (e.reason === "Closed" ? onBroken(e) : Effect.void)))
        ),
      done: sendCopyDone.pipe(Effect.andThen(readLock.withPermit(finish)))
    } satisfies CopyBoth
  })
