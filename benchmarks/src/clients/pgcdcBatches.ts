/**
 * Client process: pgcdc's `Replication` service consumed through `batches`, the same messages as `stream` as
 * non-empty arrays (each delivered whole), with a plain loop over each array and one `commit` per array: the last
 * commit LSN in it, as an application that acknowledges in batches would. Counting and the end marker are the same
 * as in pgcdcStream.ts; what it shows is the cost of one pull and one Effect per batch instead of per message.
 *
 * Measures from the moment `Replication.make` returns to the end marker. It does not decode rows into typed values
 * (pgcdcTyped.ts does).
 *
 * Its variant argument (after the config) makes it a consumer that reads row values, for the lazy-values comparison:
 * `eager-key`, `lazy-key` (the `id` column of each new row), `eager-all`, `lazy-all` (every column), where `lazy-*`
 * runs the service with `values: "lazy"`. Without one it reads no values (the table name only).
 */
import type { Lsn } from "@pgcdc/protocol"
import { Connector } from "@pgcdc/connection"
import { Replication, type ReplicationError, type Row, WalMessage } from "@pgcdc/replication"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { finish, Meter, readConfig } from "../ChildProtocol.ts"
import { runClient, walsenderConfig } from "./pgcdcSession.ts"

class EndMarker extends Data.TaggedError("EndMarker")<{}> {}

const config = readConfig()
const variant = process.argv[3] ?? "none"
const lazy = variant.startsWith("lazy-")
const reads = variant.endsWith("-key") ? "key" : variant.endsWith("-all") ? "all" : "none"
const meter = new Meter()
let changes = 0
let commits = 0
/** Values read that were not NULL: keeps the reads from being optimised away. */
let seen = 0

const read = (row: Row): void => {
  if (reads === "key") {
    if (row.id !== null) seen++
  } else if (reads === "all") {
    for (const name in row) if (row[name] !== null) seen++
  }
}

const program = Effect.gen(function* () {
  const replication = yield* Replication.make({
    slot: config.slot,
    publications: [config.publication],
    protoVersion: 1,
    values: lazy ? "lazy" : "eager"
  })
  meter.start()
  yield* Stream.runForEach(replication.batches, (batch): Effect.Effect<void, ReplicationError | EndMarker> => {
    let last: Lsn.Lsn | undefined
    for (const message of batch) {
      switch (message._tag) {
        case "Insert":
          if (message.table.name === config.endTable) {
            // What this batch committed before the marker is still acknowledged, as in the per-message client.
            const end = Effect.fail(new EndMarker())
            return last === undefined ? end : Effect.andThen(replication.commit(last), end)
          }
          if (message.table.name === config.dataTable) {
            changes++
            read(message.new)
          }
          break
        case "Update":
          if (message.table.name === config.dataTable) {
            changes++
            read(message.new)
          }
          break
        case "Delete":
          if (message.table.name === config.dataTable) changes++
          break
        case "Commit":
          commits++
          last = WalMessage.lsnToConfirm(message)
          break
        default:
          break
      }
    }
    return last === undefined ? Effect.void : replication.commit(last)
  }).pipe(
    Effect.catchTag("EndMarker", () =>
      Effect.promise(() => {
        if (reads !== "none" && seen === 0) throw new Error("the consumer read no value")
        return finish(meter.stop(changes, commits))
      })
    )
  )
}).pipe(Effect.scoped, Effect.provide(Connector.layer(walsenderConfig(config))))

await runClient(program)
