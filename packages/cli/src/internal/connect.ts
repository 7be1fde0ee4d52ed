/**
 * Where the command connects: `--url`, else `PGCDC_URL`, else the libpq variables (PGHOST, PGPORT, PGUSER,
 * PGPASSWORD, PGDATABASE, PGSSLMODE, ...) with libpq's defaults, all through `@pgcdc/connection`'s parsers. A URL or
 * variable that does not parse is a usage error (exit status 2), found before any connection is opened.
 *
 * Sessions are named `pgcdc` in pg_stat_activity unless the URL says otherwise. It deliberately opens nothing by
 * itself: `sql` and `walsender` are scoped sessions for the caller's scope.
 */
import { Connection, ConnectionConfig, type ConnectionError, type ConnectionShape } from "@pgcdc/connection"
import * as EnvConfig from "@pgcdc/connection/config"
import * as Effect from "effect/Effect"
import type { GlobalFlag } from "effect/cli"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import { UsageError } from "./failure.ts"
import { Url } from "./globalFlags.ts"

const fromUrl = (text: string, origin: string): Effect.Effect<ConnectionConfig, UsageError> => {
  const parsed = ConnectionConfig.fromUrl(text, { applicationName: "pgcdc" })
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success)
    : Effect.fail(new UsageError({ message: `${origin}: ${parsed.failure.message}` }))
}

/** The connection settings from `url` (the `--url` flag), PGCDC_URL or the libpq variables. */
export const resolveConfig = (url: Option.Option<string>): Effect.Effect<ConnectionConfig, UsageError> => {
  if (Option.isSome(url)) return fromUrl(url.value, "--url")
  const envUrl = process.env.PGCDC_URL
  if (envUrl !== undefined && envUrl !== "") return fromUrl(envUrl, "PGCDC_URL")
  return EnvConfig.fromEnv.pipe(
    Effect.map((config) => ({ applicationName: "pgcdc", ...config })),
    Effect.mapError((e) => new UsageError({ message: `The libpq environment variables: ${e.message}` }))
  )
}

/** The settings the `--url` flag (or the environment) gives. */
export const config: Effect.Effect<ConnectionConfig, UsageError, GlobalFlag.Setting.Identifier<"url">> = Effect.flatMap(
  Url,
  resolveConfig
)

/** A regular session. */
export const sql = (c: ConnectionConfig): Effect.Effect<ConnectionShape, ConnectionError, Scope.Scope> =>
  Connection.make({ ...c, replication: undefined })

/** A logical walsender session (it runs SQL too). */
export const walsender = (c: ConnectionConfig): Effect.Effect<ConnectionShape, ConnectionError, Scope.Scope> =>
  Connection.make({ ...c, replication: "logical" })
