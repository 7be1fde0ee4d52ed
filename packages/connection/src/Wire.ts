/**
 * Messages over a `Transport`: the framer that splits the byte stream, backend message decoding, frontend message
 * encoding, and the translation of codec failures (`ProtocolError`) and server errors (ErrorResponse) into
 * `ConnectionError`.
 *
 * `readMessage` costs one Effect per message and is for the startup and the simple query paths; the CopyBoth hot
 * path walks the framer itself (see `CopyBoth.ts`). It deliberately holds no session state (parameters, keys):
 * that belongs to `Session`.
 */
import {
  type Backend,
  type BackendMessage,
  encodeFrontend,
  Framer,
  type FrontendMessage,
  isProtocolError,
  unsafeDecodeBackendBody,
  Writer
} from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import { ConnectionError, protocolError } from "./ConnectionError.ts"
import type { ByteTransport } from "./Transport.ts"

export class Wire {
  readonly transport: ByteTransport
  readonly framer: Framer
  private readonly writer = new Writer(256)

  constructor(transport: ByteTransport, maxMessageSize: number) {
    this.transport = transport
    this.framer = new Framer({ maxMessageSize })
  }

  /**
   * Advances the framer to the next complete message already received; false when more bytes are needed.
   * Throws `ConnectionError` (reason "Protocol") for a bad length or an oversize message.
   */
  nextFrame(): boolean {
    try {
      return this.framer.next()
    } catch (e) {
      throw toConnectionError(e)
    }
  }

  /** Decodes the message the framer points at. Throws `ConnectionError` ("Protocol"). */
  decodeFrame(): BackendMessage {
    const f = this.framer
    try {
      return unsafeDecodeBackendBody(f.type, f.buf, f.bodyStart, f.end)
    } catch (e) {
      throw toConnectionError(e)
    }
  }

  /** Waits for the next chunk and hands it to the framer. */
  readonly fill: Effect.Effect<void, ConnectionError> = Effect.suspend(() => {
    const available = this.transport.readAvailable()
    if (available !== undefined) {
      this.framer.push(available)
      return Effect.void
    }
    return Effect.map(this.transport.read, (chunk) => this.framer.push(chunk))
  })

  /** The next backend message (one Effect per message: for the startup and query paths, not the hot path). */
  readonly readMessage: Effect.Effect<BackendMessage, ConnectionError> = Effect.suspend(() => {
    try {
      if (this.nextFrame()) return Effect.succeed(this.decodeFrame())
    } catch (e) {
      return Effect.fail(toConnectionError(e))
    }
    return Effect.flatMap(this.fill, () => this.readMessage)
  })

  /** Encodes messages into one buffer (one syscall) and sends them. */
  send(...messages: ReadonlyArray<FrontendMessage>): Effect.Effect<void, ConnectionError> {
    return Effect.suspend(() => {
      const w = this.writer.clear()
      try {
        for (const m of messages) encodeFrontend(m, w)
      } catch (e) {
        return Effect.fail(toConnectionError(e))
      }
      return this.transport.write(w.toBytes())
    })
  }
}

/** One frontend message as bytes (for constant control messages). */
export const encodeOne = (msg: FrontendMessage): Uint8Array => encodeFrontend(msg, new Writer(32)).toBytes()

export const toConnectionError = (e: unknown): ConnectionError => {
  if (e instanceof ConnectionError) return e
  if (isProtocolError(e)) return protocolError(`Invalid data from the server: ${e.message}`, e)
  return protocolError(`Unexpected failure while handling server data: ${String(e)}`, e)
}

/** An ErrorResponse as a `ConnectionError`; authentication failures (SQLSTATE class 28) get reason "Auth". */
export const serverError = (e: Backend.ErrorResponse, context?: string): ConnectionError => {
  const code = e.code
  const text = e.message ?? "(no message)"
  return new ConnectionError({
    reason: code?.startsWith("28") ? "Auth" : "Server",
    message: context === undefined ? text : `${context}: ${text}`,
    code,
    severity: e.severity,
    severityNonLocalized: e.severityNonLocalized,
    detail: e.detail,
    hint: e.hint,
    position: e.position,
    internalPosition: e.internalPosition,
    internalQuery: e.internalQuery,
    where: e.where,
    schemaName: e.schemaName,
    tableName: e.tableName,
    columnName: e.columnName,
    dataTypeName: e.dataTypeName,
    constraintName: e.constraintName,
    file: e.file,
    line: e.line,
    routine: e.routine
  })
}

/** A NoticeResponse as an Effect log line at a level that matches its severity. */
export const logNotice = (n: Backend.NoticeResponse): Effect.Effect<void> => {
  const severity = n.severityNonLocalized ?? n.severity ?? "NOTICE"
  const text = `PostgreSQL ${severity}: ${n.message ?? ""}`
  const log =
    severity === "WARNING"
      ? Effect.logWarning(text)
      : severity === "DEBUG" || severity === "LOG"
        ? Effect.logDebug(text)
        : Effect.logInfo(text)
  return log.pipe(
    Effect.annotateLogs({
      "pg.severity": severity,
      ...(n.code !== undefined ? { "pg.code": n.code } : {}),
      ...(n.detail !== undefined ? { "pg.detail": n.detail } : {}),
      ...(n.hint !== undefined ? { "pg.hint": n.hint } : {})
    })
  )
}
