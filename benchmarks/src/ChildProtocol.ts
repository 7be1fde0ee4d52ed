/**
 * The conversation between the benchmark driver and one client process, and the measuring both sides share.
 *
 * Every Node client runs in its own process so that its CPU time and peak RSS are its own. The driver passes a
 * `ClientConfig` as the first command-line argument (JSON). The client connects, calls `Meter.start()` at
 * START_REPLICATION (or the closest point its library exposes), drains its slot until it sees the end marker (an
 * INSERT into the end table), calls `finish`, and keeps its replication connection open until the driver answers
 * `release`: the driver reads the walsender's CPU time while that walsender is still alive.
 *
 * It deliberately measures the same way for every Node client (`process.cpuUsage()`, `performance.now()`,
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

/** Wall clock and CPU time from `start()` to `stop()`. */
export class Meter {
  private t0 = 0
  private cpu0: NodeJS.CpuUsage = { user: 0, system: 0 }
  private started = false

  start(): void {
    if (this.started) return
    this.started = true
    this.cpu0 = process.cpuUsage()
    this.t0 = performance.now()
  }

  stop(changes: number, commits: number): ClientResult {
    const wallMs = performance.now() - this.t0
    const cpu = process.cpuUsage(this.cpu0)
    return {
      _tag: "Result",
      wallMs,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
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
