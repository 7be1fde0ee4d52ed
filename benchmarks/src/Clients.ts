/**
 * The clients the benchmark compares, and how each one is started.
 *
 * It deliberately holds no measuring code: Runner.ts measures, the scripts under clients/ drain.
 */
import { fileURLToPath } from "node:url"

export type ClientId = "recvlogical" | "pglr" | "postgresjs" | "pgcdc-core" | "pgcdc" | "pgcdc-batches" | "pgcdc-typed"

export interface ClientSpec {
  readonly id: ClientId
  readonly label: string
  /** A JavaScript peer (pgcdc's CPU target compares against the best of these). */
  readonly jsPeer: boolean
  readonly pgcdc: boolean
  /** The Node script for this client; undefined for pg_recvlogical. */
  readonly script: string | undefined
}

const script = (name: string) => fileURLToPath(new URL(`./clients/${name}`, import.meta.url))

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
