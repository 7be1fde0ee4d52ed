/**
 * How the decoders learn the element type of an array type: built-in arrays from `arrayElementOid`, and arrays of
 * user types (enums, domains) from the relation cache, which sees their names in pgoutput `Type` messages.
 *
 * Element type `0` means "an array of a type we do not know": its elements decode to their text.
 */
import { arrayElementOid } from "./TypeOid.ts"

export interface TypeResolver {
  /** The element type of an array type, or undefined when `typeOid` is not (known to be) an array. */
  readonly elementOf: (typeOid: number) => number | undefined
}

export const builtinTypes: TypeResolver = { elementOf: (oid) => arrayElementOid.get(oid) }
