/**
 * What both benchmark drivers (bench.ts, benchSnapshot.ts) do alike around their clients: log progress to stderr,
 * refuse to run on a Node older than the workspace's, and open the driver's own session to the server.
 */
import { execFileSync } from "node:child_process"
import type { TestDatabaseInfo } from "@pgcdc/testing"
import pg from "pg"

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
