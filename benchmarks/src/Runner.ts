/**
 * Runs one client in its own process and measures it: a Node client process (see ChildProtocol.ts) or a binary
 * (pg_recvlogical, psql, pg_dump), plus the CPU time of the server processes that serve it.
 *
 * The server processes are found by the client's application_name: its walsender in pg_stat_replication, or every
 * backend in pg_stat_activity (`Backends`). Each one's /proc/<pid>/stat is read every few milliseconds (the largest
 * reading wins) and once more when a Node client reports its end, while its connections are still open. A binary
 * closes its connection by itself, so for it the last periodic reading counts (at most one period late, while the
 * backend is already idle). A backend's time includes its start-up (about a millisecond).
 *
 * It deliberately knows nothing about workloads or reports.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import type pg from "pg"
import type { ClientMessage } from "./ChildProtocol.ts"
import { childNodeArgs } from "./Clients.ts"
import { type CpuTime, cpuOf, peakRssKbOf, stateOf } from "./Proc.ts"

export interface Measurement {
  /** The measured interval: what the client reports (Node), or the life of the process (a binary). */
  readonly wallMs: number
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
  /**
   * The whole process up to the end marker: from the driver spawning it (Node's start-up, imports and connecting
   * included); for pg_recvlogical, its whole life.
   */
  readonly processWallMs: number
  readonly processCpuMs: number
  /** CPU time and resident memory once start-up and the imports are done (NaN for pg_recvlogical). */
  readonly importCpuMs: number
  readonly importRssKb: number
  readonly maxRssKb: number
  /** user + system of the server processes that served the client (`Backends`: its walsender by default). */
  readonly serverCpuMs: number
  readonly serverSystemMs: number
  /**
   * Share of the periodic samples in which neither the client nor any of its server processes was running or
   * runnable: time in which they waited on something else (timers, a lost wake-up, a round trip) instead of working.
   */
  readonly bothIdle: number
  /** Changes of the data table (rows, for a snapshot) the client saw (-1: it cannot tell, e.g. a binary). */
  readonly changes: number
  readonly commits: number
}

