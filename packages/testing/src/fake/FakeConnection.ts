/**
 * A `Connection` (from @pgcdc/connection) to the fake server, for tests of code that needs one: the connection
 * settings of the fake's loopback TCP listener, and a Layer that opens a walsender session there.
 *
 * It goes through TCP because `Connection` dials `node:net` itself and has no seam for a custom transport yet; with
 * one (a `ConnectionConfig` field taking an Effect `Socket`, or a `Transport` factory), this layer would use
 * `FakePostgres.socket` instead and need no port.
 */
import { Connection, type ConnectionConfig, type ConnectionError } from "@pgcdc/connection"
import { Layer, Redacted } from "effect"
import { FakePostgres, type FakePostgresShape } from "./FakePostgres.ts"

/** Settings that reach the fake's loopback listener (sslmode disable: the fake declines TLS). */
export const connectionConfig = (
  fake: FakePostgresShape,
  overrides: Partial<ConnectionConfig> = {}
): ConnectionConfig => ({
  host: fake.host,
  port: fake.port,
  user: fake.config.user,
  password: Redacted.make(fake.config.password),
  database: fake.config.database,
  replication: "logical",
  sslmode: "disable",
  ...overrides
})

/** A walsender `Connection` to the `FakePostgres` in context, open for the layer's lifetime. */
export const layerConnection = (
  overrides: Partial<ConnectionConfig> = {}
): Layer.Layer<Connection, ConnectionError, FakePostgres> =>
  Layer.effect(
    Connection,
    FakePostgres.use((fake) => Connection.make(connectionConfig(fake, overrides)))
  )
