/**
 * The conversation between the benchmark driver and one client process, and the measuring both sides share.
 *
 * Every Node client runs in its own process so that its CPU time and peak RSS are its own. The driver passes a
 * `ClientConfig` as the first command-line argument (JSON). The client connects, calls `Meter.start()` at
 * START_REPLICATION (or the closest point its library exposes), drains its slot until it sees the end marker (an
 * INSERT into the end table), calls `finish`, and keeps its replication connection open until the driver answers
 * `release`: the driver reads the walsender's CPU time while that walsender is still alive.
 *
 * Two intervals are measured. The *process* interval is the client's whole life up to the end marker: Node's start-up,
 * loading the library, connecting, and the drain (what a short-lived consumer pays, and what pg_recvlogical's figures
 * include). The *drain* interval starts at START_REPLICATION. The start-up share is read when the client's first line
 * runs (`new Meter()`, after every static import): CPU time and resident memory at that point.
 *
 * It deliberately measures the same way for every Node client (`process.cpuUsage()`, `performance`,
 * `process.resourceUsage().maxRSS`) and does nothing else: the clients decide what a "change" is.
 */

/** What the driver tells a client process. */
export interface ClientConfig {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
  readonly slot: string
  readonly publication: string
  /** Name of the published table whose INSERT marks the end of the workload. */
  readonly endTable: string
  /** Name of the table the workload writes (changes on it are counted). */
  readonly dataTable: string
  /** application_name of the replication connection, used to find its walsender in pg_stat_replication. */
  readonly applicationName: string
}

/** What a client process reports once it has seen the end marker. */
export interface ClientResult {
  readonly _tag: "Result"
  /** From START_REPLICATION (or the closest point) to the end marker. */
  readonly wallMs: number
  /** `process.cpuUsage()` difference over the same interval (user + system of every thread of the process). */
  readonly cpuUserMs: number
  readonly cpuSystemMs: number
  /** `process.cpuUsage()` of the whole process up to the end marker (start-up, imports and connecting included). */
  readonly processCpuUserMs: number
  readonly processCpuSystemMs: number
  /** The end marker's time as milliseconds since the Unix epoch (the driver knows when it spawned the process). */
  readonly endEpochMs: number
  /** CPU time (user + system) the process had used when its first line ran: Node's start-up and every import. */
  readonly importCpuMs: number
  /** Resident memory at the same moment (`process.memoryUsage().rss`). */
  readonly importRssKb: number
  /** `process.resourceUsage().maxRSS`: the process's peak resident set, start-up included. */
  readonly maxRssKb: number
  /** INSERT/UPDATE/DELETE changes of the data table seen before the end marker (a snapshot client: rows read). */
  readonly changes: number
  /** Transactions (Commit messages) seen, when the client sees them; -1 otherwise. */
  readonly commits: number
}

export interface ClientFailure {
  readonly _tag: "Failure"
  readonly message: string
}

export type ClientMessage = ClientResult | ClientFailure

export interface DriverRelease {
  readonly _tag: "Release"
}

/** The config the driver passed (a `ClientConfig`, or another driver's config for its own clients). */
export const readConfig = <Config = ClientConfig>(): Config => {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error("usage: <client>.ts '<config as JSON>' (started by the benchmark driver)")
  return JSON.parse(raw) as Config
}

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000

/**
 * Wall clock and CPU time from `start()` to `stop()`, and of the whole process. Construct it on the client's first
 * line: it records what start-up and the imports cost.
 */
export class Meter {
  private t0 = 0
  private cpu0: NodeJS.CpuUsage = { user: 0, system: 0 }
  private started = false
  private readonly importCpuMs = cpuMs(process.cpuUsage())
  private readonly importRssKb = process.memoryUsage().rss / 1024

  start(): void {
    if (this.started) return
    this.started = true
    this.cpu0 = process.cpuUsage()
    this.t0 = performance.now()
  }

  stop(changes: number, commits: number): ClientResult {
    const now = performance.now()
    const total = process.cpuUsage()
    const cpu = process.cpuUsage(this.cpu0)
    return {
      _tag: "Result",
      wallMs: now - this.t0,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      processCpuUserMs: total.user / 1000,
      processCpuSystemMs: total.system / 1000,
      endEpochMs: performance.timeOrigin + now,
      importCpuMs: this.importCpuMs,
      importRssKb: this.importRssKb,
      maxRssKb: process.resourceUsage().maxRSS,
      changes,
      commits
    }
  }
}

const send = (message: ClientMessage): Promise<void> =>
  new Promise((resolve, reject) => {
    if (process.send === undefined) {
      // Started by hand, not by the driver: print instead.
      console.log(JSON.stringify(message))
      resolve()
      return
    }
    process.send(message, undefined, {}, (error) => (error === null ? resolve() : reject(error)))
  })

/** Reports the result and resolves when the driver has read the walsender's counters (or at once without a driver). */
export const finish = async (result: ClientResult): Promise<void> => {
  const released = new Promise<void>((resolve) => {
    if (process.send === undefined) {
      resolve()
      return
    }
    process.on("message", (message: DriverRelease) => {
      if (message._tag === "Release") resolve()
    })
  })
  await send(result)
  await released
}

/** Reports a failure and exits with status 1. */
export const fail = async (error: unknown): Promise<never> => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
  await send({ _tag: "Failure", message }).catch(() => undefined)
  process.exit(1)
}
