/**
 * Variant (b) of the cluster benchmark: one @pgcdc/cluster runner (the driver starts three) with a SlotConsumer for
 * each of the four slots, pgcdc's default sharding timings, and the same consumer function and Replication options as
 * the single-slot processes (DrainProtocol.ts). Tells the driver when its runner layer is built ("Up").
 */
import { Runner, SlotConsumer } from "@pgcdc/cluster"
import { Connector } from "@pgcdc/connection"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { consumeSlot, failChild, readDrainConfig, send } from "../DrainProtocol.ts"
import { walsender } from "./walsender.ts"

const config = readDrainConfig()
const cluster = config.cluster
if (cluster === undefined) throw new Error("clusterRunner.ts needs the cluster settings")

const runner = Runner.layer({
  runnerAddress: { host: "127.0.0.1", port: cluster.port },
  storageUrl: Redacted.make(cluster.storageUrl),
  tablePrefix: cluster.tablePrefix
})

const consumers = Layer.mergeAll(
  Layer.empty,
  // Each slot's Connector to its own database (the same one for all in the "tables" layout).
  ...config.slots.map(({ slot, publication, database }) =>
    SlotConsumer.layer({
      slot,
      publications: [publication],
      replication: { flushDelay: Duration.millis(config.flushDelayMs) },
      consume: ({ replication }) => consumeSlot(replication, slot, config)
    }).pipe(Layer.provide(Connector.layer(walsender(config, database, `cb ${slot} on ${cluster.port}`))))
  )
)

const program = Effect.gen(function* () {
  yield* Layer.build(consumers.pipe(Layer.provideMerge(runner)))
  send({ _tag: "Up" })
  return yield* Effect.never
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  () => failChild(new Error("the runner ended")),
  (error: unknown) => failChild(error)
)
