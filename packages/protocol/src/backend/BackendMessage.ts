/**
 * The messages a PostgreSQL server sends (the subset a simple-query, COPY and replication client meets), as plain
 * readonly data with `_tag` named as in the "Message Formats" chapter of the PostgreSQL documentation.
 *
 * These are types and type-byte constants only; `decodeBackend`/`encodeBackend` hold the byte layouts and
 * `schema/wireBackend.ts` the Schemas. Extended-query messages (ParseComplete, BindComplete, NoData, ...) are
 * deliberately absent: pgcdc only speaks the simple query protocol.
 */

/** Type bytes of backend messages. */
export const BackendType = {
  Authentication: 0x52, // 'R'
  ParameterStatus: 0x53, // 'S'
  BackendKeyData: 0x4b, // 'K'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
  DataRow: 0x44, // 'D'
  CommandComplete: 0x43, // 'C'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  NoticeResponse: 0x4e, // 'N'
  NegotiateProtocolVersion: 0x76, // 'v'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  NotificationResponse: 0x41 // 'A'
} as const

/** The int32 that follows the 'R' type byte and tells which authentication request this is. */
export const AuthenticationCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12
} as const

export interface AuthenticationOk {
  readonly _tag: "AuthenticationOk"
}
export interface AuthenticationKerberosV5 {
  readonly _tag: "AuthenticationKerberosV5"
}
export interface AuthenticationCleartextPassword {
  readonly _tag: "AuthenticationCleartextPassword"
}
export interface AuthenticationMD5Password {
  readonly _tag: "AuthenticationMD5Password"
  /** Exactly 4 bytes. */
  readonly salt: Uint8Array
}
export interface AuthenticationGSS {
  readonly _tag: "AuthenticationGSS"
}
export interface AuthenticationGSSContinue {
  readonly _tag: "AuthenticationGSSContinue"
  readonly data: Uint8Array
}
export interface AuthenticationSSPI {
  readonly _tag: "AuthenticationSSPI"
}
export interface AuthenticationSASL {
  readonly _tag: "AuthenticationSASL"
  /** Mechanism names in the server's order of preference, e.g. `["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]`. */
  readonly mechanisms: ReadonlyArray<string>
}
export interface AuthenticationSASLContinue {
  readonly _tag: "AuthenticationSASLContinue"
  readonly data: Uint8Array
}
export interface AuthenticationSASLFinal {
  readonly _tag: "AuthenticationSASLFinal"
  readonly data: Uint8Array
}

export type Authentication =
  | AuthenticationOk
  | AuthenticationKerberosV5
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationGSS
  | AuthenticationGSSContinue
  | AuthenticationSSPI
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal

export interface ParameterStatus {
  readonly _tag: "ParameterStatus"
  readonly name: string
  readonly value: string
}

export interface BackendKeyData {
  readonly _tag: "BackendKeyData"
  readonly processId: number
  /** 4 bytes in protocol 3.0; 4 to 256 bytes in protocol 3.2. Needed verbatim by CancelRequest. */
  readonly secretKey: Uint8Array
}

/** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
export type TransactionStatus = "I" | "T" | "E"

export interface ReadyForQuery {
  readonly _tag: "ReadyForQuery"
  readonly status: TransactionStatus
}

/** 0 = text, 1 = binary. */
export type FormatCode = 0 | 1

export interface FieldDescription {
  readonly name: string
  /** OID of the table the column comes from, or 0. */
  readonly tableOid: number
  /** Attribute number of the column in that table, or 0. */
  readonly columnAttributeNumber: number
  readonly dataTypeOid: number
  /** pg_type.typlen: negative for variable-width types. */
  readonly dataTypeSize: number
  /** pg_attribute.atttypmod: type-specific, -1 when none. */
  readonly typeModifier: number
  readonly format: FormatCode
}

export interface RowDescription {
  readonly _tag: "RowDescription"
  readonly fields: ReadonlyArray<FieldDescription>
}

export interface DataRow {
  readonly _tag: "DataRow"
  /** Text-format values (strict UTF-8), null for SQL NULL. Use `decodeDataRowRaw` for binary-format columns. */
  readonly values: ReadonlyArray<string | null>
}

