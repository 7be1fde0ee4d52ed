/**
 * The authentication exchange after the StartupMessage: trust, cleartext password, MD5 (through `@effect/sql-pg`'s
 * PgAuth), SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (our `Scram.ts`, for channel binding). Ends at AuthenticationOk.
 *
 * Kerberos, GSSAPI and SSPI are refused with an error that names the method and says what to change. It deliberately
 * does not read `.pgpass` or prompt for passwords.
 */
import type { Backend } from "@pgcdc/protocol"
import * as PgAuth from "@effect/sql-pg/PgAuth"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { randomBytes } from "node:crypto"
import { type ConnectionConfig, describe } from "./ConnectionConfig.ts"
import { authError, type ConnectionError, protocolError } from "./ConnectionError.ts"
import * as Scram from "./Scram.ts"
import { logNotice, serverError, type Wire } from "./Wire.ts"

/** What the TLS layer tells authentication: the server certificate, for channel binding. */
export interface ChannelInfo {
  readonly tls: boolean
  readonly peerCertificate: { readonly raw: Uint8Array; readonly signatureAlgorithmOid: string } | undefined
}

type AuthState =
  | { readonly _tag: "Start" }
  | { readonly _tag: "ScramFirst"; readonly state: Scram.ScramClientFirst; readonly plus: boolean }
  | { readonly _tag: "ScramFinal"; readonly state: Scram.ScramClientFinal; readonly plus: boolean }
  | { readonly _tag: "ScramDone"; readonly plus: boolean }

const unsupported = (method: string, config: ConnectionConfig) =>
  authError(
    `The server asks for ${method} authentication, which pgcdc does not support: change the pg_hba.conf line for user "${config.user}" to scram-sha-256 (or md5/password)`
  )

const needPassword = (config: ConnectionConfig): Effect.Effect<string, ConnectionError> =>
  config.password === undefined
    ? Effect.fail(
        authError(
          `The server asks for a password for user "${config.user}" but none is configured: set password (PGPASSWORD, or the URL's user:password@)`
        )
      )
    : Effect.succeed(Redacted.value(config.password))

/**
 * An ErrorResponse before AuthenticationOk, named for what it is: a failed authentication (class 28), a server that is
 * starting up or shutting down (57P03, retried by reconnect loops), a role without the REPLICATION attribute asking
 * for a walsender (42501), or another refusal.
 */
export const startupRefused = (msg: Backend.ErrorResponse, config: ConnectionConfig): ConnectionError => {
  const code = msg.code
  if (code?.startsWith("28") === true) return serverError(msg, `Authentication of user "${config.user}" failed`)
  if (code === "57P03") return serverError(msg, "The server does not accept connections yet")
  if (code === "42501" && config.replication !== undefined) {
    const fix = `Give the role the REPLICATION attribute (ALTER ROLE "${config.user}" WITH REPLICATION) or connect as a role that has it.`
    return serverError(
      { ...msg, message: `${msg.message ?? "permission denied"}. ${fix}` },
      `The server refused a replication session for user "${config.user}"`
    )
  }
  return serverError(msg, `The server at ${describe(config)} refused the session for user "${config.user}"`)
}

