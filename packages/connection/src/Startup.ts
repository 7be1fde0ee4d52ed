/**
 * Opening a session: dial, negotiate TLS as the sslmode says (SSLRequest, then an in-place upgrade of the same
 * socket), send the StartupMessage, authenticate, and collect ParameterStatus and BackendKeyData up to the first
 * ReadyForQuery. The whole of it runs under the connect timeout.
 *
 * It deliberately stops at ReadyForQuery: queries, COPY and cancellation belong to `Connection.ts`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import { authenticate, startupRefused } from "./Authenticate.ts"
import {
  type ConnectionConfig,
  defaultConnectTimeout,
  defaultKeepAliveIdle,
  defaultMaxMessageSize,
  describe,
  endpoint
} from "./ConnectionConfig.ts"
import { type ConnectionError, openError, protocolError, tlsError } from "./ConnectionError.ts"
import { attempts, describeTlsFailure, type TlsAttempt, tlsOptions } from "./Tls.ts"
import { SocketTransport } from "./SocketTransport.ts"
import { type ByteTransport, Transport } from "./Transport.ts"
import { logNotice, Wire } from "./Wire.ts"

export interface BackendKey {
  readonly processId: number
  readonly secretKey: Uint8Array
}

export interface OpenedSession {
  readonly wire: Wire
  readonly tls: boolean
  readonly parameters: Map<string, string>
  readonly backendKey: BackendKey | undefined
}

/** Opens a session, trying the TLS attempts of the sslmode in order (allow may fall back to TLS). */
export const openSession = (config: ConnectionConfig): Effect.Effect<OpenedSession, ConnectionError, Scope.Scope> => {
  const timeout = Duration.fromInputUnsafe(config.connectTimeout ?? defaultConnectTimeout)
  const plan = attempts(config)
  const run = Effect.gen(function* () {
    let lastError: ConnectionError | undefined
    for (const attempt of plan) {
      const result = yield* Effect.result(openAttempt(config, attempt))
      if (Result.isSuccess(result)) return result.success
      lastError = result.failure
      if (!worthAnotherAttempt(attempt, lastError)) break
    }
    return yield* Effect.fail(lastError!)
  })
  return Duration.isFinite(timeout)
    ? run.pipe(
        Effect.timeoutOrElse({
          duration: timeout,
          orElse: () =>
            Effect.fail(
              openError(
                `Connecting to ${describe(config)} took longer than connect_timeout (${Duration.format(timeout)}): check the host and port, or raise connectTimeout`
              )
            )
        })
      )
    : run
}

/**
 * allow: a plain session refused by the server (e.g. a hostssl-only pg_hba.conf) is retried with TLS.
 * prefer: a TLS handshake that fails after the server said 'S' is retried in plain text, as libpq does (a
 * configuration error such as an unreadable certificate file is not).
 */
const worthAnotherAttempt = (attempt: TlsAttempt, error: ConnectionError): boolean =>
  attempt === "plain"
    ? error.reason === "Server" || error.reason === "Auth"
    : attempt === "tls-preferred" && error.reason === "Tls" && error.retryable !== false

const openAttempt = (
  config: ConnectionConfig,
  attempt: TlsAttempt
): Effect.Effect<OpenedSession, ConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const transport = yield* openTransport(config)
    const wire = new Wire(transport, config.maxMessageSize ?? defaultMaxMessageSize)
    return yield* handshake(wire, config, attempt).pipe(Effect.onError(() => Effect.sync(() => transport.destroy())))
  })