const SAMPLE_MS = 10
const TIMEOUT_MS = 10 * 60_000

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Which server processes serve a client: its walsender (found in pg_stat_replication), or every backend of its
 * application_name (pg_stat_activity: a snapshot's walsender and its COPY sessions, psql's or pg_dump's backend).
 */
export type Backends = "walsender" | "all"

/** How often pg_stat_activity is asked for new backends of the client ("all"): sessions come and go over a run. */
const DISCOVER_MS = 50

/** Follows the server processes of one application_name: finds their pids, then keeps each one's largest CPU reading. */
class BackendWatch {
  private readonly cpu = new Map<number, CpuTime>()
  private stopped = false
  private readonly done: Promise<void>

  private readonly admin: pg.Client
  private readonly applicationName: string
  private readonly clientPid: () => number | undefined
  private readonly backends: Backends
  private samples = 0
  private idle = 0

  constructor(admin: pg.Client, applicationName: string, clientPid: () => number | undefined, backends: Backends) {
    this.admin = admin
    this.applicationName = applicationName
    this.clientPid = clientPid
    this.backends = backends
    this.done = this.loop()
  }

  private async discover(): Promise<void> {
    const view = this.backends === "walsender" ? "pg_stat_replication" : "pg_stat_activity"
    const result = await this.admin.query<{ pid: number }>(`SELECT pid FROM ${view} WHERE application_name = $1`, [
      this.applicationName
    ])
    for (const { pid } of result.rows) if (!this.cpu.has(pid)) this.cpu.set(pid, { userMs: 0, systemMs: 0 })
  }

  private async loop(): Promise<void> {
    // A walsender is looked for until it is found; other backends all along, as a client opens sessions over time.
    let discovered = 0
    while (!this.stopped) {
      const now = performance.now()
      if (this.backends === "walsender" ? this.cpu.size === 0 : now - discovered >= DISCOVER_MS) {
        discovered = now
        await this.discover()
      }
      this.sample()
      await delay(SAMPLE_MS)
    }
  }

  sample(): void {
    let running = false
    for (const [pid, last] of this.cpu) {
      const cpu = cpuOf(pid)
      if (cpu !== undefined && cpu.userMs + cpu.systemMs >= last.userMs + last.systemMs) this.cpu.set(pid, cpu)
      if (stateOf(pid) === "R") running = true
    }
    const client = this.clientPid()
    if (this.stopped || client === undefined || this.cpu.size === 0) return
    const state = stateOf(client)
    if (state === undefined) return
    this.samples++
    if (!running && state !== "R") this.idle++
  }

  get bothIdle(): number {
    return this.samples === 0 ? Number.NaN : this.idle / this.samples
  }

  /** The CPU time of every backend seen, summed. */
  async stop(): Promise<CpuTime> {
    this.sample()
    this.stopped = true
    await this.done
    if (this.cpu.size === 0) {
      throw new Error(
        `no ${this.backends === "walsender" ? "walsender" : "backend"} with application_name ${this.applicationName} was seen`
      )
    }
    let userMs = 0
    let systemMs = 0
    for (const cpu of this.cpu.values()) {
      userMs += cpu.userMs
      systemMs += cpu.systemMs
    }
    return { userMs, systemMs }
  }
}

/** Runs a Node client script (one of clients/*.ts) in its own process, with its config as its argument (JSON). */
export const runNodeClient = async <Config extends { readonly applicationName: string }>(
  admin: pg.Client,
  script: string,
  config: Config,
  nodeArgs: ReadonlyArray<string> = [],
  backends: Backends = "walsender",
  scriptArgs: ReadonlyArray<string> = []
): Promise<Measurement> => {
  const spawnedAt = performance.timeOrigin + performance.now()
  const child = spawn(
    process.execPath,
    [...childNodeArgs(), ...nodeArgs, script, JSON.stringify(config), ...scriptArgs],
    { stdio: ["ignore", "inherit", "inherit", "ipc"] }
  )
  const watch = new BackendWatch(admin, config.applicationName, () => child.pid, backends)
  try {
    const message = await firstMessage(child)
    if (message._tag === "Failure") throw new Error(`${script} failed: ${message.message}`)
    watch.sample()
    const server = await watch.stop()
    child.send({ _tag: "Release" })
    await exited(child)
    return {
      wallMs: message.wallMs,
      cpuUserMs: message.cpuUserMs,
      cpuSystemMs: message.cpuSystemMs,
      processWallMs: message.endEpochMs - spawnedAt,
      processCpuMs: message.processCpuUserMs + message.processCpuSystemMs,
      importCpuMs: message.importCpuMs,
      importRssKb: message.importRssKb,
      maxRssKb: message.maxRssKb,
      serverCpuMs: server.userMs + server.systemMs,
      serverSystemMs: server.systemMs,
      bothIdle: watch.bothIdle,
      changes: message.changes,
      commits: message.commits
    }
  } finally {
    await watch.stop().catch(() => undefined)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
}

const firstMessage = (child: ChildProcess): Promise<ClientMessage> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("client timed out")), TIMEOUT_MS)
    child.once("message", (message: ClientMessage) => {
      clearTimeout(timer)
      resolve(message)
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`client exited (code ${code}, signal ${signal}) before reporting`))
    })
    child.once("error", reject)
  })

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

/**
 * A bash wrapper starts the binary, prints its pid, waits for it, and prints its wall time (EPOCHREALTIME) and
 * its CPU time (the `times` builtin: user and system time of the shell's waited-for children, from getrusage).
 */
const wrapper = `
t0=$EPOCHREALTIME
"$@" &
child=$!
echo "pid $child"
wait $child
rc=$?
t1=$EPOCHREALTIME
echo "wall $t0 $t1"
echo "times"
times
exit $rc
`

/** Parses the second line of bash's `times` (children's user and system time, e.g. `0m1.250s 0m0.040s`) into ms. */
export const parseTimes = (line: string): { user: number; system: number } => {
  const seconds = (s: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(s)
    if (m === null) throw new Error(`unexpected 'times' output: ${line}`)
    return Number(m[1]) * 60_000 + Number(m[2]) * 1000
  }
  const [user, system] = line.trim().split(/\s+/)
  return { user: seconds(user!), system: seconds(system!) }
}

