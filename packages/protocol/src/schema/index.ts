/**
 * @pgcdc/protocol/schema: Effect Schemas for the protocol's messages and values (types, validation, a JSON form,
 * arbitraries for property tests, and the codecs wrapped as Schema transformations from bytes), plus the conversions
 * between protocol `Timestamp`s and Effect `DateTime`s.
 *
 * It is a separate entry so that `@pgcdc/protocol` itself never loads `effect/Schema` (about 145 of Effect's
 * modules: crypto, http, net, JSON Schema...) or `effect/DateTime` (about 65: Effect's runtime core), where the codecs
 * need 22: a consumer that only decodes bytes pays for neither. The hot paths never go through these Schemas; they
 * are for users who compose Schemas.
 */
export { LsnFromString, LsnSchema } from "../LsnSchema.ts"
export { TimestampFromString, TimestampSchema } from "../TimestampSchema.ts"
export { timestampFromDateTime, timestampToDateTimeLossy } from "../TimestampDateTime.ts"
export * from "../replication/ReplicationSchema.ts"
export * from "../pgoutput/TupleDataSchema.ts"
export * from "../pgoutput/PgoutputSchema.ts"
// The frontend and backend message Schemas, by message in the `BackendSchema` and `FrontendSchema` namespaces (both
// directions have a CopyData and a CopyDone), and their unions and transformations at the top level.
export * as BackendSchema from "./wireBackend.ts"
export {
  BackendMessage as BackendMessageSchema,
  BackendMessageFromBytes,
  BackendMessageJson
} from "./wireBackend.ts"
export * as FrontendSchema from "./wireFrontend.ts"
export {
  FrontendMessage as FrontendMessageSchema,
  FrontendMessageJson,
  StartupPhaseMessageFromBytes,
  TypedFrontendMessageFromBytes
} from "./wireFrontend.ts"
