/** The logical walsender session every consumer process of the cluster benchmark opens (no TLS, like the others). */
import type { ConnectionConfig } from "@pgcdc/connection"
import * as Redacted from "effect/Redacted"
import type { DrainConfig } from "../DrainProtocol.ts"

export const walsender = (config: DrainConfig, applicationName: string): ConnectionConfig => ({
  host: config.host,
  port: config.port,
  user: config.user,
  password: Redacted.make(config.password),
  database: config.database,
  applicationName,
  replication: "logical",
  sslmode: "disable"
})
