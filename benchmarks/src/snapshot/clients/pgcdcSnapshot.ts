/**
 * Client process: pgcdc's initial snapshot through the public API: `Replication.make` with `snapshot: "initial_only"`
 * and the driver's `snapshotSessions` (default `pagesPerChunk`), consumed by a plain function per message that
 * touches every value of every `Read` row (each row is decoded losslessly, as the service hands it out): from
 * `replication.stream` one message at a time, or from `replication.batches` with a loop over each array.
 *
 * Measures from just before `Replication.make` (connecting, the temporary slot, importing the exported snapshot and
 * planning are part of taking a snapshot, as connecting is part of psql's run) to the end of the stream, which
 * ends after `SnapshotComplete` in this mode.
 */
import { Connector } from "@pgcdc/connection"
import { Replication, type WalMessage } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { finish, Meter, readConfig } from "../../ChildProtocol.ts"
import { runClient, walsenderConfig } from "../../clients/pgcdcSession.ts"
import type { SnapshotClientConfig } from "./config.ts"

const config = readConfig<SnapshotClientConfig>()
const meter = new Meter()
let rows = 0
let values = 0
let completeRows = -1

/** A plain function per message (no Effect.gen): what BENCHMARKS.md advises for hot paths. */
const touch = (message: WalMessage): Effect.Effect<void> => {
  if (message._tag === "Read") {
    rows++
    const row = message.new
    const columns = message.table.columns
    for (let i = 0; i < columns.length; i++) if (row[columns[i]!.name] !== null) values++
  } else if (message._tag === "SnapshotComplete") {
    completeRows = message.rows
  }
  return Effect.void
}

const program = Effect.gen(function* () {
  meter.start()
  const replication = yield* Replication.make({
    slot: config.slot,
    publications: [config.publication],
    snapshot: "initial_only",
    snapshotSessions: config.sessions
  })
  yield* config.batches
    ? Stream.runForEach(replication.batches, (batch) => {
        for (const message of batch) touch(message)
        return Effect.void
      })
    : Stream.runForEach(replication.stream, touch)
  const result = meter.stop(rows, -1)
  if (completeRows !== rows || values === 0) {
    return yield* Effect.die(new Error(`read ${rows} rows (${values} values), SnapshotComplete said ${completeRows}`))
  }
  yield* Effect.promise(() => finish(result))
}).pipe(Effect.scoped, Effect.provide(Connector.layer(walsenderConfig(config))))

await runClient(program)
