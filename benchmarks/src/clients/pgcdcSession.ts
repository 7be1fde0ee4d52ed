/**
 * What every pgcdc client process shares: the walsender session it opens (the same settings for each, so they
 * measure the same thing) and running its program to an exit status the driver reads.
 */
import type { ConnectionConfig } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { type ClientConfig, fail } from "../ChildProtocol.ts"

/** Where a client connects, and as whom. */
export type ServerConfig = Pick<ClientConfig, "host" | "port" | "user" | "password" | "database" | "applicationName">

/** A logical walsender session to the benchmark's server, without TLS (no peer uses it). */
export const walsenderConfig = (config: ServerConfig): ConnectionConfig => ({
  host: config.host,
  port: config.port,
  user: config.user,
  password: Redacted.make(config.password),
  database: config.database,
  applicationName: config.applicationName,
  replication: "logical",
  sslmode: "disable"
})

/** Runs the client to the end marker, then exits; a failure is reported to the driver. */
export const runClient = <E>(program: Effect.Effect<void, E>): Promise<void> =>
  Effect.runPromise(program).then(
    () => process.exit(0),
    (error: unknown) => fail(error)
  )
