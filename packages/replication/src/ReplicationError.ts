/**
 * The one error type of `@pgcdc/replication`: a `ReplicationError` wrapping a `reason` (ReplicationErrorReason.ts)
 * that says what went wrong in terms a user can act on. Its `message`, `code`, `detail`, `hint` and `isRetryable` are
 * the reason's. `fromConnectionError` names the server errors a user can act on (missing slot or publication, slot
 * in use, wal_level, duplicates, unsupported features).
 *
 * It deliberately never carries row values or passwords.
 */
import type { ConnectionError } from "@pgcdc/connection"
import * as Data from "effect/Data"
import * as Reasons from "./ReplicationErrorReason.ts"

/** A plain tagged error (not an Effect Schema class, which would load `effect/Schema` at every start). */
export class ReplicationError extends Data.TaggedError("ReplicationError")<{ readonly reason: Reasons.Reason }> {
  override get message(): string {
    return this.reason.message
  }
  /** SQLSTATE of the server error behind this one, when there was one. */
  get code(): string | undefined {
    return this.reason.code
  }
  get detail(): string | undefined {
    return this.reason.detail
  }
  get hint(): string | undefined {
    return this.reason.hint
  }
  /** Whether a new connection can help. */
  get isRetryable(): boolean {
    return this.reason.isRetryable
  }
}

export const isReplicationError = (u: unknown): u is ReplicationError => u instanceof ReplicationError

/** The fields every reason takes, and the extra ones of a few. */
type ReasonInput<T extends Reasons.Tag> = ConstructorParameters<Extract<ReasonClasses, { readonly tag: T }>["class"]>[0]

type ReasonClasses =
  | { readonly tag: "Connection"; readonly class: typeof Reasons.Connection }
  | { readonly tag: "Server"; readonly class: typeof Reasons.Server }
  | { readonly tag: "SlotActive"; readonly class: typeof Reasons.SlotActive }
  | { readonly tag: "Protocol"; readonly class: typeof Reasons.Protocol }
  | { readonly tag: "Decode"; readonly class: typeof Reasons.Decode }
  | { readonly tag: "UnknownRelation"; readonly class: typeof Reasons.UnknownRelation }
  | { readonly tag: "CommitBeyondReceived"; readonly class: typeof Reasons.CommitBeyondReceived }
  | { readonly tag: "UnsupportedOption"; readonly class: typeof Reasons.UnsupportedOption }
  | { readonly tag: "InvalidOption"; readonly class: typeof Reasons.InvalidOption }
  | { readonly tag: "WalLevel"; readonly class: typeof Reasons.WalLevel }
  | { readonly tag: "SlotMissing"; readonly class: typeof Reasons.SlotMissing }
  | { readonly tag: "PublicationMissing"; readonly class: typeof Reasons.PublicationMissing }
  | { readonly tag: "Snapshot"; readonly class: typeof Reasons.Snapshot }
  | { readonly tag: "AlreadyExists"; readonly class: typeof Reasons.AlreadyExists }

const classes: { readonly [T in Reasons.Tag]: Extract<ReasonClasses, { readonly tag: T }>["class"] } = {
  Connection: Reasons.Connection,
  Server: Reasons.Server,
  SlotActive: Reasons.SlotActive,
  Protocol: Reasons.Protocol,
  Decode: Reasons.Decode,
  UnknownRelation: Reasons.UnknownRelation,
  CommitBeyondReceived: Reasons.CommitBeyondReceived,
  UnsupportedOption: Reasons.UnsupportedOption,
  InvalidOption: Reasons.InvalidOption,
  WalLevel: Reasons.WalLevel,
  SlotMissing: Reasons.SlotMissing,
  PublicationMissing: Reasons.PublicationMissing,
  Snapshot: Reasons.Snapshot,
  AlreadyExists: Reasons.AlreadyExists
}

/** `new ReplicationError({ reason: new <Tag>(fields) })`, in one call: `replicationError("WalLevel", { message })`. */
export const replicationError = <T extends Reasons.Tag>(tag: T, fields: ReasonInput<T>): ReplicationError => {
  const Class = classes[tag] as new (fields: ReasonInput<T>) => Reasons.Reason
  return new ReplicationError({ reason: new Class(fields) })
}

/** The same error with another message (and the original as its cause): same reason, same verdict on retrying. */
export const withMessage = (e: ReplicationError, message: string): ReplicationError => {
  const { _tag, ...fields } = e.reason
  return replicationError(_tag, { ...fields, message, cause: e } as ReasonInput<typeof _tag>)
}

/**
 * Names the server errors a user can act on (missing slot or publication, slot in use, wal_level, duplicate
 * objects, unsupported features) and keeps SQLSTATE, detail and hint; everything else is "Server" or "Connection"
 * with the connection's own retry verdict.
 */
export const fromConnectionError = (e: ConnectionError, context?: string): ReplicationError => {
  const prefix = context === undefined ? "" : `${context}: `
  const server = { code: e.code, detail: e.detail, hint: e.hint, cause: e }
  if (e.reason !== "Server") {
    return replicationError("Connection", { message: `${prefix}${e.message}`, retryable: e.isRetryable, ...server })
  }
  const text = e.message
  if (e.code === "42704" && /replication slot/i.test(text)) {
    return replicationError("SlotMissing", {
      message: `${prefix}${text}. Create the slot first (Slot.create, or SELECT pg_create_logical_replication_slot('<name>', 'pgoutput')).`,
      ...server
    })
  }
  if (e.code === "42704" && /publication/i.test(text)) {
    return replicationError("PublicationMissing", {
      message: `${prefix}${text}. Create it (Publication.create, or CREATE PUBLICATION <name> FOR TABLE ...).`,
      ...server
    })
  }
  if (e.code === "55006") {
    // Retryable until the supervisor knows who holds the slot: our own exiting walsender, or another consumer.
    return replicationError("SlotActive", {
      message: `${prefix}${text}. Another process is consuming this slot: stop it, or wait until its walsender exits.`,
      retryable: true,
      ...server
    })
  }
  if (/wal_level/i.test(text)) {
    return replicationError("WalLevel", {
      message: `${prefix}${text}. Set wal_level = logical in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server.`,
      ...server
    })
  }
  if (e.code === "42710") return replicationError("AlreadyExists", { message: `${prefix}${text}`, ...server })
  if (e.code === "0A000") return replicationError("UnsupportedOption", { message: `${prefix}${text}`, ...server })
  return replicationError("Server", { message: `${prefix}${text}`, retryable: e.isRetryable, ...server })
}
