/**
 * What executing one statement produced, before it is put on the wire: rows with their description, a bare command
 * tag, an error with the fields PostgreSQL would send, the rows of a COPY TO STDOUT, or the start of a replication
 * stream.
 *
 * Shared by the replication-command and SQL executors so that the session alone writes protocol messages.
 */
import type { Backend } from "@pgcdc/protocol"
import type { OutputOptions } from "./Output.ts"
import type { SlotState } from "./FakeServer.ts"

export interface ErrorFields {
  readonly severity: "ERROR" | "FATAL"
  readonly code: string
  readonly message: string
  readonly detail?: string | undefined
  readonly hint?: string | undefined
  readonly position?: string | undefined
}

export type Outcome =
  | {
      readonly _tag: "Rows"
      readonly fields: ReadonlyArray<Backend.FieldDescription>
      readonly rows: ReadonlyArray<ReadonlyArray<string | null>>
      readonly commandTag: string
    }
  | { readonly _tag: "Command"; readonly commandTag: string; readonly status?: Backend.TransactionStatus | undefined }
  | { readonly _tag: "Error"; readonly error: ErrorFields }
  | { readonly _tag: "Empty" }
  /** COPY ... TO STDOUT in text format: each line one row, ending with its newline. */
  | { readonly _tag: "CopyOut"; readonly columns: number; readonly lines: ReadonlyArray<string> }
  | {
      readonly _tag: "StartReplication"
      readonly slot: SlotState
      readonly start: bigint
      readonly options: OutputOptions
    }

export const TEXT = 25
export const INT4 = 23
export const INT8 = 20
export const PG_LSN = 3220

export const BOOL = 16
export const NAME = 19
export const FLOAT8 = 701
export const RECORD = 2249

const sizes: Record<number, number> = {
  [TEXT]: -1,
  [INT4]: 4,
  [INT8]: 8,
  [PG_LSN]: 8,
  [BOOL]: 1,
  [NAME]: 64,
  [FLOAT8]: 8,
  [RECORD]: -1
}

export const field = (name: string, typeOid: number): Backend.FieldDescription => ({
  name,
  tableOid: 0,
  columnAttributeNumber: 0,
  dataTypeOid: typeOid,
  dataTypeSize: sizes[typeOid] ?? -1,
  typeModifier: -1,
  format: 0
})

export const rows = (
  fields: ReadonlyArray<Backend.FieldDescription>,
  values: ReadonlyArray<ReadonlyArray<string | null>>,
  commandTag: string
): Outcome => ({ _tag: "Rows", fields, rows: values, commandTag })

export const command = (commandTag: string, status?: Backend.TransactionStatus): Outcome => ({
  _tag: "Command",
  commandTag,
  status
})

export const error = (
  code: string,
  message: string,
  extra?: Omit<ErrorFields, "severity" | "code" | "message">
): Outcome => ({
  _tag: "Error",
  error: { severity: "ERROR", code, message, ...extra }
})

export const syntaxError: Outcome = error("42601", "syntax error")

/** The ErrorResponse for an error (severity in both the localized and the non-localized field, as servers send). */
export const errorMessage = (e: ErrorFields): Backend.ErrorResponse => ({
  _tag: "ErrorResponse",
  severity: e.severity,
  severityNonLocalized: e.severity,
  code: e.code,
  message: e.message,
  ...(e.detail !== undefined ? { detail: e.detail } : {}),
  ...(e.hint !== undefined ? { hint: e.hint } : {}),
  ...(e.position !== undefined ? { position: e.position } : {})
})