/** Dials host/port, or opens the configured `socket` (plain text only: see `SocketTransport.ts`). */
export const openTransport = (
  config: ConnectionConfig,
  keepAlive = config.keepAlive ?? true
): Effect.Effect<ByteTransport, ConnectionError, Scope.Scope> => {
  if (config.socket === undefined) {
    return Transport.open(endpoint(config), {
      keepAlive,
      keepAliveIdle: Duration.fromInputUnsafe(config.keepAliveIdle ?? defaultKeepAliveIdle)
    })
  }
  const mode = config.sslmode ?? "prefer"
  if (mode === "require" || mode === "verify-ca" || mode === "verify-full") {
    return Effect.fail(
      tlsError(
        `sslmode=${mode} needs TLS, which is not available over a custom socket (ConnectionConfig.socket): use sslmode=disable or prefer, or dial host and port`
      )
    )
  }
  return SocketTransport.open(config.socket, `socket ${describe(config)}`)
}

const handshake = (
  wire: Wire,
  config: ConnectionConfig,
  attempt: TlsAttempt
): Effect.Effect<OpenedSession, ConnectionError> =>
  Effect.gen(function* () {
    if (attempt !== "plain") yield* negotiateTls(wire, config, attempt === "tls-required")
    yield* wire.send({ _tag: "StartupMessage", protocolVersion: 196608, parameters: startupParameters(config) })
    yield* authenticate(wire, config, { tls: wire.transport.isTls, peerCertificate: wire.transport.peerCertificate })
    const parameters = new Map<string, string>()
    let backendKey: BackendKey | undefined
    for (;;) {
      const msg = yield* wire.readMessage
      switch (msg._tag) {
        case "ParameterStatus":
          parameters.set(msg.name, msg.value)
          continue
        case "BackendKeyData":
          backendKey = { processId: msg.processId, secretKey: msg.secretKey }
          continue
        case "NoticeResponse":
          yield* logNotice(msg)
          continue
        case "ErrorResponse":
          return yield* startupRefused(msg, config)
        case "ReadyForQuery":
          return { wire, tls: wire.transport.isTls, parameters, backendKey }
        default:
          return yield* protocolError(`Unexpected ${msg._tag} before the session was ready`)
      }
    }
  })

/** SSLRequest; on 'S' upgrade the socket in place, on 'N' continue in plain text unless TLS is required. */
const negotiateTls = (wire: Wire, config: ConnectionConfig, required: boolean): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const options = yield* tlsOptions(config)
    yield* wire.send({ _tag: "SSLRequest" })
    const answer = yield* wire.transport.read
    const byte = answer[0]
    if (byte === 0x53 /* S */) {
      if (answer.length > 1) {
        return yield* tlsError(
          "The server sent unencrypted bytes right after accepting TLS; refusing to continue (possible man-in-the-middle)"
        )
      }
      return yield* wire.transport
        .upgrade(options)
        .pipe(Effect.mapError((e) => tlsError(describeTlsFailure(config, e.cause ?? e), e.cause)))
    }
    if (byte === 0x4e /* N */) {
      if (answer.length > 1) return yield* protocolError("Unexpected bytes after the server's answer to SSLRequest")
      if (required) {
        return yield* tlsError(
          `sslmode=${config.sslmode ?? "prefer"} requires TLS, but the server at ${describe(config)} does not accept TLS connections: enable ssl on the server, or use sslmode=prefer or disable`
        )
      }
      return
    }
    if (byte === 0x45 /* E */) {
      return yield* protocolError("The server answered SSLRequest with an error (it is older than PostgreSQL 7.0?)")
    }
    return yield* protocolError(
      `The server answered SSLRequest with byte ${byte}, neither 'S' nor 'N': is this a PostgreSQL server?`
    )
  })

const startupParameters = (config: ConnectionConfig): ReadonlyArray<readonly [string, string]> => {
  const params: Array<readonly [string, string]> = [
    ["user", config.user],
    ["database", config.database],
    ["client_encoding", "UTF8"]
  ]
  if (config.replication === "logical") params.push(["replication", "database"])
  if (config.replication === "physical") params.push(["replication", "true"])
  if (config.applicationName !== undefined) params.push(["application_name", config.applicationName])
  if (config.options !== undefined) params.push(["options", config.options])
  for (const [name, value] of Object.entries(config.parameters ?? {})) params.push([name, value])
  return params
}
