/**
 * libpq's sslmode semantics turned into a plan and `node:tls` options.
 *
 * | sslmode     | first attempt        | fallback                            | certificate check           |
 * |-------------|----------------------|-------------------------------------|-----------------------------|
 * | disable     | plain                | none                                | -                           |
 * | allow       | plain                | TLS if the server refused plain     | none                        |
 * | prefer      | TLS if server agrees | plain on 'N' or a failed handshake  | none                        |
 * | require     | TLS                  | none                                | none (chain if sslrootcert) |
 * | verify-ca   | TLS                  | none                                | chain against sslrootcert   |
 * | verify-full | TLS                  | none                                | chain + host name           |
 *
 * As in libpq, `require` with an explicit `sslrootcert` behaves like `verify-ca`, `sslrootcert=system` uses the
 * trusted roots of the platform (Node's bundled store), and Unix-domain sockets never use TLS (nor does a custom
 * `socket`: see `SocketTransport.ts`).
 *
 * It deliberately does not implement GSS encryption, direct TLS (PostgreSQL 17's sslnegotiation=direct), CRLs or
 * encrypted client keys.
 */
import * as Effect from "effect/Effect"
import { readFile } from "node:fs/promises"
import * as Net from "node:net"
import type * as Tls from "node:tls"
import type { ConnectionConfig, SslMode } from "./ConnectionConfig.ts"
import { ConnectionError } from "./ConnectionError.ts"

/** How a connection attempt treats TLS. */
export type TlsAttempt = "plain" | "tls-required" | "tls-preferred"

/** The attempts to make, in order (allow and prefer may need a second one). */
export const attempts = (config: ConnectionConfig): ReadonlyArray<TlsAttempt> => {
  if (config.host.startsWith("/") || config.socket !== undefined) return ["plain"]
  switch (config.sslmode ?? "prefer") {
    case "disable":
      return ["plain"]
    case "allow":
      return ["plain", "tls-required"]
    case "prefer":
      return ["tls-preferred", "plain"]
    default:
      return ["tls-required"]
  }
}

const verification = (config: ConnectionConfig): "none" | "chain" | "full" => {
  const mode: SslMode = config.sslmode ?? "prefer"
  if (mode === "verify-full" || config.sslrootcert === "system") return "full"
  if (mode === "verify-ca") return "chain"
  if (mode === "require" && config.sslrootcert !== undefined) return "chain"
  return "none"
}

const fileError = (what: string, path: string, cause: unknown) =>
  new ConnectionError({
    reason: "Tls",
    message: `Could not read ${what} "${path}": ${cause instanceof Error ? cause.message : String(cause)}`,
    retryable: false,
    cause
  })

/**
 * `node:tls`, loaded the first time a connection uses TLS: loading it initialises OpenSSL's TLS state (about 6 MB of
 * resident memory, measured on Node 24), which a process that never speaks TLS need not pay. Node caches the module.
 */
export const loadTls: Effect.Effect<typeof Tls> = Effect.promise(() => import("node:tls"))

const read = (what: string, path: string) =>
  Effect.tryPromise({ try: () => readFile(path), catch: (cause) => fileError(what, path, cause) })

/** `node:tls` options for the handshake, from files named in the config (read at connect time). */
export const tlsOptions = (config: ConnectionConfig): Effect.Effect<Tls.ConnectionOptions, ConnectionError> =>
  Effect.gen(function* () {
    const check = verification(config)
    const mode = config.sslmode ?? "prefer"
    if (check !== "none" && config.sslrootcert === undefined) {
      return yield* new ConnectionError({
        reason: "Tls",
        message: `sslmode=${mode} needs sslrootcert: the path of the CA certificate that signed the server's certificate (or sslrootcert=system for the platform's trusted roots)`,
        retryable: false
      })
    }
    if ((config.sslcert === undefined) !== (config.sslkey === undefined)) {
      return yield* new ConnectionError({
        reason: "Tls",
        message: "sslcert and sslkey go together: give both the client certificate and its private key",
        retryable: false
      })
    }
    const ca =
      config.sslrootcert !== undefined && config.sslrootcert !== "system"
        ? yield* read("sslrootcert", config.sslrootcert)
        : undefined
    const cert = config.sslcert !== undefined ? yield* read("sslcert", config.sslcert) : undefined
    const key = config.sslkey !== undefined ? yield* read("sslkey", config.sslkey) : undefined
    const sni = (config.sslsni ?? true) && Net.isIP(config.host) === 0
    const host = config.host
    const { checkServerIdentity } = yield* loadTls
    return {
      ...(ca !== undefined ? { ca } : {}),
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(sni ? { servername: host } : {}),
      rejectUnauthorized: check !== "none",
      // Node checks the name against `servername`; libpq checks it against the host we dialled (also for IPs,
      // where no SNI is sent), and only in verify-full.
      checkServerIdentity: (_name: string, peer: Tls.PeerCertificate) =>
        check === "full" ? checkServerIdentity(host, peer) : undefined
    }
  })

/** A TLS failure message that says what to change. */
export const describeTlsFailure = (config: ConnectionConfig, cause: unknown): string => {
  const text = cause instanceof Error ? cause.message : String(cause)
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `The server's certificate does not name host "${config.host}" (sslmode=verify-full): connect with a host name the certificate lists, or fix the certificate's subjectAltName (${text})`
  }
  if (
    code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE" ||
    code === "SELF_SIGNED_CERT_IN_CHAIN" ||
    code === "DEPTH_ZERO_SELF_SIGNED_CERT" ||
    code === "UNABLE_TO_GET_ISSUER_CERT_LOCALLY" ||
    code === "CERT_SIGNATURE_FAILURE"
  ) {
    return `The server's certificate is not signed by the CA in sslrootcert (${config.sslrootcert ?? "none"}): point sslrootcert at the right CA file (${text})`
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return `The server's certificate is outside its validity period: renew it (${text})`
  }
  return `TLS handshake failed: ${text}`
}