export interface CommandComplete {
  readonly _tag: "CommandComplete"
  /** The command tag, e.g. `"INSERT 0 1"`, `"SELECT 3"`, `"CREATE_REPLICATION_SLOT"`. */
  readonly commandTag: string
}

export interface EmptyQueryResponse {
  readonly _tag: "EmptyQueryResponse"
}

/**
 * The fields of ErrorResponse and NoticeResponse, one property per field code the documentation defines (values kept
 * as the server's text, so nothing is lost; position and line are decimal strings). PostgreSQL always sends
 * severity, code and message, but a decoder for any server cannot rely on it, so every field is optional.
 */
export interface NoticeFields {
  /** S: ERROR, FATAL, PANIC, WARNING, NOTICE, DEBUG, INFO or LOG, possibly localized. */
  readonly severity?: string
  /** V: as S but never localized (PostgreSQL 9.6+). */
  readonly severityNonLocalized?: string
  /** C: the SQLSTATE code. */
  readonly code?: string
  /** M: the primary message. */
  readonly message?: string
  /** D: detail. */
  readonly detail?: string
  /** H: hint. */
  readonly hint?: string
  /** P: cursor position in the query string, 1-based, in characters. */
  readonly position?: string
  /** p: position in an internally generated command. */
  readonly internalPosition?: string
  /** q: the internally generated command. */
  readonly internalQuery?: string
  /** W: context (call stack traceback). */
  readonly where?: string
  /** s: schema name. */
  readonly schemaName?: string
  /** t: table name. */
  readonly tableName?: string
  /** c: column name. */
  readonly columnName?: string
  /** d: data type name. */
  readonly dataTypeName?: string
  /** n: constraint name. */
  readonly constraintName?: string
  /** F: source file name. */
  readonly file?: string
  /** L: source line number. */
  readonly line?: string
  /** R: source routine name. */
  readonly routine?: string
  /** Field codes this version does not know, in arrival order (the protocol says to ignore them; we keep them). */
  readonly unknown?: ReadonlyArray<UnknownNoticeField>
}

export interface UnknownNoticeField {
  /** The one-character field code. */
  readonly code: string
  readonly value: string
}

export interface ErrorResponse extends NoticeFields {
  readonly _tag: "ErrorResponse"
}

export interface NoticeResponse extends NoticeFields {
  readonly _tag: "NoticeResponse"
}

export interface NegotiateProtocolVersion {
  readonly _tag: "NegotiateProtocolVersion"
  /** Newest minor protocol version the server supports for the requested major version. */
  readonly newestMinorVersion: number
  /** Startup options (`_pq_.` parameters) the server did not recognize. */
  readonly unrecognizedOptions: ReadonlyArray<string>
}

export interface CopyInResponse {
  readonly _tag: "CopyInResponse"
  readonly format: FormatCode
  readonly columnFormats: ReadonlyArray<FormatCode>
}

export interface CopyOutResponse {
  readonly _tag: "CopyOutResponse"
  readonly format: FormatCode
  readonly columnFormats: ReadonlyArray<FormatCode>
}

export interface CopyBothResponse {
  readonly _tag: "CopyBothResponse"
  readonly format: FormatCode
  readonly columnFormats: ReadonlyArray<FormatCode>
}

export interface CopyData {
  readonly _tag: "CopyData"
  /**
   * When decoded: a VIEW of the input buffer, not a copy. The replication stream is millions of CopyData messages
   * that are decoded again at once (XLogData, then pgoutput, whose decoders copy what they keep), so a copy here
   * would be pure overhead. A caller that keeps `data` past the next read must copy it.
   */
  readonly data: Uint8Array
}

export interface CopyDone {
  readonly _tag: "CopyDone"
}

export interface NotificationResponse {
  readonly _tag: "NotificationResponse"
  readonly processId: number
  readonly channel: string
  readonly payload: string
}

export type BackendMessage =
  | Authentication
  | ParameterStatus
  | BackendKeyData
  | ReadyForQuery
  | RowDescription
  | DataRow
  | CommandComplete
  | EmptyQueryResponse
  | ErrorResponse
  | NoticeResponse
  | NegotiateProtocolVersion
  | CopyInResponse
  | CopyOutResponse
  | CopyBothResponse
  | CopyData
  | CopyDone
  | NotificationResponse
