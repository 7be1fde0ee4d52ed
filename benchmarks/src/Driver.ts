/**
 * What both benchmark drivers (bench.ts, benchSnapshot.ts) do alike around their clients: log progress to stderr,
 * refuse to run on a Node older than the workspace's, open the driver's own session to the server, and run every
 * client a number of times, interleaved.
 */
import { execFileSync } from "node:child_process"
import type { TestDatabaseInfo } from "@pgcdc/testing"
import pg from "pg"
import type { Measurement } from "./Runner.ts"

export const log = (message: string): void =>
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`)

/** Exits when this process is not Node 24+ (the clients are started with this process's Node). */
export const requireNode24 = (): void => {
  const [nodeMajor] = process.versions.node.split(".").map(Number)
  if (nodeMajor === undefined || nodeMajor < 24) {
    console.error(
      `Node ${process.versions.node}: run the benchmark with Node 24 (node_modules/.bin/node), as the bench script does`
    )
    process.exit(1)
  }
}

/** The version line of a binary (`--version`), or undefined when it cannot be run. */
export const versionOf = (binary: string): string | undefined => {
  try {
    return execFileSync(binary, ["--version"], { encoding: "utf8" }).trim()
  } catch {
    return undefined
  }
}

/** The driver's own session: workloads, slots, and finding the clients' server processes. */
export const connectAdmin = async (db: TestDatabaseInfo): Promise<pg.Client> => {
  const client = new pg.Client({
    host: db.host,
    port: db.port,
    user: db.user,
    password: db.password,
    database: db.database
  })
  await client.connect()
  // Every workload commit is flushed before it returns: logical decoding only reads flushed WAL, so the end marker
  // and the captured stream are complete as soon as the workload's statements return (fsync is off, so this is cheap).
  await client.query("SET synchronous_commit = on")
  return client
}

export interface Measured<Id extends string> {
  readonly measured: Map<Id, Array<Measurement>>
  /** The first failure of each client that failed (it is not run again). */
  readonly failures: Map<Id, string>
}

/**
 * Runs every client `runs` times, interleaved (run 1 of every client, then run 2...), the order rotating every run so
 * that no client always goes first (or last) on a warm or busy machine. Logs each run under `title`.
 */
export const runInterleaved = async <Id extends string, Client extends { readonly id: Id; readonly label: string }>(
  title: string,
  clients: ReadonlyArray<Client>,
  runs: number,
  runOne: (client: Client, run: number) => Promise<Measurement>
): Promise<Measured<Id>> => {
  const measured = new Map<Id, Array<Measurement>>()
  const failures = new Map<Id, string>()
  for (let run = 1; run <= runs; run++) {
    const order = clients.map((_, i) => clients[(i + run - 1) % clients.length]!)
    for (const client of order) {
      if (failures.has(client.id)) continue
      try {
        const m = await runOne(client, run)
        measured.set(client.id, [...(measured.get(client.id) ?? []), m])
        log(
          `${title} run ${run} ${client.label}: wall ${(m.processWallMs / 1000).toFixed(2)} s (measured part ${(m.wallMs / 1000).toFixed(2)} s), CPU ${(m.processCpuMs / 1000).toFixed(2)} s (measured part ${((m.cpuUserMs + m.cpuSystemMs) / 1000).toFixed(2)} s, start-up ${(m.importCpuMs / 1000).toFixed(2)} s), server ${(m.serverCpuMs / 1000).toFixed(2)} s, peak RSS ${(m.maxRssKb / 1024).toFixed(0)} MB, changes or rows ${m.changes}`
        )
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error)
        failures.set(client.id, message)
        log(`${title} run ${run} ${client.label}: FAILED ${message}`)
      }
    }
  }
  return { measured, failures }
}
