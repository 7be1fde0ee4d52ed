/**
 * `@pgcdc/connection/config`: Effect `Config` readers of a `ConnectionConfig`, from the libpq environment variables
 * (`fromEnv`) or from a URL held in one variable (`urlConfig`), through the current `ConfigProvider`.
 *
 * Its own entry point, not part of `@pgcdc/connection`: `effect/Config` loads `effect/Schema` and with it about 80
 * modules, about 100 ms of CPU at every process start, which a program that builds its configuration itself should not
 * pay. `Connection.layerConfig()` and friends load this module on first use when given no `Config`.
 */
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { type ConnectionConfig, fromUrl, fromValues } from "./ConnectionConfig.ts"

const optionalString = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.String(name)).pipe(Config.map(Option.filter((s) => s !== "")))

/**
 * Reads the libpq environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT,
 * PGSSLCERT, PGSSLKEY, PGAPPNAME, PGCONNECT_TIMEOUT) from the current `ConfigProvider`, with libpq's defaults.
 * An invalid value (an unknown sslmode, a bad port) fails with a `ConfigError` naming the variable.
 */
export const fromEnv: Config.Config<ConnectionConfig> = Config.all({
  PGHOST: optionalString("PGHOST"),
  PGPORT: optionalString("PGPORT"),
  PGUSER: optionalString("PGUSER"),
  PGPASSWORD: Config.option(Config.Redacted("PGPASSWORD")),
  PGDATABASE: optionalString("PGDATABASE"),
  PGSSLMODE: optionalString("PGSSLMODE"),
  PGSSLROOTCERT: optionalString("PGSSLROOTCERT"),
  PGSSLCERT: optionalString("PGSSLCERT"),
  PGSSLKEY: optionalString("PGSSLKEY"),
  PGAPPNAME: optionalString("PGAPPNAME"),
  PGCONNECT_TIMEOUT: optionalString("PGCONNECT_TIMEOUT")
}).pipe(
  Config.mapEffect((env) => {
    const values = new Map<string, string>()
    const put = (key: string, v: Option.Option<string>) => {
      if (Option.isSome(v)) values.set(key, v.value)
    }
    put("host", env.PGHOST)
    put("port", env.PGPORT)
    put("user", env.PGUSER)
    put("dbname", env.PGDATABASE)
    put("sslmode", env.PGSSLMODE)
    put("sslrootcert", env.PGSSLROOTCERT)
    put("sslcert", env.PGSSLCERT)
    put("sslkey", env.PGSSLKEY)
    put("application_name", env.PGAPPNAME)
    put("connect_timeout", env.PGCONNECT_TIMEOUT)
    return configFromValues(values, Option.isSome(env.PGPASSWORD) ? { password: env.PGPASSWORD.value } : {})
  })
)

/** Reads a connection URL (a secret: it may hold the password) from the variable `name`, e.g. DATABASE_URL. */
export const urlConfig = (name = "DATABASE_URL"): Config.Config<ConnectionConfig> =>
  Config.Redacted(name).pipe(
    Config.mapEffect((url) =>
      Effect.suspend(() => {
        const result = fromUrl(Redacted.value(url))
        return Result.isSuccess(result)
          ? Effect.succeed(result.success)
          : Effect.fail(sourceError(`${name}: ${result.failure.message}`))
      })
    )
  )

const configFromValues = (
  values: ReadonlyMap<string, string>,
  defaults: Partial<ConnectionConfig>
): Effect.Effect<ConnectionConfig, Config.ConfigError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(fromValues(values, defaults))
    } catch (e) {
      return Effect.fail(sourceError(e instanceof Error ? e.message : String(e)))
    }
  })

const sourceError = (message: string): Config.ConfigError =>
  new Config.ConfigError(new ConfigProvider.SourceError({ message }))
