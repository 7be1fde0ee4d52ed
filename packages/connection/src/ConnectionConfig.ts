/**
 * Connection settings and the three ways to build them: explicit options (a `ConnectionConfig` literal), a libpq
 * connection URL (`fromUrl`, `postgres://` or `postgresql://`) and the libpq environment variables through Effect
 * `Config` (`fromEnv`, `urlConfig`, in EnvConfig.ts: their own entry point, so that a program that never reads the
 * environment does not load `effect/Config`).
 *
 * Names follow libpq where libpq has one (sslmode, sslrootcert, application_name, connect_timeout, replication,
 * options, keepalives), so settings copied from psql or a DSN mean the same thing here. A host that starts with "/"
 * is a Unix socket directory (`<dir>/.s.PGSQL.<port>`), as in libpq.
 *
 * It deliberately does not support several hosts (libpq's "h1,h2" failover), service files, `.pgpass`, GSS or
 * `hostaddr`: those are rejected with an error saying so instead of being silently ignored.
 */
import type { SocketFactory } from "./SocketTransport.ts"
import * as Duration from "effect/Duration"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { type ConnectionError, configError, isConnectionError } from "./ConnectionError.ts"

/** libpq's sslmode values, with libpq's meaning (see `Tls.ts`). */
export type SslMode = "disable" | "allow" | "prefer" | "require" | "verify-ca" | "verify-full"
export const sslModes: ReadonlyArray<SslMode> = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

/** libpq's channel_binding: `require` refuses any authentication other than SCRAM-SHA-256-PLUS. */
export type ChannelBinding = "disable" | "prefer" | "require"

/** `logical` sends `replication=database` (logical walsender bound to `database`), `physical` sends `replication=true`. */
export type ReplicationMode = "logical" | "physical"

export interface ConnectionConfig {
  /** Host name, IP address, or an absolute Unix socket directory (starts with "/"). */
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password?: Redacted.Redacted<string> | undefined
  readonly database: string
  readonly applicationName?: string | undefined
  /** Opens a walsender session; undefined (the default) opens a normal session. */
  readonly replication?: ReplicationMode | undefined
  /** Command-line options for the server, as libpq's `options` (e.g. "-c search_path=app"). */
  readonly options?: string | undefined
  /** Extra startup parameters (run-time settings such as `DateStyle`), sent as is. */
  readonly parameters?: Readonly<Record<string, string>> | undefined
  /** Default "prefer", as libpq. */
  readonly sslmode?: SslMode | undefined
  /** Path of a PEM file with the trusted root certificate(s); required by verify-ca and verify-full. */
  readonly sslrootcert?: string | undefined
  /** Path of a PEM client certificate, sent when the server asks for one. */
  readonly sslcert?: string | undefined
  /** Path of the PEM private key of `sslcert`. */
  readonly sslkey?: string | undefined
  /** Send the host name as TLS SNI (never for IP addresses). Default true, as libpq. */
  readonly sslsni?: boolean | undefined
  /** Default "prefer": SCRAM-SHA-256-PLUS when TLS is on and the server offers it. */
  readonly channelBinding?: ChannelBinding | undefined
  /** Limit for socket connect, TLS and authentication together. Default 30 seconds. */
  readonly connectTimeout?: Duration.Input | undefined
  /** TCP keepalive. Default on, first probe after 60 seconds idle. */
  readonly keepAlive?: boolean | undefined
  readonly keepAliveIdle?: Duration.Input | undefined
  /** Largest backend message accepted, in bytes (guards memory against a broken peer). Default 1 GiB + 1 MiB. */
  readonly maxMessageSize?: number | undefined
  /**
   * Opens the byte channel instead of dialling `host`/`port`: an Effect `Socket` (`effect/socket`), made once per
   * session (and per CancelRequest); acquiring its reader is the connection. For in-memory peers such as
   * `@pgcdc/testing`'s fake server. TLS is off over such a socket (sslmode require/verify-* is refused), and
   * `host`/`port` only name the peer in messages.
   */
  readonly socket?: SocketFactory | undefined
}

export const defaultPort = 5432
export const defaultConnectTimeout: Duration.Duration = Duration.seconds(30)
export const defaultKeepAliveIdle: Duration.Duration = Duration.seconds(60)
export const defaultMaxMessageSize = 1024 * 1024 * 1024 + 1024 * 1024

/** Where to dial: a Unix socket path, or a TCP host and port. */
export type Endpoint =
  | { readonly _tag: "Unix"; readonly path: string }
  | { readonly _tag: "Tcp"; readonly host: string; readonly port: number }

export const endpoint = (config: ConnectionConfig): Endpoint =>
  config.host.startsWith("/")
    ? { _tag: "Unix", path: `${config.host.replace(/\/+$/, "")}/.s.PGSQL.${config.port}` }
    : { _tag: "Tcp", host: config.host, port: config.port }