/** Runs the exchange until AuthenticationOk. */
export const authenticate = (
  wire: Wire,
  config: ConnectionConfig,
  channel: ChannelInfo
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const binding = config.channelBinding ?? "prefer"
    let state: AuthState = { _tag: "Start" }
    for (;;) {
      const msg = yield* wire.readMessage
      switch (msg._tag) {
        case "ErrorResponse":
          return yield* startupRefused(msg, config)
        case "NoticeResponse":
          yield* logNotice(msg)
          continue
        case "NegotiateProtocolVersion":
          // We ask for 3.0 and send no _pq_ options, so there is nothing to adjust.
          continue
        case "AuthenticationOk": {
          const plus = state._tag === "ScramDone" && state.plus
          if (binding === "require" && !plus) {
            return yield* authError(
              "channel_binding=require, but the server authenticated us without SCRAM-SHA-256-PLUS channel binding: use TLS and scram-sha-256 in pg_hba.conf, or relax channel_binding"
            )
          }
          if (state._tag !== "Start" && state._tag !== "ScramDone") {
            return yield* authError("The server ended SCRAM authentication before proving it knows the password")
          }
          return
        }
        case "AuthenticationCleartextPassword": {
          if (binding === "require") return yield* authError("channel_binding=require refuses cleartext passwords")
          const password = yield* needPassword(config)
          yield* wire.send({ _tag: "PasswordMessage", password })
          continue
        }
        case "AuthenticationMD5Password": {
          if (binding === "require") return yield* authError("channel_binding=require refuses MD5 authentication")
          const password = yield* needPassword(config)
          const hashed = PgAuth.md5Password({ user: config.user, password, salt: msg.salt })
          if (Result.isFailure(hashed)) return yield* protocolError(hashed.failure.message)
          yield* wire.send({ _tag: "PasswordMessage", password: hashed.success })
          continue
        }
        case "AuthenticationSASL": {
          if (state._tag !== "Start") return yield* protocolError("The server restarted SASL authentication")
          const password = yield* needPassword(config)
          const use = yield* chooseBinding(msg.mechanisms, binding, channel)
          const mechanism = Scram.mechanismFor(use)
          if (!msg.mechanisms.includes(mechanism)) {
            return yield* authError(
              `The server offers SASL mechanisms [${msg.mechanisms.join(", ")}], none of which pgcdc supports (SCRAM-SHA-256, SCRAM-SHA-256-PLUS)`
            )
          }
          const started = Scram.start({ password, nonce: randomBytes(18).toString("base64"), channelBinding: use })
          if (Result.isFailure(started)) return yield* authError(started.failure.message)
          state = { _tag: "ScramFirst", state: started.success.state, plus: use._tag === "TlsServerEndPoint" }
          yield* wire.send({ _tag: "SASLInitialResponse", mechanism, data: started.success.response })
          continue
        }
        case "AuthenticationSASLContinue": {
          if (state._tag !== "ScramFirst") return yield* protocolError("Unexpected AuthenticationSASLContinue")
          const next = Scram.next(state.state, msg.data)
          if (Result.isFailure(next)) return yield* authError(next.failure.message)
          state = { _tag: "ScramFinal", state: next.success.state, plus: state.plus }
          yield* wire.send({ _tag: "SASLResponse", data: next.success.response })
          continue
        }
        case "AuthenticationSASLFinal": {
          if (state._tag !== "ScramFinal") return yield* protocolError("Unexpected AuthenticationSASLFinal")
          const finished = Scram.finish(state.state, msg.data)
          if (Result.isFailure(finished)) return yield* authError(finished.failure.message)
          state = { _tag: "ScramDone", plus: state.plus }
          continue
        }
        case "AuthenticationKerberosV5":
          return yield* unsupported("Kerberos V5", config)
        case "AuthenticationGSS":
        case "AuthenticationGSSContinue":
          return yield* unsupported("GSSAPI (Kerberos)", config)
        case "AuthenticationSSPI":
          return yield* unsupported("SSPI", config)
        default:
          return yield* protocolError(`Expected an authentication request, got ${msg._tag}`)
      }
    }
  })

const chooseBinding = (
  mechanisms: ReadonlyArray<string>,
  binding: "disable" | "prefer" | "require",
  channel: ChannelInfo
): Effect.Effect<Scram.ChannelBindingUse, ConnectionError> => {
  if (!channel.tls || binding === "disable") {
    if (binding === "require") {
      return Effect.fail(authError("channel_binding=require needs TLS: set sslmode to require or stricter"))
    }
    return Effect.succeed({ _tag: "Unsupported" })
  }
  if (!mechanisms.includes(Scram.SCRAM_SHA_256_PLUS)) {
    if (binding === "require") {
      return Effect.fail(authError("channel_binding=require, but the server does not offer SCRAM-SHA-256-PLUS"))
    }
    return Effect.succeed({ _tag: "NotOffered" })
  }
  const cert = channel.peerCertificate
  const hash = cert === undefined ? undefined : Scram.certificateHash(cert.raw, cert.signatureAlgorithmOid)
  if (hash === undefined) {
    // The server offers -PLUS but its certificate's signature names no usable hash. Saying "y" (server did not
    // offer) would be a lie the server rejects as a downgrade; "n" (we cannot bind) is the truth.
    if (binding === "require") {
      return Effect.fail(authError("The server certificate's signature algorithm cannot be used for channel binding"))
    }
    return Effect.succeed({ _tag: "Unsupported" })
  }
  return Effect.succeed({ _tag: "TlsServerEndPoint", certificateHash: hash })
}
