/**
 * The reasons of a `ReplicationError`, one tagged class each, so `Effect.catchReason("ReplicationError", "SlotActive",
 * ...)` handles one case and lets the others through. Each says whether a new connection can help (`isRetryable`):
 * dropped connections, a server shutting down or starting up, and a slot still held by our own exiting walsender can;
 * configuration mistakes, bad bytes and undecodable values cannot. Every `message` says what to change, and server
 * errors keep their SQLSTATE, detail and hint.
 *
 * They deliberately never carry row values or passwords.
 */
import * as Data from "effect/Data"

/** What every reason carries. */
export interface Fields {
  readonly message: string
  /** SQLSTATE of the server error behind this one, when there was one. */
  readonly code?: string | undefined
  readonly detail?: string | undefined
  readonly hint?: string | undefined
  readonly cause?: unknown
}

/** Reasons whose verdict on retrying depends on the case (a connection error carries the connection's verdict). */
interface WithRetry extends Fields {
  readonly retryable: boolean
}

// Plain tagged errors, not Effect Schema classes: importing `effect/Schema` costs every process about 100 ms of CPU
// at start-up, and nothing encodes or decodes these errors.

/** The connection failed or closed (see `cause`, a ConnectionError), or the server ended the session. */
export class Connection extends Data.TaggedError("Connection")<WithRetry> {
  get isRetryable(): boolean {
    return this.retryable
  }
}

/** The server answered a command with an error not covered by a more specific reason. */
export class Server extends Data.TaggedError("Server")<WithRetry> {
  get isRetryable(): boolean {
    return this.retryable
  }
}

/** The replication slot is in use by another process (`pid`, when the server said which). */
export class SlotActive extends Data.TaggedError("SlotActive")<
  Fields & {
    readonly pid?: number | undefined
    /** Only when the holder is our own previous walsender, still exiting. */
    readonly retryable?: boolean | undefined
  }
> {
  get isRetryable(): boolean {
    return this.retryable === true
  }
}

/** The server sent bytes that break the replication protocol or pgoutput. */
export class Protocol extends Data.TaggedError("Protocol")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** A column value could not be decoded for its type. */
export class Decode extends Data.TaggedError("Decode")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** A row arrived for a relation id that no Relation message described. */
export class UnknownRelation extends Data.TaggedError("UnknownRelation")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** `commit` was given an LSN beyond everything received. */
export class CommitBeyondReceived extends Data.TaggedError("CommitBeyondReceived")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** An option needs a newer PostgreSQL major version than the server's. */
export class UnsupportedOption extends Data.TaggedError("UnsupportedOption")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** An option value is invalid whatever the server (a malformed slot name, no publication, a wrong connection). */
export class InvalidOption extends Data.TaggedError("InvalidOption")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** The server's `wal_level` is not `logical`. */
export class WalLevel extends Data.TaggedError("WalLevel")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** The replication slot does not exist. */
export class SlotMissing extends Data.TaggedError("SlotMissing")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** A publication named in the options does not exist. */
export class PublicationMissing extends Data.TaggedError("PublicationMissing")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The initial snapshot could not be taken or kept: its exported snapshot is gone, its temporary slot was lost before
 * the snapshot was confirmed, or the server cannot export one (a standby). The message says what to do.
 */
export class Snapshot extends Data.TaggedError("Snapshot")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

/** The object to create exists already. */
export class AlreadyExists extends Data.TaggedError("AlreadyExists")<Fields> {
  get isRetryable(): boolean {
    return false
  }
}

export type Reason =
  | Connection
  | Server
  | SlotActive
  | Protocol
  | Decode
  | UnknownRelation
  | CommitBeyondReceived
  | UnsupportedOption
  | InvalidOption
  | WalLevel
  | SlotMissing
  | PublicationMissing
  | Snapshot
  | AlreadyExists
export type Tag = Reason["_tag"]
