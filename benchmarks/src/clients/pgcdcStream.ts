/**
 * Client process: pgcdc's `Replication` service (`@pgcdc/replication`) over a `Connection` layer: the
 * `Stream<WalMessage>` with the table resolved and every value decoded losslessly, consumed one message at a time
 * by a plain function returning an Effect, and `commit` of each transaction's commit LSN (the service reports
 * committed positions to the server from its own feedback fiber). The handler is deliberately not an `Effect.gen`
 * generator: one generator per message makes V8 promote garbage (the guidance BENCHMARKS.md gives users).
 *
 * Protocol version 1 like every other client. Measures from the moment `Replication.make` returns (its pre-flight
 * checks are done and its session fiber is about to send START_REPLICATION) to the end marker.
 */
import { Connector } from "@pgcdc/connection"
import { Replication, type ReplicationError, WalMessage } from "@pgcdc/replication"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { finish, Meter, readConfig } from "../ChildProtocol.ts"
import { runClient, walsenderConfig } from "./pgcdcSession.ts"

class EndMarker extends Data.TaggedError("EndMarker")<{}> {}

const config = readConfig()
const meter = new Meter()
let changes = 0
let commits = 0

const program = Effect.gen(function* () {
  const replication = yield* Replication.make({
    slot: config.slot,
    publications: [config.publication],
    protoVersion: 1
  })
  meter.start()
  // A plain function per message (no Effect.gen): a generator per message makes V8 promote what it references.
  yield* Stream.runForEach(replication.stream, (message): Effect.Effect<void, ReplicationError | EndMarker> => {
    switch (message._tag) {
      case "Insert":
        if (message.table.name === config.endTable) return Effect.fail(new EndMarker())
        if (message.table.name === config.dataTable) changes++
        return Effect.void
      case "Update":
      case "Delete":
        if (message.table.name === config.dataTable) changes++
        return Effect.void
      case "Commit":
        commits++
        return replication.commit(WalMessage.lsnToConfirm(message))
      default:
        return Effect.void
    }
  }).pipe(Effect.catchTag("EndMarker", () => Effect.promise(() => finish(meter.stop(changes, commits)))))
}).pipe(Effect.scoped, Effect.provide(Connector.layer(walsenderConfig(config))))

await runClient(program)
