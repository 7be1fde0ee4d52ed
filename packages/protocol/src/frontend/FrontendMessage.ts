/**
 * The messages a client sends (the subset pgcdc uses: startup, authentication, simple query, COPY), as plain readonly
 * data with `_tag` named as in the PostgreSQL documentation, plus the type bytes and request codes.
 *
 * The startup-phase messages (StartupMessage, SSLRequest, CancelRequest, GSSENCRequest) have no type byte: a server
 * tells them apart by the int32 code after the length (`decodeStartup`). The 'p' type byte is shared by
 * PasswordMessage, SASLInitialResponse and SASLResponse; only the authentication exchange in progress says which one
 * it is, so the decoder takes that context from the caller (`PasswordContext`).
 */

export const FrontendType = {
  PasswordMessage: 0x70, // 'p', also SASLInitialResponse and SASLResponse
  Query: 0x51, // 'Q'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Terminate: 0x58 // 'X'
} as const

/** The codes that follow the length of an untyped startup-phase packet. */
export const StartupCode = {
  /** Protocol 3.0 (major 3 in the high 16 bits, minor 0 in the low 16 bits). */
  Protocol30: 196608,
  /** Protocol 3.2 (PostgreSQL 18+: variable-length cancel keys). */
  Protocol32: 196610,
  CancelRequest: 80877102,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104
} as const

export interface StartupMessage {
  readonly _tag: "StartupMessage"
  /** Major version in the high 16 bits, minor in the low 16 (`StartupCode.Protocol30` = 3.0). Major must be 3. */
  readonly protocolVersion: number
  /**
   * Parameters in the order sent: `user` (required by servers), `database`, `replication` (`"true"`/`"database"`
   * for a walsender), `application_name`, `options`, and any run-time setting or `_pq_.` protocol option. Pairs
   * rather than a record so that order and every name (even `__proto__`) survive. See `startupParameter`.
   */
  readonly parameters: ReadonlyArray<readonly [name: string, value: string]>
}

export interface SSLRequest {
  readonly _tag: "SSLRequest"
}

export interface GSSENCRequest {
  readonly _tag: "GSSENCRequest"
}

export interface CancelRequest {
  readonly _tag: "CancelRequest"
  readonly processId: number
  /** The key from BackendKeyData: 4 bytes in protocol 3.0, up to 256 in 3.2. */
  readonly secretKey: Uint8Array
}

export interface PasswordMessage {
  readonly _tag: "PasswordMessage"
  /** Cleartext, or `"md5" + hex` for MD5 authentication. */
  readonly password: string
}

export interface SASLInitialResponse {
  readonly _tag: "SASLInitialResponse"
  readonly mechanism: string
  /** The client-first message; null when the mechanism has no initial response (sent as length -1). */
  readonly data: Uint8Array | null
}

export interface SASLResponse {
  readonly _tag: "SASLResponse"
  readonly data: Uint8Array
}

export interface Query {
  readonly _tag: "Query"
  readonly sql: string
}

export interface CopyData {
  readonly _tag: "CopyData"
  /** When decoded: a view of the input buffer (see the backend CopyData); copy it to keep it. */
  readonly data: Uint8Array
}

export interface CopyDone {
  readonly _tag: "CopyDone"
}

export interface CopyFail {
  readonly _tag: "CopyFail"
  /** The reason, reported by the server as the cause of the failure. */
  readonly message: string
}

export interface Terminate {
  readonly _tag: "Terminate"
}

/** Messages without a type byte, sent before the StartupMessage is accepted. */
export type StartupPhaseMessage = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest

/** Typed messages (type byte + length). */
export type TypedFrontendMessage =
  | PasswordMessage
  | SASLInitialResponse
  | SASLResponse
  | Query
  | CopyData
  | CopyDone
  | CopyFail
  | Terminate

export type FrontendMessage = StartupPhaseMessage | TypedFrontendMessage

/** Which of the three 'p' messages the server is expecting. */
export type PasswordContext = "PasswordMessage" | "SASLInitialResponse" | "SASLResponse"

/** The value of a startup parameter (the last one if it was sent twice). */
export const startupParameter = (msg: StartupMessage, name: string): string | undefined => {
  let value: string | undefined
  for (const [n, v] of msg.parameters) if (n === name) value = v
  return value
}