/** A description for logs and errors: never includes the password. */
export const describe = (config: ConnectionConfig): string => {
  const where = config.host.startsWith("/") ? `socket ${endpointPath(config)}` : `${config.host}:${config.port}`
  return `${config.user}@${where}/${config.database}`
}
const endpointPath = (config: ConnectionConfig): string => {
  const e = endpoint(config)
  return e._tag === "Unix" ? e.path : `${e.host}:${e.port}`
}

// ---------------------------------------------------------------------------------------------------------------
// URL

/** Query parameters we understand; anything else is an error, so a typo is not silently ignored. */
const urlParameters = new Set([
  "host",
  "port",
  "user",
  "password",
  "dbname",
  "sslmode",
  "sslrootcert",
  "sslcert",
  "sslkey",
  "sslsni",
  "channel_binding",
  "application_name",
  "fallback_application_name",
  "connect_timeout",
  "replication",
  "options",
  "keepalives",
  "keepalives_idle"
])

const decode = (s: string, what: string): string => {
  try {
    return decodeURIComponent(s)
  } catch {
    throw configError(`Invalid percent-encoding in the connection URL's ${what}`)
  }
}

/**
 * Parses a libpq connection URL: `postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]`.
 * The host may be an IPv6 literal in brackets, a percent-encoded Unix socket directory (`%2Ftmp`) or be given as
 * the `host` query parameter (`postgresql:///db?host=/tmp`). `defaults` fill what the URL leaves out.
 */
export const fromUrl = (
  url: string,
  defaults: Partial<ConnectionConfig> = {}
): Result.Result<ConnectionConfig, ConnectionError> => {
  try {
    return Result.succeed(parseUrl(url, defaults))
  } catch (e) {
    if (isConnectionError(e)) return Result.fail(e)
    throw e
  }
}

const parseUrl = (url: string, defaults: Partial<ConnectionConfig>): ConnectionConfig => {
  const scheme = /^(postgres|postgresql):\/\//i.exec(url)
  if (scheme === null) {
    throw configError("The connection URL must start with postgres:// or postgresql://")
  }
  let rest = url.slice(scheme[0].length)
  let query = ""
  const q = rest.indexOf("?")
  if (q >= 0) {
    query = rest.slice(q + 1)
    rest = rest.slice(0, q)
  }
  const slash = rest.indexOf("/")
  const authority = slash >= 0 ? rest.slice(0, slash) : rest
  const path = slash >= 0 ? rest.slice(slash + 1) : ""

  const values = new Map<string, string>()
  const at = authority.lastIndexOf("@")
  const hostPart = at >= 0 ? authority.slice(at + 1) : authority
  if (at >= 0) {
    const userInfo = authority.slice(0, at)
    const colon = userInfo.indexOf(":")
    const user = colon >= 0 ? userInfo.slice(0, colon) : userInfo
    if (user !== "") values.set("user", decode(user, "user name"))
    if (colon >= 0) values.set("password", decode(userInfo.slice(colon + 1), "password"))
  }
  if (hostPart.includes(",")) {
    throw configError("Several hosts in one connection URL are not supported: give a single host")
  }
  if (hostPart !== "") {
    let host: string
    let port: string | undefined
    if (hostPart.startsWith("[")) {
      const close = hostPart.indexOf("]")
      if (close < 0) throw configError("Unclosed '[' in the connection URL's IPv6 host")
      host = hostPart.slice(1, close)
      const after = hostPart.slice(close + 1)
      if (after.startsWith(":")) port = after.slice(1)
      else if (after !== "") throw configError(`Unexpected "${after}" after the IPv6 host in the connection URL`)
    } else {
      const colon = hostPart.lastIndexOf(":")
      host = colon >= 0 ? hostPart.slice(0, colon) : hostPart
      if (colon >= 0) port = hostPart.slice(colon + 1)
    }
    if (host !== "") values.set("host", decode(host, "host"))
    if (port !== undefined && port !== "") values.set("port", decode(port, "port"))
  }
  if (path !== "") values.set("dbname", decode(path, "database name"))

  if (query !== "") {
    for (const pair of query.split("&")) {
      if (pair === "") continue
      const eq = pair.indexOf("=")
      if (eq < 0) throw configError(`Connection URL parameter "${pair}" has no value (write ${pair}=...)`)
      const key = decode(pair.slice(0, eq), "parameter name")
      if (!urlParameters.has(key)) {
        throw configError(`Unknown connection URL parameter "${key}"; supported: ${[...urlParameters].join(", ")}`)
      }
      values.set(key, decode(pair.slice(eq + 1), `parameter ${key}`))
    }
  }
  return fromValues(values, defaults)
}

