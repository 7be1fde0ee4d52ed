/**
 * The read loop of every copy out of the server (CopyBoth for replication, CopyOut for `COPY ... TO STDOUT`): one
 * pull reads one socket chunk (everything Node has buffered) and hands out all the CopyData payloads in it as offsets,
 * walking the framer synchronously: no Effect, no decode and no allocation per message. Payloads lie in the received
 * chunk (or in the framer's fresh buffer for a message that spanned chunks): neither is ever written again, so an
 * offset stays valid for as long as the chunk is kept.
 *
 * Backpressure: nothing reads the socket unless the pull runs, and a pull reads one more chunk only while it has no
 * payload to hand out. While nobody pulls, Node's readable buffer fills to its high-water mark, Node stops reading,
 * and TCP flow control stops the server.
 *
 * The pull ends (`Cause.Done`) at the server's CopyDone and fails with the server's error at an ErrorResponse;
 * NoticeResponse is logged and ParameterStatus handed to the session on the way. What comes after the copy
 * (CommandComplete, ReadyForQuery) is the owner's: CopyBoth reads it after its own CopyDone, CopyOut in `beforeEnd`.
 *
 * It deliberately does not interpret payloads (XLogData, COPY rows) and does not know how a copy starts or how the
 * client ends it.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { Backend } from "@pgcdc/protocol"
import { type ConnectionError, protocolError } from "./ConnectionError.ts"
import type { SessionHooks } from "./SimpleQuery.ts"
import { logNotice, serverError, toConnectionError, type Wire } from "./Wire.ts"

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

export interface CopyDataPullOptions {
  /** The copy's name in errors: "CopyBoth", "CopyOut". */
  readonly name: string
  /**
   * Runs each time the pull is about to report the end of the copy (Done or the server's error), before it does:
   * CopyOut reads on to ReadyForQuery here, so the stream ends with the session idle. Make it a no-op once it has
   * succeeded. When it fails, the pull fails with the server's error if there was one, else with this failure.
   */
  readonly beforeEnd?: Effect.Effect<void, ConnectionError> | undefined
  /**
   * The error for a CommandComplete that ends the copy without CopyDone, when that is how this kind of copy can end
   * (a walsender exiting at shutdown ends CopyBoth so): the session is over, and the pull fails with it once the
   * payloads before it are handed out. Without it, such a CommandComplete breaks the protocol.
   */
  readonly endedWithoutCopyDone?: ((commandTag: string) => ConnectionError) | undefined
}

const COPY_DATA = 0x64

export class CopyDataPull {
  /** The server's CopyDone has been read. */
  serverDone = false
  /** The server's ErrorResponse that ended the copy (the server then sends ReadyForQuery). */
  serverError: ConnectionError | undefined = undefined
  /** Bytes that are not the protocol, a lost socket, or a failed `beforeEnd` after CopyDone. */
  private otherFailure: ConnectionError | undefined = undefined
  private readonly notices: Array<Backend.NoticeResponse> = []
  private readonly wire: Wire
  private readonly hooks: SessionHooks
  private readonly options: CopyDataPullOptions

  constructor(wire: Wire, hooks: SessionHooks, options: CopyDataPullOptions) {
    this.wire = wire
    this.hooks = hooks
    this.options = options
  }

  /** Why the copy failed, if it did. */
  get failure(): ConnectionError | undefined {
    return this.serverError ?? this.otherFailure
  }

  /** The reported end of the copy, after `beforeEnd`. */
  private end(): Effect.Effect<never, ConnectionError | Cause.Done> {
    const report = Effect.suspend((): Effect.Effect<never, ConnectionError | Cause.Done> => {
      const failure = this.failure
      return failure === undefined ? Cause.done() : Effect.fail(failure)
    })
    const before = this.options.beforeEnd
    // A broken session has nothing more to read.
    if (before === undefined || this.otherFailure !== undefined) return report
    return before.pipe(
      Effect.catch((e) =>
        Effect.sync(() => {
          this.otherFailure ??= e
        })
      ),
      Effect.andThen(report)
    )
  }

  /** One batch: the CopyData payloads of the next socket chunk (waiting for one if none is buffered). */
  readonly pull: Effect.Effect<readonly [CopyDataFrames], ConnectionError | Cause.Done> = Effect.suspend(() => {
    if (this.serverDone || this.failure !== undefined) return this.end()
    const wire = this.wire
    const framer = wire.framer
    const buffers: Array<Uint8Array> = []
    const starts: Array<number> = []
    const ends: Array<number> = []
    let exited: ConnectionError | undefined
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
            this.serverDone = true
            break
          } else if (msg._tag === "ErrorResponse") {
            // The server has left copy mode; ReadyForQuery follows.
            this.serverError = serverError(msg)
            break
          } else if (msg._tag === "NoticeResponse") {
            this.notices.push(msg)
          } else if (msg._tag === "ParameterStatus") {
            this.hooks.onParameter(msg.name, msg.value)
          } else if (msg._tag === "CommandComplete" && this.options.endedWithoutCopyDone !== undefined) {
            this.otherFailure = this.options.endedWithoutCopyDone(msg.commandTag)
            exited = this.otherFailure
            break
          } else {
            throw protocolError(`Unexpected ${msg._tag} inside a ${this.options.name} stream`)
          }
        }
        if (buffers.length > 0 || this.serverDone || this.failure !== undefined) break
        const chunk = wire.transport.readAvailable()
        if (chunk === undefined) break
        framer.push(chunk)
      }
    } catch (e) {
      const fatal = toConnectionError(e)
      this.otherFailure = fatal
      return Effect.andThen(this.hooks.onFatal(fatal), Effect.fail(fatal))
    }
    const emit: Effect.Effect<readonly [CopyDataFrames], ConnectionError | Cause.Done> =
      buffers.length > 0
        ? Effect.succeed([{ buffers, starts, ends }] as const)
        : this.serverDone || this.failure !== undefined
          ? this.end()
          : Effect.flatMap(
              Effect.tapError(wire.fill, (e) =>
                Effect.andThen(
                  Effect.sync(() => {
                    this.otherFailure ??= e
                  }),
                  this.hooks.onFatal(e)
                )
              ),
              () => this.pull
            )
    const logged = this.notices.length > 0 ? Effect.andThen(this.logNotices, emit) : emit
    // The server is gone: the session is marked broken before what came ahead of the end is handed out.
    return exited === undefined ? logged : Effect.andThen(this.hooks.onFatal(exited), logged)
  })

  private readonly logNotices = Effect.suspend(() =>
    Effect.forEach(this.notices.splice(0), logNotice, { discard: true })
  )
}
