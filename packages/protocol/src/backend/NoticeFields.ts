/**
 * The field codes of ErrorResponse and NoticeResponse and the property each one maps to, in the order the
 * documentation lists them (the encoder writes them in this order). Shared by the decoder, the encoder and the Schema.
 */
import type { NoticeFields } from "./BackendMessage.ts"

export type NoticeFieldName = Exclude<keyof NoticeFields, "unknown">

export const noticeFieldCodes: ReadonlyArray<readonly [code: string, name: NoticeFieldName]> = [
  ["S", "severity"],
  ["V", "severityNonLocalized"],
  ["C", "code"],
  ["M", "message"],
  ["D", "detail"],
  ["H", "hint"],
  ["P", "position"],
  ["p", "internalPosition"],
  ["q", "internalQuery"],
  ["W", "where"],
  ["s", "schemaName"],
  ["t", "tableName"],
  ["c", "columnName"],
  ["d", "dataTypeName"],
  ["n", "constraintName"],
  ["F", "file"],
  ["L", "line"],
  ["R", "routine"]
]

/** Property name by field code byte; `undefined` for codes the documentation does not define. */
export const noticeFieldByByte: ReadonlyArray<NoticeFieldName | undefined> = (() => {
  const table: Array<NoticeFieldName | undefined> = new Array(256).fill(undefined)
  for (const [code, name] of noticeFieldCodes) table[code.charCodeAt(0)] = name
  return table
})()
