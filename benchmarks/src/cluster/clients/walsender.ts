/** The logical walsender session every consumer of the cluster benchmark opens (no TLS, like the other benchmarks). */
import type { ConnectionConfig } from "@pgcdc/connection"
import * as Redacted from "effect/Redacted"
import type { DrainConfig } from "../DrainProtocol.ts"

export const walsender = (config: DrainConfig, database: string, applicationName: string): ConnectionConfig => ({
  host: config.host,
  port: config.port,
  user: config.user,
  password: Redacted.make(config.password),
  database,
  applicationName,
  replication: "logical",
  sslmode: "disable"
})
