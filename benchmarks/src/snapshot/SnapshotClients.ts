/**
 * The clients the snapshot benchmark compares and how each one runs, each in its own process: psql draining the
 * COPY to /dev/null, pg_dump of the table, pgcdc's raw COPY drain, and pgcdc's snapshot with 1 and 2 sessions
 * (consumed one message at a time) and with 1 session consumed in batches. Every client's server processes are all
 * the backends of its application_name (Runner.ts), so the server's CPU for a COPY is counted for every client alike.
 *
 * It deliberately holds no measuring code (Runner.ts) and no report (SnapshotReport.ts).
 */
import type { TestDatabaseInfo } from "@pgcdc/testing"
import type pg from "pg"
import { scriptPath } from "../Clients.ts"
import { type Measurement, runNodeClient, runProcess } from "../Runner.ts"
import type { SnapshotClientConfig } from "./clients/config.ts"
import type { SnapshotClientInfo } from "./SnapshotReport.ts"
import { copySql, snapshotPublication, snapshotTable, textSettingsOptions } from "./SnapshotTable.ts"

export interface RunContext {
  readonly admin: pg.Client
  readonly db: TestDatabaseInfo
  readonly psql: string
  readonly pgDump: string
  /** A directory for V8 CPU profiles of the Node clients (`--profile`), or undefined. */
  readonly profile: string | undefined
}

export interface SnapshotClient extends SnapshotClientInfo {
  readonly run: (context: RunContext, applicationName: string) => Promise<Measurement>
}

/** What libpq's environment gives psql and pg_dump: where, who, the application_name, pgcdc's text settings. */
const libpqEnv = (db: TestDatabaseInfo, applicationName: string): Record<string, string> => ({
  PGHOST: db.host,
  PGPORT: String(db.port),
  PGUSER: db.user,
  PGPASSWORD: db.password,
  PGDATABASE: db.database,
  PGAPPNAME: applicationName,
  PGOPTIONS: textSettingsOptions
})

const nodeClient =
  (script: string, sessions: number, batches = false) =>
  (context: RunContext, applicationName: string): Promise<Measurement> => {
    const { db } = context
    const config: SnapshotClientConfig = {
      host: db.host,
      port: db.port,
      user: db.user,
      password: db.password,
      database: db.database,
      applicationName,
      publication: snapshotPublication,
      slot: applicationName,
      sessions,
      batches,
      copySql
    }
    const profile =
      context.profile === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${context.profile}`, `--cpu-prof-name=${applicationName}.cpuprofile`]
    return runNodeClient(context.admin, scriptPath(`./snapshot/clients/${script}`), config, profile, "all")
  }

export const snapshotClients: ReadonlyArray<SnapshotClient> = [
  {
    id: "psql",
    label: "psql COPY → /dev/null",
    role: "psql",
    run: (context, applicationName) =>
      runProcess(context.admin, {
        binary: context.psql,
        // COPY ... TO STDOUT writes to psql's query output, which -o sends to /dev/null.
        args: ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null", "-c", copySql],
        env: libpqEnv(context.db, applicationName),
        applicationName,
        backends: "all"
      })
  },
  {
    id: "pg_dump",
    label: "pg_dump -t (plain) → /dev/null",
    role: "pg_dump",
    run: (context, applicationName) =>
      runProcess(context.admin, {
        binary: context.pgDump,
        args: [`--table=public.${snapshotTable}`, "--format=plain", "--no-sync", "--file=/dev/null"],
        env: libpqEnv(context.db, applicationName),
        applicationName,
        backends: "all"
      })
  },
  { id: "pgcdc-copy", label: "pgcdc raw COPY drain (no decoding)", role: "raw", run: nodeClient("pgcdcCopyOut.ts", 1) },
  { id: "pgcdc-1", label: "pgcdc snapshot, 1 session", role: "pgcdc", run: nodeClient("pgcdcSnapshot.ts", 1) },
  { id: "pgcdc-2", label: "pgcdc snapshot, 2 sessions", role: "pgcdc", run: nodeClient("pgcdcSnapshot.ts", 2) },
  {
    id: "pgcdc-batches",
    label: "pgcdc snapshot, 1 session, batches",
    role: "pgcdc",
    run: nodeClient("pgcdcSnapshot.ts", 1, true)
  }
]
