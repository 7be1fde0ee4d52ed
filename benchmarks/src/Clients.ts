/**
 * The clients the benchmark compares, and how each one is started.
 *
 * It deliberately holds no measuring code: Runner.ts measures, the scripts under clients/ drain.
 */
import { cpSync, mkdirSync, readdirSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** "recvlogical", "pglr", "pglr-noack", "postgresjs", "pgcdc-core", "pgcdc", "pgcdc-batches", ..., or "base-<id>". */
export type ClientId = string

export interface ClientSpec {
  readonly id: ClientId
  readonly label: string
  /** A JavaScript peer (pgcdc's CPU target compares against the best of these). */
  readonly jsPeer: boolean
  readonly pgcdc: boolean
  /** The Node script for this client; undefined for pg_recvlogical. */
  readonly script: string | undefined
  /** Arguments after the config (a variant of the script). */
  readonly args?: ReadonlyArray<string> | undefined
  /** A pgcdc client of another checkout (`bench --baseline DIR`): the id of the client it is the baseline of. */
  readonly baselineOf?: ClientId | undefined
  /** False for a client that uses what older checkouts lack (it has no baseline run). */
  readonly baselineable?: boolean | undefined
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
  {
    id: "pglr-noack",
    label: "pg-logical-replication, no acknowledgements",
    jsPeer: true,
    pgcdc: false,
    script: script("pgLogicalReplication.ts"),
    args: ["no-ack"]
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
  { id: "pgcdc-typed", label: "pgcdc typed rows", jsPeer: false, pgcdc: true, script: script("pgcdcTyped.ts") },
  // Lazy values against eager, for a consumer that reads the key and one that reads every column (through batches).
  ...(["eager-key", "lazy-key", "eager-all", "lazy-all"] as const).map(
    (variant): ClientSpec => ({
      id: `pgcdc-${variant}`,
      label: `pgcdc batches, ${variant.startsWith("lazy") ? "lazy" : "eager"} values, reads ${variant.endsWith("key") ? "the key" : "every column"}`,
      jsPeer: false,
      pgcdc: true,
      script: script("pgcdcBatches.ts"),
      args: [variant],
      baselineable: false
    })
  )
]

export const clientById = (id: string): ClientSpec | undefined => clients.find((c) => c.id === id)

/** Where `prepareBaseline` puts this checkout's client scripts inside a baseline checkout. */
const baselineScripts = (dir: string): string => path.join(dir, "benchmarks/build/current-clients")

/**
 * The same pgcdc clients run against another checkout of this repository, built (`tsc -b`) at `dir`: side by side
 * with this checkout's in one benchmark, so a change is measured against what it changed on the same machine and
 * load. The client scripts are this checkout's (the same consumer code and the same measuring on both sides), copied
 * into the baseline checkout by `prepareBaseline` so that every package they import resolves there.
 */
export const baselineClients = (dir: string, of: ReadonlyArray<ClientSpec>): ReadonlyArray<ClientSpec> =>
  of.flatMap((spec) =>
    spec.pgcdc && spec.script !== undefined && spec.baselineable !== false
      ? [
          {
            ...spec,
            id: `base-${spec.id}`,
            label: `${spec.label} @ baseline`,
            pgcdc: false,
            script: path.join(baselineScripts(dir), "clients", path.basename(spec.script)),
            baselineOf: spec.id
          }
        ]
      : []
  )

/** Copies this checkout's client scripts (and the module they share with the driver) into the baseline checkout. */
export const prepareBaseline = (dir: string): void => {
  const here = path.dirname(scriptPath("./clients/pgcdcStream.ts"))
  const target = baselineScripts(dir)
  mkdirSync(path.join(target, "clients"), { recursive: true })
  for (const file of readdirSync(here)) cpSync(path.join(here, file), path.join(target, "clients", file))
  const protocol = scriptPath("./ChildProtocol.ts")
  cpSync(protocol, path.join(target, path.basename(protocol)))
}
