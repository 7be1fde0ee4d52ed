/**
 * The pgoutput logical replication messages of protocol versions 1 to 4, as plain readonly data.
 *
 * Names and fields follow the PostgreSQL page "protocol-logicalrep-message-formats": `_tag` is the message name,
 * LSNs are `Lsn`, timestamps are `bigint` microseconds since 2000-01-01 (see Timestamp), xids and OIDs are `number`
 * (uint32). `xid` on Relation, Type, Insert, Update, Delete, Truncate and Message is present only inside a streamed
 * transaction (between StreamStart and StreamStop), which the decoder learns from its caller, never from the bytes.
 *
 * This module only declares the shapes; the codec and the Schemas live beside it.
 */
import type { Lsn } from "../Lsn.ts"
import type { TupleData } from "./TupleData.ts"

export type ProtoVersion = 1 | 2 | 3 | 4

/** What the decoder needs to know that the bytes do not say. */
export interface PgoutputOptions {
  /** The `proto_version` passed to START_REPLICATION. */
  readonly protoVersion: ProtoVersion
  /** True between StreamStart and StreamStop: xid-bearing messages then carry the streamed transaction's xid. */
  readonly inStream: boolean
  /**
   * The `streaming` option passed to START_REPLICATION (default "off"). With "parallel" and protocol 4,
   * StreamAbort carries the abort LSN and abort time.
   */
  readonly streaming?: "off" | "on" | "parallel" | undefined
}

export interface Begin {
  readonly _tag: "Begin"
  /** The final LSN of the transaction. */
  readonly finalLsn: Lsn
  readonly commitTime: bigint
  readonly xid: number
}

/** A logical decoding message (pg_logical_emit_message). */
export interface Message {
  readonly _tag: "Message"
  readonly xid: number | undefined
  readonly transactional: boolean
  readonly lsn: Lsn
  readonly prefix: string
  /** A copy of the content bytes. */
  readonly content: Uint8Array
}

export interface Commit {
  readonly _tag: "Commit"
  /** Currently unused by PostgreSQL (0); kept so that re-encoding gives the same bytes. */
  readonly flags: number
  readonly commitLsn: Lsn
  /** The end LSN of the transaction: the position to confirm once the transaction is processed. */
  readonly endLsn: Lsn
  readonly commitTime: bigint
}

export interface Origin {
  readonly _tag: "Origin"
  /** The LSN of the commit on the origin server. */
  readonly commitLsn: Lsn
  readonly name: string
}

export interface RelationColumn {
  /** 1 marks the column as part of the key; no other flag is defined. */
  readonly flags: number
  readonly name: string
  readonly typeOid: number
  /** atttypmod; -1 when the type has no modifier. */
  readonly typeModifier: number
}

/** relreplident: default, nothing, full, index. */
export type ReplicaIdentity = "d" | "n" | "f" | "i"

export interface Relation {
  readonly _tag: "Relation"
  readonly xid: number | undefined
  readonly relationId: number
  /** Empty for pg_catalog. */
  readonly namespace: string
  readonly relationName: string
  readonly replicaIdentity: ReplicaIdentity
  readonly columns: ReadonlyArray<RelationColumn>
}

export interface Type {
  readonly _tag: "Type"
  readonly xid: number | undefined
  readonly typeOid: number
  /** Empty for pg_catalog. */
  readonly namespace: string
  readonly typeName: string
}

export interface Insert {
  readonly _tag: "Insert"
  readonly xid: number | undefined
  readonly relationId: number
  readonly newTuple: TupleData
}

/** `key` ('K') when the replica identity key changed, `old` ('O') with REPLICA IDENTITY FULL; never both. */
export interface Update {
  readonly _tag: "Update"
  readonly xid: number | undefined
  readonly relationId: number
  readonly key: TupleData | undefined
  readonly old: TupleData | undefined
  readonly newTuple: TupleData
}

/** Exactly one of `key` ('K') and `old` ('O', REPLICA IDENTITY FULL) is set. */
export interface Delete {
  readonly _tag: "Delete"
  readonly xid: number | undefined
  readonly relationId: number
  readonly key: TupleData | undefined
  readonly old: TupleData | undefined
}

export interface Truncate {
  readonly _tag: "Truncate"
  readonly xid: number | undefined
  /** TRUNCATE ... CASCADE (option bit 1). */
  readonly cascade: boolean
  /** TRUNCATE ... RESTART IDENTITY (option bit 2). */
  readonly restartIdentity: boolean
  readonly relationIds: ReadonlyArray<number>
}

