/**
 * CopyBoth mode (START_REPLICATION): a Stream of the server's CopyData payloads, `send` for ours, `done` for our
 * CopyDone, and a scope that ends the copy cleanly if the caller did not.
 *
 * Hot path: one pull reads one socket chunk (everything Node has buffered) and emits all the CopyData payloads in it
 * as one batch, walking the framer synchronously; there is no Effect, no decode and no allocation per message
 * beyond the payload view (`messages`), or none at all (`frames`: offsets into the chunk). Payloads lie in the
 * received chunk (or in the framer's fresh buffer for a message that spanned chunks): neither is ever written again,
 * so a view or an offset stays valid for as long as it is kept.
 *
 * Backpressure: nothing reads the socket unless the stream is pulled. While the consumer does not pull, Node's
 * readable buffer fills to its high-water mark, Node stops reading, and TCP flow control stops the server.
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
import type { Backend } from "@pgcdc/protocol"
import { type ConnectionError, closedError, protocolError } from "./ConnectionError.ts"
import { drive, type SessionHooks } from "./SimpleQuery.ts"
import { encodeOne, logNotice, serverError, toConnectionError, type Wire } from "./Wire.ts"

/**
 * The CopyData payloads of one read, without an object per payload: payload `i` is `buffers[i]` from `starts[i]`
 * to `ends[i]` (`buffers` repeats the same chunk for every payload that lies in it). Never empty. The bytes are never
 * written again.
 */
export interface CopyDataFrames {
  readonly buffers: ReadonlyArray<Uint8Array>
  readonly starts: ReadonlyArray<number>
  readonly ends: ReadonlyArray<number>
}

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

const COPY_DATA = 0x64
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
    let serverDone = false
    let clientDone = false
    let finished = false
    let failure: ConnectionError | undefined
    /** The server ended the copy with CommandComplete and is exiting: the session cannot be used again. */
    let exited = false
    const notices: Array<Backend.NoticeResponse> = []

    const logNotices = Effect.suspend(() => Effect.forEach(notices.splice(0), logNotice, { discard: true }))

    const pullBatch: Effect.Effect<readonly [CopyDataFrames], ConnectionError | Cause.Done> = Effect.suspend(() => {
      if (failure !== undefined) return Effect.fail(failure)
      if (serverDone || finished) return Cause.done()
      const buffers: Array<Uint8Array> = []
      const starts: Array<number> = []
      const ends: Array<number> = []
      const framer = wire.framer
      try {
        for (;;) {
          while (wire.nextFrame()) {
            if (framer.type === COPY_DATA) {
              buffers.push(framer.buf)
              starts.push(framer.bodyStart)
              ends.push(framer.end)
              continue
            }
            const msg = wire.decodeFrame()
            if (msg._tag === "CopyDone") {
              serverDone = true
              break
            } else if (msg._tag === "ErrorResponse") {
              // The server has left copy mode; ReadyForQuery follows and a CopyDone from us would be noise.
              failure = serverError(msg)
              clientDone = true
              break
            } else if (msg._tag === "NoticeResponse") {
              notices.push(msg)
            } else if (msg._tag === "ParameterStatus") {
              hooks.onParameter(msg.name, msg.value)
            } else if (msg._tag === "CommandComplete") {
              // A walsender that is caught up when the server shuts down ends the copy this way, without CopyDone,
              // and exits (walsender.c, WalSndDone): the session is over, as if the socket had closed. What came
              // before it is still delivered.
              failure = closedError(
                `The server ended the copy with CommandComplete "${msg.commandTag}" and no CopyDone: its walsender is exiting, as it does when the server shuts down or restarts`
              )
              finished = true
              exited = true
              break
            } else {
              throw protocolError(`Unexpected ${msg._tag} inside a CopyBoth stream`)
            }
          }
          if (buffers.length > 0 || serverDone || failure !== undefined) break
          const chunk = wire.transport.readAvailable()
          if (chunk === undefined) break
          framer.push(chunk)
        }
      } catch (e) {
        const fatal = toConnectionError(e)
        failure = fatal
        return Effect.andThen(onBroken(fatal), Effect.fail(fatal))
      }
      // Once: every later pull fails at its first line.
      if (exited && failure !== undefined) return Effect.andThen(onBroken(failure), emitOrRead(buffers, starts, ends))
      return emitOrRead(buffers, starts, ends)
    })

    /** Hands out what one pull framed; with nothing framed, reports the end or waits for the socket and pulls again. */
    const emitOrRead = (
      buffers: Array<Uint8Array>,
      starts: Array<number>,
      ends: Array<number>
    ): Effect.Effect<readonly [CopyDataFrames], ConnectionError | Cause.Done> => {
      const emit: Effect.Effect<readonly [CopyDataFrames], ConnectionError | Cause.Done> =
        buffers.length > 0
          ? Effect.succeed([{ buffers, starts, ends }] as const)
          : failure !== undefined
            ? Effect.fail(failure)
            : serverDone
              ? Cause.done()
              : Effect.flatMap(Effect.tapError(wire.fill, onBroken), () => pullBatch)
      return notices.length > 0 ? Effect.andThen(logNotices, emit) : emit
    }

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
            serverDone = true
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
      if (clientDone) return Effect.void
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
          failure !== undefined
            ? Effect.fail(failure)
            : clientDone || finished
              ? Effect.fail(protocolError("CopyData after CopyDone: the copy is over"))
              : wire
                  .send({ _tag: "CopyData", data: payload })
                  .pipe(Effect.tapError((e) => (e.reason === "Closed" ? onBroken(e) : Effect.void)))
        ),
      done: sendCopyDone.pipe(Effect.andThen(readLock.withPermit(finish)))
    } satisfies CopyBoth
  })
