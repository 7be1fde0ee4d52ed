/**
 * The slot of an initial snapshot, in two steps, so that a crash never leaves a slot whose snapshot was not applied:
 * 1. `createTemporarySlot`: a TEMPORARY slot with an exported snapshot, on the walsender session that will stay idle
 *    while the snapshot is read and then stream from it. A crash before step 2 drops it with its session: the next
 *    start finds no slot and takes the snapshot again.
 * 2. `makePermanent`: once the consumer has committed SnapshotComplete, `pg_copy_logical_replication_slot` copies it
 *    into the permanent slot, at the same restart and confirmed positions (PostgreSQL 12+): streaming goes on from the
 *    permanent slot and the temporary one goes away with its session.
 *
 * It deliberately reads no table (snapshotReader.ts does).
 */
import { type ConnectionShape, ReplicationCommands } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import { fromConnectionError, type ReplicationError, replicationError } from "../../ReplicationError.ts"
import { literal } from "../sqlText.ts"

export interface TemporarySlot {
  readonly name: string
  readonly consistentPoint: Lsn.Lsn
  readonly snapshotName: string
}

/** A name for the temporary slot of `slot`: unique enough for two processes racing to take the same snapshot. */
export const temporaryName = (slot: string): string =>
  `${slot.slice(0, 40)}_snap_${Math.floor(Math.random() * 0x1000000)
    .toString(16)
    .padStart(6, "0")}`

export const createTemporarySlot = (
  walsender: ConnectionShape,
  slot: string,
  twoPhase: boolean
): Effect.Effect<TemporarySlot, ReplicationError> =>
  Effect.gen(function* () {
    const name = temporaryName(slot)
    const created = yield* ReplicationCommands.createLogicalSlot(walsender, {
      slotName: name,
      plugin: "pgoutput",
      temporary: true,
      snapshot: "export",
      twoPhase
    }).pipe(Effect.mapError((e) => fromConnectionError(e, "Creating the snapshot's temporary slot")))
    if (created.snapshotName === null) {
      return yield* replicationError("Snapshot", {
        message: `The server created the temporary slot ${name} but exported no snapshot`
      })
    }
    return { name, consistentPoint: created.consistentPoint, snapshotName: created.snapshotName }
  })

/** Copies the temporary slot into the permanent `slot` (on a regular session). */
export const makePermanent = (
  sql: ConnectionShape,
  temporary: string,
  slot: string
): Effect.Effect<void, ReplicationError> =>
  sql.query(`SELECT pg_copy_logical_replication_slot(${literal(temporary)}, ${literal(slot)}, false)`).pipe(
    Effect.asVoid,
    Effect.mapError((e) =>
      e.code === "42710"
        ? replicationError("AlreadyExists", {
            code: e.code,
            message: `Replication slot "${slot}" was created by someone else while this snapshot was read (${e.message}): another process took the same snapshot. Run one consumer per slot.`,
            cause: e
          })
        : e.code === "42704"
          ? replicationError("Snapshot", {
              code: e.code,
              message: `The snapshot's temporary slot ${temporary} is gone (${e.message}): its session ended before the snapshot was confirmed, so slot "${slot}" was not created. Start again: the snapshot is taken again.`,
              cause: e
            })
          : fromConnectionError(e, `Making slot "${slot}" permanent`)
    )
  )
