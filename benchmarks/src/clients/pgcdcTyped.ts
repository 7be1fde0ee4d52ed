/**
 * Client process: pgcdc's typed rows. The `Replication` service's `Stream<WalMessage>`, as in pgcdcStream.ts, with
 * every change of the data table also decoded by an Effect Schema of its row (`Rows.make` from
 * `@pgcdc/replication`), converting to the JavaScript types an application would want: `bigint` id, numeric as a
 * string, timestamptz as a `Date`, jsonb as its parsed value. Commits each transaction's LSN like pgcdcStream.ts.
 *
 * Measures from the moment `Replication.make` returns to the end marker.
 */
import { Connector } from "@pgcdc/connection"
import { Replication, type ReplicationError, WalMessage } from "@pgcdc/replication"
import * as Rows from "@pgcdc/replication/rows"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { finish, Meter, readConfig } from "../ChildProtocol.ts"
import { runClient, walsenderConfig } from "./pgcdcSession.ts"

class EndMarker extends Data.TaggedError("EndMarker")<{}> {}

const { PgSchema } = Rows

const BenchRow = Schema.Struct({
  id: PgSchema.Int8,
  name: Schema.NullOr(Schema.String),
  amount: Schema.NullOr(PgSchema.NumericAsString),
  created: Schema.NullOr(PgSchema.TimestampTzAsDate),
  payload: Schema.NullOr(PgSchema.JsonAsValue)
})

const config = readConfig()
const meter = new Meter()
const rows = Rows.make({ table: config.dataTable, schema: BenchRow })
let changes = 0
let commits = 0

const program = Effect.gen(function* () {
  const replication = yield* Replication.make({
    slot: config.slot,
    publications: [config.publication],
    protoVersion: 1
  })
  meter.start()
  // A plain function per message, as in pgcdcStream.ts: no Effect.gen generator per message.
  yield* Stream.runForEach(
    replication.stream,
    (message): Effect.Effect<void, ReplicationError | Rows.RowDecodeError | EndMarker> => {
      switch (message._tag) {
        case "Insert":
        case "Update":
        case "Delete": {
          if (message.table.name === config.endTable) return Effect.fail(new EndMarker())
          const typed = rows.decode(message)
          if (Result.isFailure(typed)) return Effect.fail(typed.failure)
          if (typed.success !== undefined) changes++
          return Effect.void
        }
        case "Commit":
          commits++
          return replication.commit(WalMessage.lsnToConfirm(message))
        default:
          return Effect.void
      }
    }
  ).pipe(Effect.catchTag("EndMarker", () => Effect.promise(() => finish(meter.stop(changes, commits)))))
}).pipe(Effect.scoped, Effect.provide(Connector.layer(walsenderConfig(config))))

await runClient(program)
