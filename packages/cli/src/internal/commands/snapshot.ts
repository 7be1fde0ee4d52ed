/**
 * `pgcdc snapshot`: every row of the published tables as of one consistent point, as JSON lines (the library's
 * `snapshot: "initial_only"`, see docs/snapshots.md): `SnapshotBegin`, the table's `Read` rows and `SnapshotEnd` per
 * table (tables read in parallel may interleave), then `SnapshotComplete` with the consistent point. Values are
 * decoded exactly as the stream decodes them, so a snapshot and a `tail` from its consistent point fit together.
 *
 * It keeps no slot: the temporary slot that exports the snapshot goes away with the command's session.
 */
import { Connector } from "@pgcdc/connection"
import { Lsn, Replication } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { Command, Flag } from "effect/cli"
import { toJsonLine } from "../../JsonLine.ts"
import { handler } from "../../Main.ts"
import * as Connect from "../connect.ts"
import { Json } from "../globalFlags.ts"
import * as Inputs from "../inputs.ts"
import * as Output from "../output.ts"
import { publicationFlag } from "./sharedFlags.ts"

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

export const snapshot = Command.make(
  "snapshot",
  {
    publication: publicationFlag,
    sessions: Flag.Int("sessions").pipe(
      Flag.withDescription("Sessions reading tables in parallel (default 2)"),
      Flag.withDefault(2)
    ),
    slot: Flag.String("slot").pipe(
      Flag.withAlias("S"),
      Flag.withDescription("Base name of the temporary slot that exports the snapshot (default pgcdc_snapshot)"),
      Flag.withDefault("pgcdc_snapshot")
    )
  },
  handler("pgcdc snapshot", (f) =>
    Effect.gen(function* () {
      const publications = yield* Inputs.nonEmptyList([f.publication], "--publication", "publication")
      const sessions = yield* Inputs.positive(f.sessions, "--sessions")
      const slot = yield* Inputs.slotName(f.slot, "--slot")
      const json = yield* Json
      const config = yield* Connect.config
      const replication = yield* Replication.make({
        slot,
        publications,
        snapshot: "initial_only",
        snapshotSessions: sessions
      }).pipe(Effect.provideService(Connector, Connector.make({ ...config, replication: "logical" })))
      let summary = { tables: 0, rows: 0, consistentPoint: Lsn.zero }
      yield* replication.stream.pipe(
        Stream.runForEach((message) => {
          if (message._tag === "SnapshotComplete") {
            summary = { tables: message.tables, rows: message.rows, consistentPoint: message.consistentPoint }
          }
          return Output.out(toJsonLine(message))
        })
      )
      const point = Lsn.format(summary.consistentPoint)
      yield* Output.err(
        json
          ? JSON.stringify({ tables: summary.tables, rows: summary.rows, consistentPoint: point })
          : `pgcdc snapshot: ${plural(summary.rows, "row")} of ${plural(summary.tables, "table")} as of ${point}`
      )
    }).pipe(Effect.scoped)
  )
).pipe(
  Command.withDescription(
    "Prints every row of the published tables as of one consistent point, as JSON lines; keeps no slot"
  )
)
