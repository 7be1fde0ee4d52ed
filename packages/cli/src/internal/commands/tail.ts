/**
 * `pgcdc tail`: streams a logical replication slot and prints every decoded message as one JSON line (like
 * pg_recvlogical, but decoded by pgcdc), committing each message's position once its line is written.
 *
 * That order is the at-least-once contract: a line is written before its position is confirmed, so a crash loses
 * nothing; after a restart the server may send again what was written but not yet confirmed (at most the transaction
 * in flight). With `--end` it stops by itself after the last transaction that commits at or before it (or once the
 * server is idle past it); otherwise it runs until interrupted, and then reports its last position.
 *
 * Everything is checked before anything is created: the flags, wal_level and every publication come first, so
 * `--create-slot` never leaves a slot behind for a run that could not start (a slot holds WAL on the server). A slot
 * it created is dropped again if the stream cannot start. It deliberately creates no publication.
 */
import { Connection, type ConnectionShape, Connector } from "@pgcdc/connection"
import { Lsn, Publication, Replication, Slot, Transactions } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Command, Flag } from "effect/cli"
import { toJsonLine } from "../../JsonLine.ts"
import { handler } from "../../Main.ts"
import * as Connect from "../connect.ts"
import { CommandError } from "../failure.ts"
import { Json } from "../globalFlags.ts"
import * as Inputs from "../inputs.ts"
import * as Output from "../output.ts"
import { scalar } from "../sql.ts"
import { publicationFlag, slotFlag, switchFlag } from "./sharedFlags.ts"

const flags = {
  slot: slotFlag,
  publication: publicationFlag,
  start: Flag.String("start").pipe(
    Flag.withAlias("I"),
    Flag.withMetavar("X/Y"),
    Flag.withDescription("Start at this LSN instead of the slot's confirmed position"),
    Flag.optional
  ),
  end: Flag.String("end").pipe(
    Flag.withAlias("E"),
    Flag.withMetavar("X/Y"),
    Flag.withDescription("Stop after the last transaction committing at or before this LSN"),
    Flag.optional
  ),
  createSlot: switchFlag("create-slot", "Create the slot if it does not exist (after every other check passed)"),
  messages: switchFlag("messages", "Also print logical decoding messages (pg_logical_emit_message)")
}

/** wal_level and the publications, on the session the stream will start from. */
export const requireStreamable = (conn: ConnectionShape, publications: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const level = yield* scalar(conn, "SHOW wal_level")
    if (level !== "logical") {
      return yield* new CommandError({
        message: `The server runs with wal_level = ${level ?? "unknown"}; logical replication needs wal_level = logical: ALTER SYSTEM SET wal_level = logical, then restart the server`
      })
    }
    for (const name of publications) {
      if (!(yield* Publication.exists(name).pipe(Effect.provideService(Connection, conn)))) {
        return yield* new CommandError({
          message: `Publication "${name}" does not exist in database "${conn.config.database}": create it first (pgcdc publication create ${name} --table ...)`
        })
      }
    }
  })

const summaryLine = (json: boolean, lines: number, committed: Lsn.Lsn) =>
  json
    ? JSON.stringify({ lines, committed: Lsn.format(committed) })
    : `pgcdc tail: ${lines} lines, committed ${Lsn.format(committed)}`

export const tail = Command.make(
  "tail",
  flags,
  handler("pgcdc tail", (f) =>
    Effect.gen(function* () {
      const slot = yield* Inputs.slotName(f.slot, "--slot")
      const publications = yield* Inputs.nonEmptyList([f.publication], "--publication", "publication")
      const startLsn = yield* Inputs.optionalLsn(f.start, "--start")
      const endLsn = yield* Inputs.optionalLsn(f.end, "--end")
      const json = yield* Json
      const config = yield* Connect.config
      const conn = yield* Connect.walsender(config)
      yield* requireStreamable(conn, publications)
      const created =
        f.createSlot && Option.isNone(yield* Slot.inspect(slot).pipe(Effect.provideService(Connection, conn)))
      if (created) yield* Slot.create(slot).pipe(Effect.provideService(Connection, conn))
      const replication = yield* Replication.make({
        slot,
        publications,
        startLsn,
        endLsn,
        messages: f.messages,
        statusInterval: "1 second"
      }).pipe(
        Effect.provideService(Connector, Connector.make(conn.config)),
        // The stream could not start: a slot made for it would only hold WAL.
        Effect.onError(() =>
          created
            ? Effect.ignore(Slot.drop(slot, { ifExists: true }).pipe(Effect.provideService(Connection, conn)))
            : Effect.void
        )
      )
      let lines = 0
      // Closing the scope sends a last status update with the committed position; the summary follows it.
      yield* Effect.addFinalizer((exit) =>
        Exit.isSuccess(exit) || Exit.hasInterrupts(exit)
          ? Effect.flatMap(replication.status, (s) => Output.err(summaryLine(json, lines, s.committed)))
          : Effect.void
      )
      yield* replication.stream.pipe(
        Stream.runForEach((message) =>
          Effect.uninterruptible(
            Effect.andThen(Output.out(toJsonLine(message)), () => {
              lines++
              return Transactions.acknowledge(replication, message)
            })
          )
        )
      )
    }).pipe(Effect.scoped)
  )
).pipe(
  Command.withDescription(
    "Prints the changes of a logical replication slot as JSON lines, decoded, committing each line's position once it is written"
  )
)
