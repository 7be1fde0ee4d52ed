/**
 * Lossless decoding of column values (docs/design.md, invariant 8): the value types, and decoders by type OID from
 * pgoutput's text and binary formats (with their inverses, for tools that write values back).
 */
export { decodeBinary } from "./decodeBinary.ts"
export { decodeText } from "./decodeText.ts"
export { encodeBinary, encodeText } from "./encode.ts"
export * as Json from "./Json.ts"
export * as Numeric from "./Numeric.ts"
export * as PgDate from "./PgDate.ts"
export * as PgInterval from "./PgInterval.ts"
export * as PgTime from "./PgTime.ts"
export * as PgTimestamp from "./PgTimestamp.ts"
export { type NestedElements, type PgArray, type PgArrayDimension, type PgValue, toNested } from "./PgValue.ts"
export { arrayElementOid, arrayOidOf, TypeOid } from "./TypeOid.ts"
export { builtinTypes, type TypeResolver, type UserType } from "./TypeResolver.ts"
export { ValueError } from "./ValueError.ts"
