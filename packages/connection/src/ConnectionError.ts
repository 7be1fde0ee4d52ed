/**
 * The one error type of `@pgcdc/connection`.
 *
 * Every failure a connection can meet is a `ConnectionError` whose `reason` says which stage failed: opening the
 * socket ("Open"), TLS ("Tls"), authentication ("Auth"), an ErrorResponse from the server ("Server"), bytes that
 * break the protocol ("Protocol") or a connection that is gone ("Closed"). Server errors carry every field of the
 * ErrorResponse (SQLSTATE `code`, severity, detail, hint, position, ...). Messages say what to change where we can
 * tell. `isRetryable` tells a reconnect loop whether trying again can help.
 *
 * It deliberately never carries passwords, connection URLs with passwords or raw message bytes.
 */
import * as Data from "effect/Data"

/** Which stage failed. */
export type ConnectionErrorReason = "Open" | "Tls" | "Auth" | "Server" | "Protocol" | "Closed"

/** The fields of an ErrorResponse or NoticeResponse, named for what they mean (not their one-letter codes). */
export interface ServerErrorFields {
  /** SQLSTATE, e.g. "42601" (field C). */
  readonly code?: string | undefined
  /** Localized severity (S), e.g. "ERROR", "FATAL". */
  readonly severity?: string | undefined
  /** Non-localized severity (V, PostgreSQL 9.6+). */
  readonly severityNonLocalized?: string | undefined
  readonly detail?: string | undefined
  readonly hint?: string | undefined
  /** Cursor position into the query string, 1-based characters (P). */
  readonly position?: string | undefined
  readonly internalPosition?: string | undefined
  readonly internalQuery?: string | undefined
  readonly where?: string | undefined
  readonly schemaName?: string | undefined
  readonly tableName?: string | undefined
  readonly columnName?: string | undefined
  readonly dataTypeName?: string | undefined
  readonly constraintName?: string | undefined
  readonly file?: string | undefined
  readonly line?: string | undefined
  readonly routine?: string | undefined
}

/**
 * A plain tagged error, not an Effect Schema class: importing `effect/Schema` costs every process about 100 ms of
 * CPU at start-up, and nothing encodes or decodes these errors.
 */
export class ConnectionError extends Data.TaggedError("ConnectionError")<
  ServerErrorFields & {
    readonly reason: ConnectionErrorReason
    readonly message: string
    /** Set where the stage alone does not decide (an invalid configuration fails at "Open" but never heals). */
    readonly retryable?: boolean | undefined
    readonly cause?: unknown
  }
> {
  /**
   * Whether the same operation on a new connection may succeed: network trouble, a server that is starting or
   * shutting down, too many connections, a slot still held by a walsender that is going away, serialization
   * failures and deadlocks. Wrong passwords, TLS verification failures, protocol violations and SQL errors are not.
   */
  get isRetryable(): boolean {
    if (this.retryable !== undefined) return this.retryable
    switch (this.reason) {
      case "Open":
      case "Closed":
        return true
      case "Server":
      case "Auth":
        return this.code !== undefined && isRetryableSqlState(this.code)
      default:
        return false
    }
  }
}

export const isConnectionError = (u: unknown): u is ConnectionError => u instanceof ConnectionError

/** SQLSTATEs after which a retry can succeed (see the PostgreSQL "Errcodes" appendix). */
export const isRetryableSqlState = (code: string): boolean =>
  code.startsWith("08") || // connection exception
  code.startsWith("53") || // insufficient resources (too_many_connections, out_of_memory, disk_full)
  code === "40001" || // serialization_failure
  code === "40P01" || // deadlock_detected
  code === "55006" || // object_in_use (a replication slot still active on a dying walsender)
  code === "57P01" || // admin_shutdown
  code === "57P02" || // crash_shutdown
  code === "57P03" || // cannot_connect_now (starting up, in recovery)
  code === "57P05" // idle_session_timeout

/** Shorthands used across the package; `cause` is kept for debugging but never printed in `message`. */
export const openError = (message: string, cause?: unknown): ConnectionError =>
  new ConnectionError({ reason: "Open", message, cause })
/** A configuration that can never work (bad URL, unknown sslmode): fix the configuration, do not retry. */
export const configError = (message: string, cause?: unknown): ConnectionError =>
  new ConnectionError({ reason: "Open", message, retryable: false, cause })
export const tlsError = (message: string, cause?: unknown): ConnectionError =>
  new ConnectionError({ reason: "Tls", message, cause })
export const authError = (message: string, cause?: unknown): ConnectionError =>
  new ConnectionError({ reason: "Auth", message, cause })
export const protocolError = (message: string, cause?: unknown): ConnectionError =>
  new ConnectionError({ reason: "Protocol", message, cause })
export const closedError = (message: string, cause?: unknown): ConnectionError =>
  new ConnectionError({ reason: "Closed", message, cause })