export interface StreamStart {
  readonly _tag: "StreamStart"
  readonly xid: number
  /** True for the first segment streamed for this xid. */
  readonly firstSegment: boolean
}

export interface StreamStop {
  readonly _tag: "StreamStop"
}

export interface StreamCommit {
  readonly _tag: "StreamCommit"
  readonly xid: number
  readonly flags: number
  readonly commitLsn: Lsn
  readonly endLsn: Lsn
  readonly commitTime: bigint
}

/** `abortLsn` and `abortTime` are present exactly when protocol 4 runs with streaming=parallel. */
export interface StreamAbort {
  readonly _tag: "StreamAbort"
  readonly xid: number
  /** The aborted subtransaction; equal to `xid` when the whole transaction aborted. */
  readonly subXid: number
  readonly abortLsn: Lsn | undefined
  readonly abortTime: bigint | undefined
}

export interface BeginPrepare {
  readonly _tag: "BeginPrepare"
  readonly prepareLsn: Lsn
  readonly endLsn: Lsn
  readonly prepareTime: bigint
  readonly xid: number
  readonly gid: string
}

export interface Prepare {
  readonly _tag: "Prepare"
  readonly flags: number
  readonly prepareLsn: Lsn
  readonly endLsn: Lsn
  readonly prepareTime: bigint
  readonly xid: number
  readonly gid: string
}

export interface CommitPrepared {
  readonly _tag: "CommitPrepared"
  readonly flags: number
  readonly commitLsn: Lsn
  readonly endLsn: Lsn
  readonly commitTime: bigint
  readonly xid: number
  readonly gid: string
}

export interface RollbackPrepared {
  readonly _tag: "RollbackPrepared"
  readonly flags: number
  readonly prepareEndLsn: Lsn
  readonly rollbackEndLsn: Lsn
  readonly prepareTime: bigint
  readonly rollbackTime: bigint
  readonly xid: number
  readonly gid: string
}

export interface StreamPrepare {
  readonly _tag: "StreamPrepare"
  readonly flags: number
  readonly prepareLsn: Lsn
  readonly endLsn: Lsn
  readonly prepareTime: bigint
  readonly xid: number
  readonly gid: string
}

export type PgoutputMessage =
  | Begin
  | Message
  | Commit
  | Origin
  | Relation
  | Type
  | Insert
  | Update
  | Delete
  | Truncate
  | StreamStart
  | StreamStop
  | StreamCommit
  | StreamAbort
  | BeginPrepare
  | Prepare
  | CommitPrepared
  | RollbackPrepared
  | StreamPrepare

export type PgoutputTag = PgoutputMessage["_tag"]

/** The lowest protocol version in which each message exists. */
export const minProtoVersion: { readonly [K in PgoutputTag]: ProtoVersion } = {
  Begin: 1,
  Message: 1,
  Commit: 1,
  Origin: 1,
  Relation: 1,
  Type: 1,
  Insert: 1,
  Update: 1,
  Delete: 1,
  Truncate: 1,
  StreamStart: 2,
  StreamStop: 2,
  StreamCommit: 2,
  StreamAbort: 2,
  BeginPrepare: 3,
  Prepare: 3,
  CommitPrepared: 3,
  RollbackPrepared: 3,
  StreamPrepare: 3
}

/** The messages whose layout has the streamed-transaction xid when decoded with `inStream: true`. */
export const hasStreamXid = (tag: PgoutputTag): boolean =>
  tag === "Relation" ||
  tag === "Type" ||
  tag === "Insert" ||
  tag === "Update" ||
  tag === "Delete" ||
  tag === "Truncate" ||
  tag === "Message"

/** Whether StreamAbort carries abort LSN and time under these options. */
export const hasAbortInfo = (options: PgoutputOptions): boolean =>
  options.protoVersion >= 4 && options.streaming === "parallel"

/**
 * The `inStream` flag to decode the message after `m` with: true after StreamStart, false after StreamStop,
 * unchanged otherwise. The one piece of state a caller keeps for the decoder.
 */
export const inStreamAfter = (inStream: boolean, m: PgoutputMessage): boolean =>
  m._tag === "StreamStart" ? true : m._tag === "StreamStop" ? false : inStream
