/**
 * Client process: pgcdc's own stack below the Replication service — `@pgcdc/connection` (socket, SCRAM, CopyBoth
 * stream of CopyData payloads), `@pgcdc/protocol` (XLogData, keepalive, status update) and `@pgcdc/replication`'s
 * `WalDecoder` (pgoutput message, relation cache, every value decoded losslessly into a row by column name).
 *
 * It does what the Replication service does per message, without the service's fibers: each transaction's commit
 * LSN is recorded as the flush position (`lsnToConfirm`) and reported when the server asks for a reply. Measures from
 * just before START_REPLICATION is sent to the end marker.
 */
import { Connection, type ConnectionError } from "@pgcdc/connection"
import { encodeReplicationToBytes, Lsn, Timestamp, unsafeDecodeReplication } from "@pgcdc/protocol"
import { WalDecoder } from "@pgcdc/replication/internal/decoder/WalDecoder"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { finish, Meter, readConfig } from "../ChildProtocol.ts"
import { runClient, walsenderConfig } from "./pgcdcSession.ts"

/** The type byte of an XLogData ('w'); anything else is a keepalive (or an error the decoder reports). */
const XLOG_DATA = 0x77

class EndMarker extends Data.TaggedError("EndMarker")<{}> {}

const config = readConfig()
const meter = new Meter()
let changes = 0
let commits = 0
let flushed = Lsn.zero
let received = Lsn.zero

const clientTime = () => Timestamp.fromEpochMillis(Date.now())

const program = Effect.gen(function* () {
  const conn = yield* Connection.make(walsenderConfig(config))
  const decoder = new WalDecoder({ protoVersion: 1 })
  meter.start()
  const copy = yield* conn.copyBoth(
    `START_REPLICATION SLOT "${config.slot}" LOGICAL 0/0 (proto_version '1', publication_names '${config.publication}')`
  )
  const reply = () =>
    copy.send(
      encodeReplicationToBytes({
        _tag: "StandbyStatusUpdate",
        written: received,
        flushed,
        applied: flushed,
        clientTime: clientTime(),
        replyRequested: false
      })
    )
  yield* Stream.runForEachArray(copy.messages, (payloads): Effect.Effect<void, ConnectionError | EndMarker> => {
    let replyNeeded = false
    for (const payload of payloads) {
      if (payload[0] !== XLOG_DATA) {
        const m = unsafeDecodeReplication(payload)
        if (m._tag === "PrimaryKeepalive" && m.replyRequested) replyNeeded = true
        continue
      }
      // The XLogData header and its message in one call, as the Replication service decodes them.
      const message = decoder.unsafeDecodeFrame(payload, 0, payload.length)
      received = Lsn.max(received, message.walEnd)
      switch (message._tag) {
        case "Insert":
          if (message.table.name === config.endTable) return Effect.fail(new EndMarker())
          if (message.table.name === config.dataTable) changes++
          break
        case "Update":
        case "Delete":
          if (message.table.name === config.dataTable) changes++
          break
        case "Commit":
          commits++
          // What WalMessage.lsnToConfirm gives for a Commit, without loading the package's index (this client measures
          // the decoding core alone).
          flushed = Lsn.max(flushed, Lsn.max(message.endLsn, message.walStart))
          break
        default:
          break
      }
    }
    return replyNeeded ? reply() : Effect.void
  }).pipe(Effect.catchTag("EndMarker", () => Effect.promise(() => finish(meter.stop(changes, commits)))))
})

await runClient(Effect.scoped(program))
