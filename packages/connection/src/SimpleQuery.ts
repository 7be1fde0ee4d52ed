/**
 * The simple query protocol, from the Query message to ReadyForQuery: rows as text with their field descriptions,
 * one result per statement, command tags, and the ErrorResponse that ends the batch.
 *
 * The loop handles every message already received synchronously and only suspends to read from the socket, so a
 * large result costs one Effect per socket read, not per row. Asynchronous messages (NoticeResponse,
 * ParameterStatus, NotificationResponse) are handed to the session wherever they appear.
 *
 * It deliberately does not support COPY FROM STDIN (the server gets a CopyFail) and ignores COPY TO STDOUT data;
 * CopyBoth is `CopyBoth.ts`.
 */
import type { Backend, BackendMessage } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import { type ConnectionError, protocolError } from "./ConnectionError.ts"
import { encodeOne, logNotice, serverError, toConnectionError, type Wire } from "./Wire.ts"

export interface QueryResult {
  /** The command tag, e.g. "SELECT 2", "INSERT 0 1", "CREATE_REPLICATION_SLOT". */
  readonly command: string
  readonly fields: ReadonlyArray<Backend.FieldDescription>
  /** Text values as PostgreSQL printed them; null is SQL NULL. */
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>
}

/** What the session does with the messages that can arrive at any time, and when the protocol breaks. */
export interface SessionHooks {
  readonly onParameter: (name: string, value: string) => void
  /** Called with any failure of `drive`: bytes that are not the protocol, or a lost socket. */
  readonly onFatal: (error: ConnectionError) => Effect.Effect<void>
}

/**
 * Reads and handles messages until `handle` says it is done (returns true). Notices are logged after each batch.
 * Throwing a `ConnectionError` from `handle` fails the loop; every failure of the loop is fatal to the session
 * (`hooks.onFatal`), because the position in the message stream is lost.
 */
export const drive = (
  wire: Wire,
  hooks: SessionHooks,
  handle: (msg: BackendMessage) => boolean
): Effect.Effect<void, ConnectionError> => {
  const notices: Array<Backend.NoticeResponse> = []
  const flushNotices = Effect.suspend(() => {
    if (notices.length === 0) return Effect.void
    const batch = notices.splice(0)
    return Effect.forEach(batch, logNotice, { discard: true })
  })
  const loop: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
    try {
      while (wire.nextFrame()) {
        const msg = wire.decodeFrame()
        switch (msg._tag) {
          case "NoticeResponse":
            notices.push(msg)
            continue
          case "ParameterStatus":
            hooks.onParameter(msg.name, msg.value)
            continue
          case "NotificationResponse":
            // LISTEN/NOTIFY is not part of this API; a notification must not break the exchange.
            continue
        }
        if (handle(msg)) return flushNotices
      }
    } catch (e) {
      return Effect.andThen(flushNotices, Effect.fail(toConnectionError(e)))
    }
    return flushNotices.pipe(Effect.andThen(wire.fill), Effect.andThen(loop))
  })
  return Effect.tapError(loop, hooks.onFatal)
}

const copyFail = encodeOne({ _tag: "CopyFail", message: "COPY FROM STDIN is not supported by pgcdc's query()" })
const copyDone = encodeOne({ _tag: "CopyDone" })

/**
 * Collects the results of one Query message. Call after sending it. `progress.ready` turns true the moment
 * ReadyForQuery is read, so a caller interrupted after that point knows there is nothing left to drain.
 */
export const collectResults = (
  wire: Wire,
  hooks: SessionHooks,
  progress: { ready: boolean }
): Effect.Effect<
  { readonly results: ReadonlyArray<QueryResult>; readonly status: Backend.TransactionStatus },
  ConnectionError
> =>
  Effect.suspend(() => {
    const results: Array<QueryResult> = []
    let fields: ReadonlyArray<Backend.FieldDescription> | undefined
    let rows: Array<ReadonlyArray<string | null>> = []
    let error: ConnectionError | undefined
    let status: Backend.TransactionStatus = "I"
    return drive(wire, hooks, (msg) => {
      switch (msg._tag) {
        case "RowDescription":
          fields = msg.fields
          rows = []
          return false
        case "DataRow":
          if (fields === undefined) throw protocolError("DataRow without RowDescription")
          rows.push(msg.values)
          return false
        case "CommandComplete":
          results.push({ command: msg.commandTag, fields: fields ?? [], rows })
          fields = undefined
          rows = []
          return false
        case "EmptyQueryResponse":
          return false
        case "ErrorResponse":
          error ??= serverError(msg)
          return false
        case "CopyInResponse":
          wire.transport.writeNow(copyFail)
          return false
        case "CopyOutResponse":
        case "CopyDone":
          return false
        case "CopyData":
          return false
        case "CopyBothResponse":
          error ??= protocolError("This command starts a CopyBoth stream: run it with copyBoth(), not query()")
          wire.transport.writeNow(copyDone)
          return false
        case "ReadyForQuery":
          status = msg.status
          progress.ready = true
          return true
        default:
          throw protocolError(`Unexpected ${msg._tag} in a query response`)
      }
    }).pipe(
      // A FATAL error (the backend was terminated, the server is shutting down) is followed by the server closing
      // the socket; the error says why, the "Closed" that follows does not.
      Effect.catch((lost) => Effect.fail(error !== undefined && isFatal(error) ? error : lost)),
      Effect.andThen(() => (error === undefined ? Effect.succeed({ results, status }) : Effect.fail(error)))
    )
  })

/** Whether a server error ends the session (FATAL, PANIC): the server closes the socket after it. */
export const isFatal = (e: ConnectionError): boolean =>
  e.severityNonLocalized === "FATAL" ||
  e.severityNonLocalized === "PANIC" ||
  e.severity === "FATAL" ||
  e.severity === "PANIC"

/** Reads and discards everything up to ReadyForQuery (after an interrupted query or an abandoned copy). */
export const discardUntilReady = (wire: Wire, hooks: SessionHooks): Effect.Effect<void, ConnectionError> =>
  drive(wire, hooks, (msg) => msg._tag === "ReadyForQuery")
