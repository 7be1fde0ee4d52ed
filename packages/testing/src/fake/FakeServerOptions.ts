/**
 * Options of the fake PostgreSQL server and their resolved form: the server version it claims (and so which
 * commands, options and error texts it uses), how it authenticates, its identity (system id, timeline, database)
 * its walsender timing (wal_sender_timeout, keepalive interval) and whether its TCP listener speaks TLS.
 *
 * It deliberately holds no state: `FakeServer` does.
 */
import * as Duration from "effect/Duration"
import { Lsn } from "@pgcdc/protocol"
import { fakeTlsCertificate, fakeTlsKey } from "./TestCertificate.ts"

export type FakeAuthMethod = "trust" | "password" | "md5" | "scram-sha-256"

export interface FakeServerOptions {
  /** The version the server claims, "major.minor" (default "18.1"). Majors 14 to 18 are modelled. */
  readonly serverVersion?: string | undefined
  /** Default "trust". "password" is cleartext. */
  readonly auth?: FakeAuthMethod | undefined
  /** The one role that exists (default "postgres"). */
  readonly user?: string | undefined
  /** Its password (default "postgres"). */
  readonly password?: string | undefined
  /** The one database that exists (default "postgres"). */
  readonly database?: string | undefined
  /** IDENTIFY_SYSTEM's systemid (default "7000000000000000001"). */
  readonly systemId?: string | undefined
  /** IDENTIFY_SYSTEM's timeline (default 1). */
  readonly timeline?: number | undefined
  /** Where the WAL starts (default "0/1000000"). */
  readonly startLsn?: string | undefined
  /** wal_sender_timeout (default 60 seconds; zero disables it, as on the real server). */
  readonly walSenderTimeout?: Duration.Input | undefined
  /** Idle keepalives while streaming, without a reply request (default 10 seconds; zero disables them). */
  readonly keepaliveInterval?: Duration.Input | undefined
  /** Extra or overridden values for SHOW and ParameterStatus-free settings (e.g. `{ wal_level: "replica" }`). */
  readonly settings?: Readonly<Record<string, string>> | undefined
  /**
   * TLS on the TCP listener (default off: SSLRequest is answered 'N'). `true` uses the bundled test certificate for
   * localhost and 127.0.0.1, whose CA is `fakeTlsCa` (for `sslmode=verify-full`); or give a PEM certificate and key.
   * In-memory connections have no TLS either way.
   */
  readonly tls?: boolean | { readonly cert: string; readonly key: string } | undefined
}

export interface ResolvedOptions {
  readonly major: number
  readonly serverVersion: string
  readonly serverVersionNum: number
  readonly auth: FakeAuthMethod
  readonly user: string
  readonly password: string
  readonly database: string
  readonly systemId: string
  readonly timeline: number
  readonly startLsn: bigint
  readonly walSenderTimeoutMillis: number
  readonly keepaliveIntervalMillis: number
  readonly settings: ReadonlyMap<string, string>
  /** The TLS identity of the TCP listener, or undefined when SSLRequest is declined. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined
}

export class FakeOptionsError extends Error {
  override readonly name = "FakeOptionsError"
}

const durationMillis = (input: Duration.Input | undefined, fallback: number): number =>
  input === undefined ? fallback : Duration.toMillis(Duration.fromInputUnsafe(input))

export const resolveOptions = (options: FakeServerOptions = {}): ResolvedOptions => {
  const serverVersion = options.serverVersion ?? "18.1"
  const m = /^(\d+)\.(\d+)$/.exec(serverVersion)
  if (m === null) throw new FakeOptionsError(`serverVersion "${serverVersion}" is not "major.minor", e.g. "16.4"`)
  const major = Number(m[1])
  if (major < 14 || major > 18)
    throw new FakeOptionsError(`serverVersion ${serverVersion}: only majors 14 to 18 are modelled`)
  const start = Lsn.parse(options.startLsn ?? "0/1000000")
  if (start._tag === "Failure")
    throw new FakeOptionsError(`startLsn "${options.startLsn}" is not an LSN like "0/16B3748"`)
  const walSenderTimeoutMillis = durationMillis(options.walSenderTimeout, 60_000)
  const settings = new Map<string, string>([
    ["server_version", serverVersion],
    ["server_version_num", String(major * 10000 + Number(m[2]))],
    ["server_encoding", "UTF8"],
    ["client_encoding", "UTF8"],
    ["datestyle", "ISO, MDY"],
    ["timezone", "UTC"],
    ["integer_datetimes", "on"],
    ["intervalstyle", "postgres"],
    ["standard_conforming_strings", "on"],
    ["wal_level", "logical"],
    ["wal_segment_size", "16MB"],
    ["max_wal_senders", "10"],
    ["max_replication_slots", "10"],
    [
      "wal_sender_timeout",
      walSenderTimeoutMillis % 1000 === 0 ? `${walSenderTimeoutMillis / 1000}s` : `${walSenderTimeoutMillis}ms`
    ],
    ["logical_decoding_work_mem", "64MB"],
    ["max_slot_wal_keep_size", "-1"],
    ["max_prepared_transactions", "0"],
    ["block_size", "8192"],
    ["data_checksums", "off"]
  ])
  for (const [k, v] of Object.entries(options.settings ?? {})) settings.set(k.toLowerCase(), v)
  return {
    major,
    serverVersion,
    serverVersionNum: Number(settings.get("server_version_num")),
    auth: options.auth ?? "trust",
    user: options.user ?? "postgres",
    password: options.password ?? "postgres",
    database: options.database ?? "postgres",
    systemId: options.systemId ?? "7000000000000000001",
    timeline: options.timeline ?? 1,
    startLsn: start.success,
    walSenderTimeoutMillis,
    keepaliveIntervalMillis: durationMillis(options.keepaliveInterval, 10_000),
    settings,
    tls:
      options.tls === true
        ? { cert: fakeTlsCertificate, key: fakeTlsKey }
        : options.tls === false || options.tls === undefined
          ? undefined
          : options.tls
  }
}

/** The ParameterStatus messages after authentication, in the real server's order (the GUC_REPORT settings). */
export const reportedParameters = (
  config: ResolvedOptions,
  user: string,
  applicationName: string
): ReadonlyArray<readonly [string, string]> => [
  ["application_name", applicationName],
  ["client_encoding", "UTF8"],
  ["DateStyle", "ISO, MDY"],
  ["default_transaction_read_only", "off"],
  ["in_hot_standby", "off"],
  ["integer_datetimes", "on"],
  ["IntervalStyle", "postgres"],
  ["is_superuser", "on"],
  ...(config.major >= 16 ? [["scram_iterations", "4096"] as const] : []),
  // PostgreSQL 18 reports search_path too.
  ...(config.major >= 18 ? [["search_path", '"$user", public'] as const] : []),
  ["server_encoding", "UTF8"],
  ["server_version", config.serverVersion],
  ["session_authorization", user],
  ["standard_conforming_strings", "on"],
  ["TimeZone", "UTC"]
]