/** Builds a config from libpq keyword/value pairs (shared by the URL and environment paths). */
export const fromValues = (
  values: ReadonlyMap<string, string>,
  defaults: Partial<ConnectionConfig>
): ConnectionConfig => {
  const get = (key: string): string | undefined => {
    const v = values.get(key)
    return v === undefined || v === "" ? undefined : v
  }
  const user = get("user") ?? defaults.user ?? "postgres"
  const password = values.get("password")
  const applicationName = get("application_name") ?? get("fallback_application_name")
  const connectTimeout = get("connect_timeout")
  const keepalives = get("keepalives")
  const keepalivesIdle = get("keepalives_idle")
  const replication = get("replication")
  const sslmode = get("sslmode")
  const sslsni = get("sslsni")
  const channelBinding = get("channel_binding")
  const options = get("options")
  const sslrootcert = get("sslrootcert")
  const sslcert = get("sslcert")
  const sslkey = get("sslkey")
  return {
    ...defaults,
    host: get("host") ?? defaults.host ?? "localhost",
    port: get("port") !== undefined ? parsePort(get("port")!) : (defaults.port ?? defaultPort),
    user,
    database: get("dbname") ?? defaults.database ?? user,
    ...(password !== undefined ? { password: Redacted.make(password) } : {}),
    ...(applicationName !== undefined ? { applicationName } : {}),
    ...(connectTimeout !== undefined ? { connectTimeout: parseConnectTimeout(connectTimeout) } : {}),
    ...(keepalives !== undefined ? { keepAlive: parseBool(keepalives, "keepalives") } : {}),
    ...(keepalivesIdle !== undefined
      ? { keepAliveIdle: Duration.seconds(parseNonNegativeInt(keepalivesIdle, "keepalives_idle")) }
      : {}),
    ...(replication !== undefined ? { replication: parseReplication(replication) } : {}),
    ...(sslmode !== undefined ? { sslmode: parseSslMode(sslmode) } : {}),
    ...(sslsni !== undefined ? { sslsni: parseBool(sslsni, "sslsni") } : {}),
    ...(channelBinding !== undefined ? { channelBinding: parseChannelBinding(channelBinding) } : {}),
    ...(options !== undefined ? { options } : {}),
    ...(sslrootcert !== undefined ? { sslrootcert } : {}),
    ...(sslcert !== undefined ? { sslcert } : {}),
    ...(sslkey !== undefined ? { sslkey } : {})
  }
}

const parsePort = (s: string): number => {
  const n = Number(s)
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw configError(`Invalid port "${s}": use a number from 1 to 65535`)
  return n
}

const parseNonNegativeInt = (s: string, name: string): number => {
  if (!/^\d+$/.test(s)) throw configError(`Invalid ${name} "${s}": use a whole number of seconds`)
  return Number(s)
}

/** libpq: seconds; 0 or absent means wait forever; values below 2 count as 2. */
const parseConnectTimeout = (s: string): Duration.Duration => {
  const n = parseNonNegativeInt(s, "connect_timeout")
  return n === 0 ? Duration.infinity : Duration.seconds(Math.max(n, 2))
}

const parseBool = (s: string, name: string): boolean => {
  switch (s.toLowerCase()) {
    case "1":
    case "true":
    case "on":
    case "yes":
      return true
    case "0":
    case "false":
    case "off":
    case "no":
      return false
    default:
      throw configError(`Invalid ${name} "${s}": use 1 or 0`)
  }
}

export const parseReplication = (s: string): ReplicationMode | undefined => {
  if (s.toLowerCase() === "database") return "logical"
  try {
    return parseBool(s, "replication") ? "physical" : undefined
  } catch {
    throw configError(`Invalid replication "${s}": use "database" (logical), "true" (physical) or "false"`)
  }
}

export const parseSslMode = (s: string): SslMode => {
  const mode = sslModes.find((m) => m === s)
  if (mode === undefined) throw configError(`Invalid sslmode "${s}": use one of ${sslModes.join(", ")}`)
  return mode
}

const parseChannelBinding = (s: string): ChannelBinding => {
  if (s === "disable" || s === "prefer" || s === "require") return s
  throw configError(`Invalid channel_binding "${s}": use disable, prefer or require`)
}

/**
 * The constructors as one value, so that `ConnectionConfig` names both the type and its constructors:
 * `ConnectionConfig.fromUrl(url)`, `ConnectionConfig.describe(config)`. The Effect `Config` readers (`fromEnv`,
 * `urlConfig`) live in `@pgcdc/connection/config` (EnvConfig.ts).
 */
export const ConnectionConfig = {
  fromUrl,
  endpoint,
  describe,
  defaultPort,
  defaultConnectTimeout,
  defaultKeepAliveIdle,
  defaultMaxMessageSize
} as const
