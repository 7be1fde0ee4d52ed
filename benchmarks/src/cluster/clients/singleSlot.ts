/**
 * Variant (a) of the cluster benchmark: one plain @pgcdc/replication consumer, one slot, one process (the driver
 * starts four). The same consumer function and Replication options as the cluster's runners (DrainProtocol.ts).
 */
import { Connector } from "@pgcdc/connection"
import { Replication } from "@pgcdc/replication"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { consumeSlot, failChild, readDrainConfig, send } from "../DrainProtocol.ts"
import { walsender } from "./walsender.ts"

const config = readDrainConfig()
const { slot, publication, database } = config.slots[0]!

const program = Effect.gen(function* () {
  send({ _tag: "Up" })
  const replication = yield* Replication.make({
    slot,
    publications: [publication],
    flushDelay: Duration.millis(config.flushDelayMs)
  })
  yield* consumeSlot(replication, slot, config)
}).pipe(Effect.scoped, Effect.provide(Connector.layer(walsender(config, database, `cb ${slot}`))))

Effect.runPromise(program).then(
  () => failChild(new Error("the stream ended")),
  (error: unknown) => failChild(error)
)
