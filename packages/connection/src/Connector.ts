/**
 * The `Connector` service: opens sessions on demand, each for the lifetime of the caller's scope. A service that
 * needs a new session now and then (the Replication service, after every dropped connection) asks the Connector in
 * its context, so every session goes through what the application provided: its configuration, its socket factory,
 * its TLS files, or a wrapper of its own (a test that injects faults, say), never through a copy of a config.
 *
 * It deliberately opens nothing by itself: a layer of it costs no connection until `connect` runs.
 */
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Connection, type ConnectionShape } from "./Connection.ts"
import type { ConnectionConfig } from "./ConnectionConfig.ts"
import { configOrEnv } from "./internal/configOrEnv.ts"
import type { ConnectionError } from "./ConnectionError.ts"

export interface ConnectorShape {
  /** What every session is opened with (a wrapper may change how, not what: `replication` is read from here). */
  readonly config: ConnectionConfig
  /** Opens a new session for the lifetime of the current scope. */
  readonly connect: Effect.Effect<ConnectionShape, ConnectionError, Scope.Scope>
  /**
   * Opens a regular SQL session with the same settings but no `replication` (for work next to the walsender
   * sessions, such as reading a snapshot: a walsender slot would be wasted on it).
   */
  readonly connectSql: Effect.Effect<ConnectionShape, ConnectionError, Scope.Scope>
}

const make = (config: ConnectionConfig): ConnectorShape => {
  const { replication: _, ...sql } = config
  return { config, connect: Connection.make(config), connectSql: Connection.make(sql) }
}

export class Connector extends Context.Service<Connector, ConnectorShape>()("@pgcdc/connection/Connector") {
  /** A Connector that opens sessions with `config`. */
  static readonly make = make

  static readonly layer = (config: ConnectionConfig): Layer.Layer<Connector> => Layer.succeed(Connector, make(config))

  /**
   * Reads the configuration through Effect `Config`: by default the libpq environment variables (`fromEnv` of
   * `@pgcdc/connection/config`).
   */
  static readonly layerConfig = (
    config?: Config.Config<ConnectionConfig>
  ): Layer.Layer<Connector, Config.ConfigError> => Layer.effect(Connector, Effect.map(configOrEnv(config), make))
}
