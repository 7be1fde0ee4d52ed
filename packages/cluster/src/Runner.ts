/**
 * A cluster runner: joins the effect/cluster cluster whose state lives in the storage database (`ClusterOptions`),
 * and offers `ClusterRunner` (its address, the table prefix, and the storage's SqlClient for pgcdc's slot status
 * table) next to effect/cluster's `Sharding`. Slot consumers (`SlotConsumer.layer`) run on it.
 *
 * Closing the layer (SIGTERM through `NodeRuntime.runMain`) is a graceful leave: the runner's singletons stop first,
 * each slot's consumer sending its last status update as its scope closes, then the runner releases its shard locks,
 * so the next owner starts at the position the last one committed. It does not create the storage database.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { Sharding } from "effect/cluster"
import type * as Config from "effect/Config"
import * as SqlClient from "effect/sql/SqlClient"
import { type ClusterOptions, config as clusterConfig, defaultPrefix } from "./ClusterOptions.ts"
import { clusterLayer } from "./internal/clusterLayer.ts"
import * as SlotTable from "./internal/slotTable.ts"

export interface ClusterRunnerShape {
  /** "host:port", as the other runners reach this one. */
  readonly address: string
  readonly tablePrefix: string
  /** The storage database (pgcdc's slot status table lives there). */
  readonly storage: SqlClient.SqlClient
}

export class ClusterRunner extends Context.Service<ClusterRunner, ClusterRunnerShape>()(
  "@pgcdc/cluster/ClusterRunner"
) {}

/** A runner with these options, for the lifetime of the layer. */
export const layer = (options: ClusterOptions): Layer.Layer<Sharding.Sharding | ClusterRunner, unknown> => {
  const address = `${options.runnerAddress.host}:${options.runnerAddress.port}`
  const prefix = options.tablePrefix ?? defaultPrefix
  const storage = PgClient.layer({ url: options.storageUrl, applicationName: `pgcdc-runner ${address}` })
  const runner = Layer.effect(
    ClusterRunner,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      yield* SlotTable.ensure(prefix)
      return { address, tablePrefix: prefix, storage: sql }
    })
  )
  return Layer.merge(clusterLayer(options), runner).pipe(Layer.provide(storage))
}

/** A runner configured through Effect `Config` (`ClusterOptions.config`: PGCDC_RUNNER_HOST, ...). */
export const layerConfig = (
  config: Config.Config<ClusterOptions> = clusterConfig
): Layer.Layer<Sharding.Sharding | ClusterRunner, unknown> => Layer.unwrap(Effect.map(config, layer))
