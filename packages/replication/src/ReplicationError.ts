/**
 * The one error type of `@pgcdc/replication`.
 *
 * `reason` says what went wrong in terms a user can act on; `message` says what to change (set `wal_level=logical`,
 * create the publication, stop the other consumer of the slot, upgrade the server or drop the option).
 * `isRetryable` tells the reconnect loop whether a new connection can help: dropped connections and a slot still
 * held by a dying walsender can; configuration mistakes, bad bytes and undecodable values cannot.
 *
 * It deliberately never carries row values or passwords.
 */
import type { ConnectionError } from "@pgcdc/connection"
import * as Schema from "effect/Schema"

export const ReplicationErrorReason = Schema.Literals([
  /** The connection failed or closed (see `cause`, a ConnectionError). */
  "Connection",
  /** The server answered a command with an error not covered by a more specific reason. */
  "Server",
  /** The server sent bytes that break the replication protocol or pgoutput. */
  "Protocol",
  /** A column value could not be decoded for its type. */
  "Decode",
  /** A row arrived for a relation id that no Relation message described. */
  "UnknownRelation",
  /** `commit` was given an LSN beyond everything received. */
  "CommitBeyondReceived",
  /** An option needs a newer PostgreSQL major version than the server's. */
  "UnsupportedOption",
  /** An option value is invalid whatever the server (e.g. a malformed slot name). */
  "InvalidOption",
  /** The server's `wal_level` is not `logical`. */
  "WalLevel",
  /** The replication slot does not exist. */
  "SlotMissing",
  /** The replication slot is in use by another process. */
  "SlotActive",
  /** A publication named in the options does not exist. */
  "PublicationMissing",
  /** The object to create exists already. */
  "AlreadyExists"
])
export type ReplicationErrorReason = typeof ReplicationErrorReason.Type

const OptionalString = Schema.optional(Schema.String)

export class ReplicationError extends Schema.TaggedError<ReplicationError>()("ReplicationError", {
  reason: ReplicationErrorReason,
  message: Schema.String,
  /** SQLSTATE of the server error behind this one, when there was one. */
  code: OptionalString,
  detail: OptionalString,
  hint: OptionalString,
  /** SlotActive: the process that holds the slot, when the server said. */
  pid: Schema.optional(Schema.Number),
  /** Set when the reason alone does not decide (a "Connection" error takes it from its ConnectionError). */
  retryable: Schema.optional(Schema.Boolean),
  cause: Schema.optional(Schema.Defect())
}) {
  get isRetryable(): boolean {
    if (this.retryable !== undefined) return this.retryable
    return this.reason === "Connection" || this.reason === "SlotActive"
  }
}

export const isReplicationError = (u: unknown): u is ReplicationError => u instanceof ReplicationError

/**
 * Names the server errors a user can act on (missing slot or publication, slot in use, wal_level, duplicate
 * objects, unsupported features) and keeps SQLSTATE, detail and hint; everything else is "Server" or "Connection"
 * with the connection's own retry verdict.
 */
export const fromConnectionError = (e: ConnectionError, context?: string): ReplicationError => {
  const prefix = context === undefined ? "" : `${context}: `
  const server = { code: e.code, detail: e.detail, hint: e.hint, cause: e }
  if (e.reason !== "Server") {
    return new ReplicationError({
      reason: "Connection",
      message: `${prefix}${e.message}`,
      retryable: e.isRetryable,
      ...server
    })
  }
  const text = e.message
  if (e.code === "42704" && /replication slot/i.test(text)) {
    return new ReplicationError({
      reason: "SlotMissing",
      message: `${prefix}${text}. Create the slot first (Slot.create, or SELECT pg_create_logical_replication_slot('<name>', 'pgoutput')).`,
      retryable: false,
      ...server
    })
  }
  if (e.code === "42704" && /publication/i.test(text)) {
    return new ReplicationError({
      reason: "PublicationMissing",
      message: `${prefix}${text}. Create it (Publication.create, or CREATE PUBLICATION <name> FOR TABLE ...).`,
      retryable: false,
      ...server
    })
  }
  if (e.code === "55006") {
    return new ReplicationError({
      reason: "SlotActive",
      message: `${prefix}${text}. Another process is consuming this slot: stop it, or wait until its walsender exits.`,
      retryable: true,
      ...server
    })
  }
  if (/wal_level/i.test(text)) {
    return new ReplicationError({
      reason: "WalLevel",
      message: `${prefix}${text}. Set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server.`,
      retryable: false,
      ...server
    })
  }
  if (e.code === "42710") {
    return new ReplicationError({ reason: "AlreadyExists", message: `${prefix}${text}`, retryable: false, ...server })
  }
  if (e.code === "0A000") {
    return new ReplicationError({
      reason: "UnsupportedOption",
      message: `${prefix}${text}`,
      retryable: false,
      ...server
    })
  }
  return new ReplicationError({ reason: "Server", message: `${prefix}${text}`, retryable: e.isRetryable, ...server })
}
