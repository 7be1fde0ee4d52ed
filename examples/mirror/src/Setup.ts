/**
 * The idempotent setup: the table (seeded with rows when empty, so the mirror starts from a table that already has
 * them), its publication, and no slot left from an earlier run: the Map that matched that slot's position died with
 * that process, so the mirror takes a new snapshot (the Replication service's `snapshot: "initial"` creates the slot).
 *
 * It deliberately does not drop the table or the publication (running twice keeps the table's rows).
 */
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { Publication, ReplicationError, ReplicationErrorReason, Slot } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createTable, type Names } from "./MirrorTable.ts"
import { seed } from "./Writer.ts"

/** Table, seed rows and publication, on a regular session. */
export const prepareTable = (conn: ConnectionShape, names: Names, tableSize: number) =>
  Effect.gen(function* () {
    // IF NOT EXISTS would otherwise send a NOTICE on every run after the first.
    yield* conn.query("SET client_min_messages = warning")
    yield* conn.query(createTable(names.table))
    yield* conn.query(seed(names.table, Math.floor(tableSize / 2)))
    yield* Publication.ensure(names.publication, { target: { _tag: "Tables", tables: [names.table] } }).pipe(
      Effect.provideService(Connection, conn)
    )
  })

/**
 * Drops the slot an earlier run left; fails with "SlotActive" when another mirror is streaming from it. Returns
 * whether there was one.
 */
export const resetSlot = (conn: ConnectionShape, names: Names) =>
  Effect.gen(function* () {
    const existing = yield* Slot.inspect(names.slot)
    if (Option.isNone(existing)) return false
    if (existing.value.active) {
      return yield* new ReplicationError({
        reason: new ReplicationErrorReason.SlotActive({
          message: `Replication slot "${names.slot}" is in use by process ${existing.value.activePid}: another mirror is running. Stop it or pick another --name.`,
          pid: existing.value.activePid ?? undefined
        })
      })
    }
    yield* Slot.drop(names.slot, { ifExists: true })
    return true
  }).pipe(Effect.provideService(Connection, conn))
