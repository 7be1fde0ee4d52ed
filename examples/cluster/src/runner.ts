/**
 * One runner of the example cluster: everything through Effect Config (environment variables), as a deployment
 * would have it. PGCDC_RUNNER_HOST/PORT and PGCDC_CLUSTER_STORAGE_URL place the runner (ClusterOptions.config);
 * SOURCE_URL is the replicated database, TARGET_URL where the sink writes, SLOTS the comma-separated slots (each with
 * the publication p_<slot>). Every runner registers every slot; each slot runs on one of them.
 *
 * SIGTERM or Ctrl-C is a graceful leave: the slots' consumers stop, send their last status update, and move.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Runner, SlotConsumer } from "@pgcdc/cluster"
import { Connector } from "@pgcdc/connection"
import * as EnvConfig from "@pgcdc/connection/config"
import { PostgresSink } from "@pgcdc/sink-postgres"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

const Slots = Layer.unwrap(
  Effect.gen(function* () {
    const slots = (yield* Config.String("SLOTS")).split(",").filter((s) => s.length > 0)
    const target = yield* EnvConfig.urlConfig("TARGET_URL")
    const layers = slots.map((slot) =>
      SlotConsumer.layer({ slot, publications: [`p_${slot}`], consume: PostgresSink.consumer({ target }) })
    )
    return Layer.mergeAll(Layer.empty, ...layers)
  })
)

const Source = Layer.unwrap(
  Effect.map(EnvConfig.urlConfig("SOURCE_URL"), (config) => Connector.layer({ ...config, replication: "logical" }))
)

Slots.pipe(Layer.provide(Runner.layerConfig()), Layer.provide(Source), Layer.launch, NodeRuntime.runMain)
