/**
 * Client process: the snapshot's COPY drained raw by pgcdc's own connection (`Connection.copyOut`, as
 * packages/connection/bench/copyOut.ts uses it): the CopyData payloads of every row counted, none decoded. The floor
 * under pgcdc's snapshot: what reading the same COPY costs this process before any value is decoded.
 *
 * One regular session with the settings of pgcdc's snapshot sessions; measures from before connecting to the end of
 * the COPY, as psql's run includes its connection.
 */
import { Connection } from "@pgcdc/connection"
import { textSettings } from "@pgcdc/replication/internal/snapshot/snapshotReader"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { finish, Meter, readConfig } from "../../ChildProtocol.ts"
import { runClient, walsenderConfig } from "../../clients/pgcdcSession.ts"
import type { SnapshotClientConfig } from "./config.ts"

const config = readConfig<SnapshotClientConfig>()
const meter = new Meter()
let rows = 0
let bytes = 0

const program = Effect.gen(function* () {
  meter.start()
  const { replication: _, ...sql } = walsenderConfig(config)
  const conn = yield* Connection.make(sql)
  yield* conn.query(textSettings)
  const copy = yield* conn.copyOut(config.copySql)
  yield* Stream.runForEach(copy.frames, (f) =>
    Effect.sync(() => {
      rows += f.buffers.length
      for (let i = 0; i < f.buffers.length; i++) bytes += f.ends[i]! - f.starts[i]!
    })
  )
  const counted = yield* copy.rowCount
  const result = meter.stop(rows, -1)
  if (counted !== rows) return yield* Effect.die(new Error(`read ${rows} rows (${bytes} bytes), COPY said ${counted}`))
  yield* Effect.promise(() => finish(result))
}).pipe(Effect.scoped)

await runClient(program)
