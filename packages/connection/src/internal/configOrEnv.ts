/**
 * The configuration a `layerConfig` reads: the given `Config`, or the libpq environment variables, whose reader
 * (EnvConfig.ts, with `effect/Config` and `effect/Schema` behind it) is loaded only here, on first use, so that
 * importing `@pgcdc/connection` does not load it.
 */
import type * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import type { ConnectionConfig } from "../ConnectionConfig.ts"

export const configOrEnv = (
  config: Config.Config<ConnectionConfig> | undefined
): Effect.Effect<ConnectionConfig, Config.ConfigError> =>
  config ??
  Effect.flatMap(
    Effect.promise(() => import("../EnvConfig.ts")),
    (m) => m.fromEnv
  )
