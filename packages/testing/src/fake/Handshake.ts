/**
 * The startup handshake of one fake-server session, from the StartupMessage to the first ReadyForQuery: protocol
 * version negotiation, the user, database and replication mode, the run-time settings sent as startup parameters,
 * the authentication exchange (trust, cleartext, md5, SCRAM-SHA-256), then ParameterStatus and BackendKeyData.
 *
 * It writes through the session it is given and keeps no state of its own between messages (the exchange's state is
 * the session's `Auth` phase). It does not read bytes or frame messages, and does not answer SSLRequest,
 * GSSENCRequest or CancelRequest: those come before a StartupMessage and belong to the session and its transport.
 */
import { type BackendMessage, type Frontend, type PasswordContext, startupParameter } from "@pgcdc/protocol"
import { randomBytes } from "node:crypto"
import type { FakeServer } from "./FakeServer.ts"
import { reportedParameters } from "./FakeServerOptions.ts"
import type { ErrorFields } from "./Outcome.ts"
import { md5Response, ScramServer, scramMechanism } from "./Scram.ts"
import type { Session } from "./Session.ts"

/** The session waiting for the client's next authentication message. */
export interface AuthPhase {
  readonly _tag: "Auth"
  readonly expect: PasswordContext
  readonly method: "password" | "md5" | "scram"
  readonly salt?: Uint8Array
  readonly scram?: ScramServer
  /** The protocol minor version agreed at startup (3.2 brings 32-byte cancel keys). */
  readonly protocolMinor: number
}

/** What the handshake reads and changes in its session. */
export interface HandshakeContext {
  readonly server: FakeServer
  /** Its public state: the startup parameters, user and replication mode are set here. */
  readonly session: Session
  /** The session's run-time settings, filled from the startup parameters. */
  readonly settings: Map<string, string>
  readonly send: (msg: BackendMessage) => void
  readonly fatal: (error: ErrorFields, reason: "fatal" | "protocol") => void
  /** Waits for the client's next authentication message. */
  readonly awaitAuth: (phase: AuthPhase) => void
  /** Sends ReadyForQuery and accepts queries. */
  readonly ready: () => void
}

export const onStartup = (s: HandshakeContext, msg: Frontend.StartupMessage) => {
  const config = s.server.config
  s.session.parameters = msg.parameters
  const minor = msg.protocolVersion & 0xffff
  const supportedMinor = config.major >= 18 ? 2 : 0
  const unrecognized = msg.parameters.filter(([n]) => n.startsWith("_pq_.")).map(([n]) => n)
  if (minor > supportedMinor || unrecognized.length > 0) {
    // PostgreSQL puts the whole version (3 << 16 | minor) in this field, not the bare minor (checked against 18).
    s.send({
      _tag: "NegotiateProtocolVersion",
      newestMinorVersion: (3 << 16) | Math.min(minor, supportedMinor),
      unrecognizedOptions: unrecognized
    })
  }
  const protocolMinor = Math.min(minor, supportedMinor)
  const user = startupParameter(msg, "user")
  if (user === undefined || user === "") {
    return s.fatal(
      { severity: "FATAL", code: "28000", message: "no PostgreSQL user name specified in startup packet" },
      "fatal"
    )
  }
  s.session.user = user
  const replication = startupParameter(msg, "replication")?.toLowerCase()
  if (replication === "database") s.session.mode = "logical"
  else if (replication === undefined || ["false", "off", "no", "0"].includes(replication)) s.session.mode = "regular"
  else if (["true", "on", "yes", "1"].includes(replication)) s.session.mode = "physical"
  else {
    return s.fatal(
      { severity: "FATAL", code: "22023", message: `invalid value for parameter "replication": "${replication}"` },
      "fatal"
    )
  }
  for (const [name, value] of msg.parameters) {
    if (!["user", "database", "replication", "options"].includes(name) && !name.startsWith("_pq_.")) {
      s.settings.set(name.toLowerCase(), value)
    }
  }
  switch (config.auth) {
    case "trust":
      if (user !== config.user) {
        return s.fatal({ severity: "FATAL", code: "28000", message: `role "${user}" does not exist` }, "fatal")
      }
      return authenticated(s, protocolMinor)
    case "password":
      s.awaitAuth({ _tag: "Auth", expect: "PasswordMessage", method: "password", protocolMinor })
      return s.send({ _tag: "AuthenticationCleartextPassword" })
    case "md5": {
      const salt = new Uint8Array(randomBytes(4))
      s.awaitAuth({ _tag: "Auth", expect: "PasswordMessage", method: "md5", salt, protocolMinor })
      return s.send({ _tag: "AuthenticationMD5Password", salt })
    }
    case "scram-sha-256":
      s.awaitAuth({
        _tag: "Auth",
        expect: "SASLInitialResponse",
        method: "scram",
        scram: new ScramServer(s.server.scramVerifier),
        protocolMinor
      })
      return s.send({ _tag: "AuthenticationSASL", mechanisms: [scramMechanism] })
  }
}

