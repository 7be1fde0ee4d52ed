/**
 * A `Connection` (from @pgcdc/connection) to the fake server, for tests of code that needs one. By default it runs
 * over the fake's in-memory socket (`ConnectionConfig.socket`): no port, and every byte moves under the caller's
 * clock, so a test under `TestClock` stays deterministic. The loopback TCP variant (`tcpConnectionConfig`,
 * `layerTcpConnection`) goes through the fake's listener, for tests that want the real socket code path.
 *
 * It deliberately adds nothing to what the fake answers: the settings below are the ones any client would use.
 */
import { Connection, type ConnectionConfig, type ConnectionError, Connector } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { FakePostgres, type FakePostgresShape } from "./FakePostgres.ts"

const base = (fake: FakePostgresShape): ConnectionConfig => ({
  host: fake.host,
  port: fake.port,
  user: fake.config.user,
  password: Redacted.make(fake.config.password),
  database: fake.config.database,
  replication: "logical",
  // The fake speaks TLS only with its `tls` option (and never in memory): pass sslmode to use it.
  sslmode: "disable"
})

/** Settings for a walsender session over the fake's in-memory socket (each session opens a new connection). */
export const connectionConfig = (
  fake: FakePostgresShape,
  overrides: Partial<ConnectionConfig> = {}
): ConnectionConfig => ({ ...base(fake), host: "fake-postgres", port: 5432, socket: fake.socket, ...overrides })

/** Settings that reach the fake's loopback TCP listener (not available with `listen: false`). */
export const tcpConnectionConfig = (
  fake: FakePostgresShape,
  overrides: Partial<ConnectionConfig> = {}
): ConnectionConfig => ({ ...base(fake), ...overrides })

/** A walsender `Connection` to the `FakePostgres` in context over its in-memory socket, open for the layer's lifetime. */
export const layerConnection = (
  overrides: Partial<ConnectionConfig> = {}
): Layer.Layer<Connection, ConnectionError, FakePostgres> =>
  Layer.effect(
    Connection,
    FakePostgres.use((fake) => Connection.make(connectionConfig(fake, overrides)))
  )

/** The same over the fake's loopback TCP listener. */
export const layerTcpConnection = (
  overrides: Partial<ConnectionConfig> = {}
): Layer.Layer<Connection, ConnectionError, FakePostgres> =>
  Layer.effect(
    Connection,
    FakePostgres.use((fake) => Connection.make(tcpConnectionConfig(fake, overrides)))
  )

const connectorOf =
  (config: (fake: FakePostgresShape, overrides: Partial<ConnectionConfig>) => ConnectionConfig) =>
  (overrides: Partial<ConnectionConfig> = {}): Layer.Layer<Connector, never, FakePostgres> =>
    Layer.effect(
      Connector,
      FakePostgres.use((fake) => Effect.succeed(Connector.make(config(fake, overrides))))
    )

/**
 * A walsender `Connector` to the `FakePostgres` in context over its in-memory socket: what `Replication.layer` needs
 * (each session, and each reconnect, is a new connection to the fake).
 */
export const layerConnector = connectorOf(connectionConfig)

/** The same over the fake's loopback TCP listener. */
export const layerTcpConnector = connectorOf(tcpConnectionConfig)
