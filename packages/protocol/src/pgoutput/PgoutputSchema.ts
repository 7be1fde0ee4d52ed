/**
 * Effect Schemas for every pgoutput message: the types, their validation (uint32 xids and OIDs, int64 timestamps,
 * u64 LSNs, C strings without NUL), a JSON form (LSNs as "X/Y", bigints as decimal strings, bytes as base64, absent
 * values as null) and arbitraries for property tests (`Arbitrary.schema(PgoutputMessageSchema)`).
 *
 * `PgoutputFromBytes(options)` wraps the codec as a Schema transformation from bytes to a message. The hot path
 * calls `unsafeDecodePgoutput` directly; this is for users who compose Schemas.
 *
 * The Schemas cannot express the two rules that depend on the decoding context (an xid exactly inside a streamed
 * transaction, abort fields exactly under parallel streaming); the codec enforces those.
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { LsnFromString } from "../LsnSchema.ts"
import { ProtocolError } from "../ProtocolError.ts"
import { TimestampFromString } from "../TimestampSchema.ts"
import { decodePgoutput, encodePgoutputToBytes } from "./PgoutputCodec.ts"
import type { PgoutputMessage, PgoutputOptions } from "./PgoutputMessage.ts"
import { Bytes, CString, Int32, Uint8, Uint32, UndefinedAsNull } from "./SchemaFields.ts"
import { TupleDataSchema } from "./TupleDataSchema.ts"

const StreamXid = UndefinedAsNull(Uint32)
const Time = TimestampFromString
const Lsn = LsnFromString

export const BeginSchema = Schema.TaggedStruct("Begin", { finalLsn: Lsn, commitTime: Time, xid: Uint32 })

export const MessageSchema = Schema.TaggedStruct("Message", {
  xid: StreamXid,
  transactional: Schema.Boolean,
  lsn: Lsn,
  prefix: CString,
  content: Bytes
})

export const CommitSchema = Schema.TaggedStruct("Commit", {
  flags: Uint8,
  commitLsn: Lsn,
  endLsn: Lsn,
  commitTime: Time
})

export const OriginSchema = Schema.TaggedStruct("Origin", { commitLsn: Lsn, name: CString })

export const RelationColumnSchema = Schema.Struct({ flags: Uint8, name: CString, typeOid: Uint32, typeModifier: Int32 })

export const ReplicaIdentitySchema = Schema.Literals(["d", "n", "f", "i"])

export const RelationSchema = Schema.TaggedStruct("Relation", {
  xid: StreamXid,
  relationId: Uint32,
  namespace: CString,
  relationName: CString,
  replicaIdentity: ReplicaIdentitySchema,
  columns: Schema.Array(RelationColumnSchema).pipe(Schema.check(Schema.isMaxLength(0x7fff)))
})

export const TypeSchema = Schema.TaggedStruct("Type", {
  xid: StreamXid,
  typeOid: Uint32,
  namespace: CString,
  typeName: CString
})

export const InsertSchema = Schema.TaggedStruct("Insert", {
  xid: StreamXid,
  relationId: Uint32,
  newTuple: TupleDataSchema
})

const OptionalTuple = UndefinedAsNull(TupleDataSchema)

export const UpdateSchema = Schema.TaggedStruct("Update", {
  xid: StreamXid,
  relationId: Uint32,
  key: OptionalTuple,
  old: OptionalTuple,
  newTuple: TupleDataSchema
}).pipe(
  Schema.check(
    Schema.makeFilter(
      (u: { readonly key: unknown; readonly old: unknown }) => u.key === undefined || u.old === undefined,
      {
        expected: "an Update with a key or an old tuple, not both"
      }
    )
  )
)

export const DeleteSchema = Schema.TaggedStruct("Delete", {
  xid: StreamXid,
  relationId: Uint32,
  key: OptionalTuple,
  old: OptionalTuple
}).pipe(
  Schema.check(
    Schema.makeFilter(
      (d: { readonly key: unknown; readonly old: unknown }) => (d.key === undefined) !== (d.old === undefined),
      { expected: "a Delete with exactly one of key and old" }
    )
  )
)

export const TruncateSchema = Schema.TaggedStruct("Truncate", {
  xid: StreamXid,
  cascade: Schema.Boolean,
  restartIdentity: Schema.Boolean,
  relationIds: Schema.Array(Uint32)
})

export const StreamStartSchema = Schema.TaggedStruct("StreamStart", { xid: Uint32, firstSegment: Schema.Boolean })

export const StreamStopSchema = Schema.TaggedStruct("StreamStop", {})

export const StreamCommitSchema = Schema.TaggedStruct("StreamCommit", {
  xid: Uint32,
  flags: Uint8,
  commitLsn: Lsn,
  endLsn: Lsn,
  commitTime: Time
})

export const StreamAbortSchema = Schema.TaggedStruct("StreamAbort", {
  xid: Uint32,
  subXid: Uint32,
  abortLsn: UndefinedAsNull(Lsn),
  abortTime: UndefinedAsNull(Time)
}).pipe(
  Schema.check(
    Schema.makeFilter(
      (a: { readonly abortLsn: unknown; readonly abortTime: unknown }) =>
        (a.abortLsn === undefined) === (a.abortTime === undefined),
      { expected: "a StreamAbort with both or neither of abortLsn and abortTime" }
    )
  )
)

const prepareFields = {
  prepareLsn: Lsn,
  endLsn: Lsn,
  prepareTime: Time,
  xid: Uint32,
  gid: CString
}

export const BeginPrepareSchema = Schema.TaggedStruct("BeginPrepare", prepareFields)

export const PrepareSchema = Schema.TaggedStruct("Prepare", { flags: Uint8, ...prepareFields })

export const CommitPreparedSchema = Schema.TaggedStruct("CommitPrepared", {
  flags: Uint8,
  commitLsn: Lsn,
  endLsn: Lsn,
  commitTime: Time,
  xid: Uint32,
  gid: CString
})

export const RollbackPreparedSchema = Schema.TaggedStruct("RollbackPrepared", {
  flags: Uint8,
  prepareEndLsn: Lsn,
  rollbackEndLsn: Lsn,
  prepareTime: Time,
  rollbackTime: Time,
  xid: Uint32,
  gid: CString
})

export const StreamPrepareSchema = Schema.TaggedStruct("StreamPrepare", { flags: Uint8, ...prepareFields })

export const PgoutputMessageSchema = Schema.Union([
  BeginSchema,
  MessageSchema,
  CommitSchema,
  OriginSchema,
  RelationSchema,
  TypeSchema,
  InsertSchema,
  UpdateSchema,
  DeleteSchema,
  TruncateSchema,
  StreamStartSchema,
  StreamStopSchema,
  StreamCommitSchema,
  StreamAbortSchema,
  BeginPrepareSchema,
  PrepareSchema,
  CommitPreparedSchema,
  RollbackPreparedSchema,
  StreamPrepareSchema
]).pipe(Schema.annotate({ identifier: "PgoutputMessage" }))

const issue = (e: ProtocolError, input: unknown) => new SchemaIssue.InvalidValue({ message: e.message }, input)

/** The codec as a Schema: decodes bytes into a message and encodes a message into bytes, under `options`. */
export const PgoutputFromBytes = (options: PgoutputOptions) =>
  Schema.Uint8Array.pipe(
    Schema.decodeTo(
      Schema.toType(PgoutputMessageSchema),
      SchemaTransformation.transformEffect({
        decode: (bytes: Uint8Array) => {
          const r = decodePgoutput(bytes, options)
          return Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(issue(r.failure, bytes))
        },
        encode: (message: PgoutputMessage) =>
          Effect.try({
            try: () => encodePgoutputToBytes(message, options),
            catch: (e) => (e instanceof ProtocolError ? issue(e, message) : new SchemaIssue.InvalidValue({}, message))
          })
      })
    )
  )

/** Type-level check that the Schema describes exactly the hand-written message type. */
type SchemaMatchesType = [PgoutputMessage] extends [typeof PgoutputMessageSchema.Type]
  ? [typeof PgoutputMessageSchema.Type] extends [PgoutputMessage]
    ? true
    : never
  : never
const _check: SchemaMatchesType = true
void _check