const passwordFailed = (s: HandshakeContext) => {
  s.fatal(
    { severity: "FATAL", code: "28P01", message: `password authentication failed for user "${s.session.user}"` },
    "fatal"
  )
}

export const onAuth = (s: HandshakeContext, phase: AuthPhase, msg: Frontend.TypedFrontendMessage) => {
  const config = s.server.config
  const userOk = s.session.user === config.user
  switch (msg._tag) {
    case "PasswordMessage": {
      const expected = phase.method === "md5" ? md5Response(config.user, config.password, phase.salt!) : config.password
      return userOk && msg.password === expected ? authenticated(s, phase.protocolMinor) : passwordFailed(s)
    }
    case "SASLInitialResponse": {
      if (msg.mechanism !== scramMechanism) {
        return s.fatal(
          { severity: "FATAL", code: "08P01", message: "client selected an invalid SASL authentication mechanism" },
          "protocol"
        )
      }
      const step = phase.scram!.clientFirst(msg.data)
      if (step._tag !== "Reply") return saslFailure(s, step)
      s.awaitAuth({ ...phase, expect: "SASLResponse" })
      return s.send({ _tag: "AuthenticationSASLContinue", data: step.data })
    }
    case "SASLResponse": {
      const step = phase.scram!.clientFinal(msg.data)
      if (step._tag !== "Reply" || !userOk) return step._tag === "Malformed" ? saslFailure(s, step) : passwordFailed(s)
      s.send({ _tag: "AuthenticationSASLFinal", data: step.data })
      return authenticated(s, phase.protocolMinor)
    }
    default:
      return s.fatal(
        {
          severity: "FATAL",
          code: "08P01",
          message: `expected password response, got message type ${typeByte(msg)}`
        },
        "protocol"
      )
  }
}

const saslFailure = (
  s: HandshakeContext,
  step: { readonly _tag: "Malformed"; readonly detail: string } | { readonly _tag: "WrongProof" }
) => {
  if (step._tag === "WrongProof") return passwordFailed(s)
  s.fatal({ severity: "FATAL", code: "08P01", message: "malformed SCRAM message", detail: step.detail }, "protocol")
}

const authenticated = (s: HandshakeContext, protocolMinor: number) => {
  const config = s.server.config
  s.send({ _tag: "AuthenticationOk" })
  const database =
    startupParameter({ _tag: "StartupMessage", protocolVersion: 0, parameters: s.session.parameters }, "database") ??
    s.session.user
  if (s.session.mode !== "physical" && database !== config.database) {
    return s.fatal({ severity: "FATAL", code: "3D000", message: `database "${database}" does not exist` }, "fatal")
  }
  const appName = s.settings.get("application_name") ?? ""
  const status = reportedParameters(config, s.session.user, appName)
  for (const [name, value] of status) s.send({ _tag: "ParameterStatus", name, value })
  const key = protocolMinor >= 2 ? new Uint8Array(randomBytes(32)) : s.session.secretKey
  s.send({ _tag: "BackendKeyData", processId: s.session.pid, secretKey: key })
  s.ready()
}

/** The message's type byte, as the server names it in its errors. */
export const typeByte = (msg: Frontend.TypedFrontendMessage): string => {
  switch (msg._tag) {
    case "Query":
      return "Q"
    case "CopyData":
      return "d"
    case "CopyDone":
      return "c"
    case "CopyFail":
      return "f"
    case "Terminate":
      return "X"
    default:
      return "p"
  }
}
