/**
 * The clients the benchmark compares, and how each one is started.
 *
 * It deliberately holds no measuring code: Runner.ts measures, the scripts under clients/ drain.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** "recvlogical", "pglr", "postgresjs", "pgcdc-core", "pgcdc", "pgcdc-batches", "pgcdc-typed", or "base-<id>". */
export type ClientId = string

export interface ClientSpec {
  readonly id: ClientId
  readonly label: string
  /** A JavaScript peer (pgcdc's CPU target compares against the best of these). */
  readonly jsPeer: boolean
  readonly pgcdc: boolean
  /** The Node script for this client; undefined for pg_recvlogical. */
  readonly script: string | undefined
  /** A pgcdc client of another checkout (`bench --baseline DIR`): the id of the client it is the baseline of. */
  readonly baselineOf?: ClientId | undefined
}

/**
 * A script of this package next to this module: `.ts` when the benchmark runs from source, `.js` when it runs from
 * the compiled build (the `bench` script does, so every client loads pgcdc as a published package would).
 */
export const scriptPath = (relative: string): string =>
  fileURLToPath(new URL(import.meta.url.endsWith(".js") ? relative.replace(/\.ts$/, ".js") : relative, import.meta.url))

/** The resolution conditions this process runs with (`--conditions=pgcdc-build`), for the child processes. */
const conditions: ReadonlyArray<string> = process.execArgv.filter((a) => a.startsWith("--conditions"))
let extraFlags: ReadonlyArray<string> = []

/** Node flags given to every Node client and decoder alike (`bench --node-flags`), after the conditions. */
export const setExtraNodeFlags = (flags: ReadonlyArray<string>): void => {
  extraFlags = flags
}

/** The Node arguments of every child process: this process's conditions, then the extra flags. */
export const childNodeArgs = (): ReadonlyArray<string> => [...conditions, ...extraFlags]

const script = (name: string) => scriptPath(`./clients/${name}`)

export const clients: ReadonlyArray<ClientSpec> = [
  { id: "recvlogical", label: "pg_recvlogical", jsPeer: false, pgcdc: false, script: undefined },
  {
    id: "pglr",
    label: "pg-logical-replication",
    jsPeer: true,
    pgcdc: false,
    script: script("pgLogicalReplication.ts")
  },
  { id: "postgresjs", label: "postgres.js subscribe", jsPeer: true, pgcdc: false, script: script("postgresJs.ts") },
  {
    id: "pgcdc-core",
    label: "pgcdc core (Connection + WalDecoder)",
    jsPeer: false,
    pgcdc: true,
    script: script("pgcdcCore.ts")
  },
  { id: "pgcdc", label: "pgcdc Replication stream", jsPeer: false, pgcdc: true, script: script("pgcdcStream.ts") },
  {
    id: "pgcdc-batches",
    label: "pgcdc batches",
    jsPeer: false,
    pgcdc: true,
    script: script("pgcdcBatches.ts")
  },
  { id: "pgcdc-typed", label: "pgcdc typed rows", jsPeer: false, pgcdc: true, script: script("pgcdcTyped.ts") }
]

export const clientById = (id: string): ClientSpec | undefined => clients.find((c) => c.id === id)

/**
 * The same pgcdc clients from another checkout of this repository, built (`tsc -b`) at `dir`: run side by side with
 * this checkout's in one benchmark, so a change is measured against what it changed on the same machine and load.
 */
export const baselineClients = (dir: string, of: ReadonlyArray<ClientSpec>): ReadonlyArray<ClientSpec> =>
  of.flatMap((spec) =>
    spec.pgcdc && spec.script !== undefined
      ? [
          {
            id: `base-${spec.id}`,
            label: `${spec.label} @ baseline`,
            jsPeer: false,
            pgcdc: false,
            script: path.join(dir, "benchmarks/build/src/clients", path.basename(spec.script).replace(/\.ts$/, ".js")),
            baselineOf: spec.id
          }
        ]
      : []
  )
