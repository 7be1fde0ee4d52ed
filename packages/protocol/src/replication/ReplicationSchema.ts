/**
 * Effect Schemas for the streaming-replication messages: types, validation, JSON form (LSNs as "X/Y", bigints as
 * decimal strings, WAL data as base64) and arbitraries (`Arbitrary.schema(...)`), plus Schema transformations from
 * a CopyData payload to a message for each direction.
 *
 * The hot path calls `unsafeDecodeReplication` directly; these are for users who compose Schemas.
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { LsnFromString } from "../LsnSchema.ts"
import type { ProtocolError } from "../ProtocolError.ts"
import { TimestampFromString } from "../TimestampSchema.ts"
import { Bytes, Uint32 } from "../pgoutput/SchemaFields.ts"
import {
  type BackendReplicationMessage,
  decodeReplication,
  decodeReplicationFrontend,
  encodeReplicationToBytes,
  type FrontendReplicationMessage
} from "./ReplicationMessage.ts"

export const XLogDataSchema = Schema.TaggedStruct("XLogData", {
  walStart: LsnFromString,
  walEnd: LsnFromString,
  serverTime: TimestampFromString,
  data: Bytes
})

export const PrimaryKeepaliveSchema = Schema.TaggedStruct("PrimaryKeepalive", {
  walEnd: LsnFromString,
  serverTime: TimestampFromString,
  replyRequested: Schema.Boolean
})

export const StandbyStatusUpdateSchema = Schema.TaggedStruct("StandbyStatusUpdate", {
  written: LsnFromString,
  flushed: LsnFromString,
  applied: LsnFromString,
  clientTime: TimestampFromString,
  replyRequested: Schema.Boolean
})

export const HotStandbyFeedbackSchema = Schema.TaggedStruct("HotStandbyFeedback", {
  clientTime: TimestampFromString,
  xmin: Uint32,
  xminEpoch: Uint32,
  catalogXmin: Uint32,
  catalogXminEpoch: Uint32
})

export const BackendReplicationMessageSchema = Schema.Union([XLogDataSchema, PrimaryKeepaliveSchema])
export const FrontendReplicationMessageSchema = Schema.Union([StandbyStatusUpdateSchema, HotStandbyFeedbackSchema])

const fromResult = <A>(r: Result.Result<A, ProtocolError>, input: unknown) =>
  Result.isSuccess(r)
    ? Effect.succeed(r.success)
    : Effect.fail(new SchemaIssue.InvalidValue({ message: r.failure.message }, input))

/** A server CopyData payload ↔ XLogData | PrimaryKeepalive. Decoded XLogData.data is a copy here (Schemas keep values). */
export const BackendReplicationFromBytes = Schema.Uint8Array.pipe(
  Schema.decodeTo(
    Schema.toType(BackendReplicationMessageSchema),
    SchemaTransformation.transformEffect({
      decode: (bytes: Uint8Array) =>
        fromResult(
          Result.map(
            decodeReplication(bytes),
            (m): BackendReplicationMessage => (m._tag === "XLogData" ? { ...m, data: m.data.slice() } : m)
          ),
          bytes
        ),
      encode: (m: BackendReplicationMessage) => Effect.succeed(encodeReplicationToBytes(m))
    })
  )
)

/** A client CopyData payload ↔ StandbyStatusUpdate | HotStandbyFeedback. */
export const FrontendReplicationFromBytes = Schema.Uint8Array.pipe(
  Schema.decodeTo(
    Schema.toType(FrontendReplicationMessageSchema),
    SchemaTransformation.transformEffect({
      decode: (bytes: Uint8Array) => fromResult(decodeReplicationFrontend(bytes), bytes),
      encode: (m: FrontendReplicationMessage) => Effect.succeed(encodeReplicationToBytes(m))
    })
  )
)