export interface ProcessOptions {
  readonly binary: string
  readonly args: ReadonlyArray<string>
  /** Added to this process's environment (PGPASSWORD, PGAPPNAME...). */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** The application_name its connection uses, to find its server processes. */
  readonly applicationName: string
  readonly backends: Backends
}

/**
 * Runs a binary to its end and measures it: wall and CPU time from the wrapper, peak RSS from VmHWM sampled every
 * 10 ms, and its server processes' CPU time. Its standard output must not be used (the wrapper's is).
 */
export const runProcess = async (admin: pg.Client, o: ProcessOptions): Promise<Measurement> => {
  const name = path.basename(o.binary)
  const child = spawn("bash", ["-c", wrapper, "bash", o.binary, ...o.args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, ...o.env }
  })
  let pid: number | undefined
  const watch = new BackendWatch(admin, o.applicationName, () => pid, o.backends)
  let stdout = ""
  let peakRssKb = 0
  child.stdout.setEncoding("utf8")
  child.stdout.on("data", (chunk: string) => {
    stdout += chunk
    const m = /^pid (\d+)$/m.exec(stdout)
    if (m !== null) pid = Number(m[1])
  })
  const rssTimer = setInterval(() => {
    if (pid === undefined) return
    const rss = peakRssKbOf(pid)
    if (rss !== undefined && rss > peakRssKb) peakRssKb = rss
  }, SAMPLE_MS)
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} timed out`)), TIMEOUT_MS)
      child.once("exit", (c) => {
        clearTimeout(timer)
        resolve(c)
      })
      child.once("error", reject)
    })
    const server = await watch.stop()
    if (code !== 0) throw new Error(`${name} exited with code ${code}`)
    const lines = stdout.split("\n")
    const wall = /^wall ([\d.]+) ([\d.]+)$/m.exec(stdout)
    const timesAt = lines.indexOf("times")
    if (wall === null || timesAt < 0 || lines[timesAt + 2] === undefined) {
      throw new Error(`unexpected wrapper output: ${stdout}`)
    }
    const cpu = parseTimes(lines[timesAt + 2]!)
    const wallMs = (Number(wall[2]) - Number(wall[1])) * 1000
    return {
      wallMs,
      cpuUserMs: cpu.user,
      cpuSystemMs: cpu.system,
      processWallMs: wallMs,
      processCpuMs: cpu.user + cpu.system,
      importCpuMs: Number.NaN,
      importRssKb: Number.NaN,
      maxRssKb: peakRssKb,
      serverCpuMs: server.userMs + server.systemMs,
      serverSystemMs: server.systemMs,
      bothIdle: watch.bothIdle,
      changes: -1,
      commits: -1
    }
  } finally {
    clearInterval(rssTimer)
    await watch.stop().catch(() => undefined)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
}

export interface RecvlogicalOptions {
  readonly binary: string
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  readonly slot: string
  readonly publication: string
  readonly endLsn: string
  readonly applicationName: string
  /** Where the decoded stream goes (/dev/null by default). */
  readonly output?: string
}

/** Runs pg_recvlogical on a prepared slot until `endLsn`, writing the stream to /dev/null. */
export const runRecvlogical = (admin: pg.Client, o: RecvlogicalOptions): Promise<Measurement> => {
  const conninfo = `host=${o.host} port=${o.port} user=${o.user} dbname=${o.database} application_name=${o.applicationName}`
  return runProcess(admin, {
    binary: o.binary,
    args: [
      "--start",
      `--slot=${o.slot}`,
      `--dbname=${conninfo}`,
      `--file=${o.output ?? "/dev/null"}`,
      `--endpos=${o.endLsn}`,
      "--no-loop",
      "-o",
      "proto_version=1",
      "-o",
      `publication_names=${o.publication}`
    ],
    env: { PGPASSWORD: o.password },
    applicationName: o.applicationName,
    backends: "walsender"
  })
}
