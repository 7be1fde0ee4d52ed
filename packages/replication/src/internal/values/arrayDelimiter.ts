/**
 * The array-text step shared by the text decoder and encoder: the element delimiter of a type (`;` for `box`, `,`
 * for every other built-in type) and the split with a typed error.
 */
import { type ArrayTextParts, parseArrayText } from "./ArrayText.ts"
import { TypeOid } from "../../values/TypeOid.ts"
import { excerpt, ValueError } from "../../values/ValueError.ts"

export const delimiterOf = (elementOid: number): string => (elementOid === TypeOid.box ? ";" : ",")

export const arrayText = (typeOid: number, elementOid: number, text: string): ArrayTextParts => {
  const parts = parseArrayText(text, delimiterOf(elementOid))
  if (typeof parts === "string") {
    throw new ValueError({ typeOid, format: "text", detail: `${excerpt(text)} is not an array: ${parts}` })
  }
  return parts
}
