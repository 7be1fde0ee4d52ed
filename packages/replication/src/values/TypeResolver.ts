/**
 * What the decoders know about types beyond the built-in ones: the element type of an array type (built-in arrays
 * from `arrayElementOid`; arrays of user types from the relation cache), and, when the service could read the
 * catalog, what a user-defined type is (an enum, a domain over its base type, an array, a composite, a range).
 *
 * Element type `0` means "an array of a type we do not know": its elements decode to their text.
 */
import { arrayElementOid } from "./TypeOid.ts"

/**
 * A user-defined type as `pg_type` describes it. `unknown` is a type whose values the decoders cannot read (a base
 * type of an extension, a multirange, a pseudo-type): text in text mode, bytes in binary mode.
 */
export type UserType =
  | { readonly kind: "enum" }
  | { readonly kind: "domain"; readonly base: number }
  | { readonly kind: "array"; readonly element: number }
  | { readonly kind: "composite" }
  | { readonly kind: "range"; readonly subtype: number }
  | { readonly kind: "unknown" }

export interface TypeResolver {
  /** The element type of an array type, or undefined when `typeOid` is not (known to be) an array. */
  readonly elementOf: (typeOid: number) => number | undefined
  /** What a type outside the built-in ones is, when known. */
  readonly userType?: ((typeOid: number) => UserType | undefined) | undefined
}

export const builtinTypes: TypeResolver = { elementOf: (oid) => arrayElementOid.get(oid) }
