/**
 * Runs one client against one prepared slot and measures it: a Node client process (see ChildProtocol.ts) or
 * pg_recvlogical, plus the CPU time of the walsender that serves it.
 *
 * The walsender is found in pg_stat_replication by the client's application_name, then its /proc/<pid>/stat is read
 * every few milliseconds (the largest reading wins) and once more when a Node client reports the end marker, while
 * its connection is still open. pg_recvlogical closes its connection by itself at --endpos, so for it the last
 * periodic reading counts (at most one period late, while the walsender is already idle). The walsender's time
 * includes its backend start-up (about a millisecond).
 *
 * It deliberately knows nothing about workloads or reports.
 */
import { type ChildProcess, spawn } from "node:child_process"
import type pg from "pg"
import type { ClientConfig, ClientMessage } from "./ChildProtocol.ts"
import { type CpuTime, cpuOf, peakRssKbOf, stateOf } from "./Proc.ts"
import { childNodeArgs } from "./Clients.ts"

export interface Measurement {
  /** The drain: from START_REPLICATION (or the closest point the library exposes) to the end marker. */
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
  /** user + system of the walsender process. */
  readonly walsenderCpuMs: number
  readonly walsenderSystemMs: number
  /**
   * Share of the periodic samples in which neither the client nor its walsender was running or runnable: time in
   * which the pair waited on something else (timers, a lost wake-up, a round trip) instead of working.
   */
  readonly bothIdle: number
  /** Changes of the data table the client saw (-1: the client cannot tell, e.g. pg_recvlogical). */
  readonly changes: number
  readonly commits: number
}

const SAMPLE_MS = 10
const TIMEOUT_MS = 10 * 60_000

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Follows the walsender of one application_name: finds its pid, then keeps the largest CPU reading. */
class WalsenderWatch {
  private pid: number | undefined
  private cpu: CpuTime = { userMs: 0, systemMs: 0 }
  private stopped = false
  private readonly done: Promise<void>

  private readonly admin: pg.Client
  private readonly applicationName: string
  private readonly clientPid: () => number | undefined
  private samples = 0
  private idle = 0

  constructor(admin: pg.Client, applicationName: string, clientPid: () => number | undefined) {
    this.admin = admin
    this.applicationName = applicationName
    this.clientPid = clientPid
    this.done = this.loop()
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.pid === undefined) {
      const result = await this.admin.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_replication WHERE application_name = $1",
        [this.applicationName]
      )
      if (result.rows.length > 0) this.pid = result.rows[0]!.pid
      else await delay(SAMPLE_MS)
    }
    while (!this.stopped) {
      this.sample()
      await delay(SAMPLE_MS)
    }
  }

  sample(): void {
    if (this.pid === undefined) return
    const cpu = cpuOf(this.pid)
    if (cpu !== undefined && cpu.userMs + cpu.systemMs >= this.cpu.userMs + this.cpu.systemMs) this.cpu = cpu
    const client = this.clientPid()
    if (this.stopped || client === undefined) return
    const a = stateOf(this.pid)
    const b = stateOf(client)
    if (a === undefined || b === undefined) return
    this.samples++
    if (a !== "R" && b !== "R") this.idle++
  }

  get bothIdle(): number {
    return this.samples === 0 ? Number.NaN : this.idle / this.samples
  }

  async stop(): Promise<CpuTime> {
    this.sample()
    this.stopped = true
    await this.done
    if (this.pid === undefined) throw new Error(`no walsender with application_name ${this.applicationName} was seen`)
    return this.cpu
  }
}

/** Runs a Node client script (one of clients/*.ts) in its own process. */
export const runNodeClient = async (
  admin: pg.Client,
  script: string,
  config: ClientConfig,
  nodeArgs: ReadonlyArray<string> = [],
  scriptArgs: ReadonlyArray<string> = []
): Promise<Measurement> => {
  const spawnedAt = performance.timeOrigin + performance.now()
  const child = spawn(
    process.execPath,
    [...childNodeArgs(), ...nodeArgs, script, JSON.stringify(config), ...scriptArgs],
    { stdio: ["ignore", "inherit", "inherit", "ipc"] }
  )
  const watch = new WalsenderWatch(admin, config.applicationName, () => child.pid)
  try {
    const message = await firstMessage(child)
    if (message._tag === "Failure") throw new Error(`${script} failed: ${message.message}`)
    watch.sample()
    const walsender = await watch.stop()
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
      walsenderCpuMs: walsender.userMs + walsender.systemMs,
      walsenderSystemMs: walsender.systemMs,
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

/**
 * A bash wrapper starts pg_recvlogical, prints its pid, waits for it, and prints its wall time (EPOCHREALTIME) and
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

const parseTimes = (line: string): { user: number; system: number } => {
  const seconds = (s: string) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(s)
    if (m === null) throw new Error(`unexpected 'times' output: ${line}`)
    return Number(m[1]) * 60_000 + Number(m[2]) * 1000
  }
  const [user, system] = line.trim().split(/\s+/)
  return { user: seconds(user!), system: seconds(system!) }
}

/** Runs pg_recvlogical on a prepared slot until `endLsn`, writing the stream to /dev/null. */
export const runRecvlogical = async (admin: pg.Client, o: RecvlogicalOptions): Promise<Measurement> => {
  const conninfo = `host=${o.host} port=${o.port} user=${o.user} dbname=${o.database} application_name=${o.applicationName}`
  const args = [
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
  ]
  const child = spawn("bash", ["-c", wrapper, "bash", o.binary, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, PGPASSWORD: o.password }
  })
  let pid: number | undefined
  const watch = new WalsenderWatch(admin, o.applicationName, () => pid)
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
      const timer = setTimeout(() => reject(new Error("pg_recvlogical timed out")), TIMEOUT_MS)
      child.once("exit", (c) => {
        clearTimeout(timer)
        resolve(c)
      })
      child.once("error", reject)
    })
    const walsender = await watch.stop()
    if (code !== 0) throw new Error(`pg_recvlogical exited with code ${code}`)
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
      walsenderCpuMs: walsender.userMs + walsender.systemMs,
      walsenderSystemMs: walsender.systemMs,
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
