/**
 * The idempotent init step: the table (seeded when empty), the publication, and a fresh slot whose snapshot gives
 * the mirror its starting contents.
 *
 * A mirror that starts from an empty Map needs the table's contents at exactly the slot's starting point, or rows
 * written in between would be lost or applied twice. So the slot is created on the walsender session inside a
 * REPEATABLE READ, READ ONLY transaction with USE_SNAPSHOT, and the table is read in that same transaction: the rows are those
 * visible at the slot's consistent point, and the stream starts right after it.
 *
 * A slot left by an earlier run is dropped and created again: the Map that matched its position died with that
 * process. It deliberately does not drop the table or the publication (running twice keeps the table's rows).
 */
import type { ConnectionShape } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import { Publication, ReplicationError, ReplicationErrorReason, Slot } from "@pgcdc/replication"
import { Connection } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createTable, type Names, readAll, type Rows, sessionSettings } from "./MirrorTable.ts"
import { seed } from "./Writer.ts"

export interface Initialised {
  readonly rows: Rows
  readonly consistentPoint: Lsn.Lsn
  /** Whether a slot from an earlier run was replaced. */
  readonly replacedSlot: boolean
}

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
 * Creates the slot on `walsender` (a logical replication session) and reads the table at the slot's snapshot.
 * Fails with "SlotActive" when another consumer is using a slot of this name.
 */
export const createSlotWithSnapshot = (walsender: ConnectionShape, names: Names) =>
  Effect.gen(function* () {
    const existing = yield* Slot.inspect(names.slot)
    if (Option.isSome(existing)) {
      if (existing.value.active) {
        return yield* new ReplicationError({
          reason: new ReplicationErrorReason.SlotActive({
            message: `Replication slot "${names.slot}" is in use by process ${existing.value.activePid}: another mirror is running. Stop it or pick another --name.`,
            pid: existing.value.activePid ?? undefined
          })
        })
      }
      yield* Slot.drop(names.slot, { ifExists: true })
    }
    yield* walsender.query(sessionSettings)
    yield* walsender.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    const created = yield* Slot.create(names.slot, { snapshot: "use" })
    const rows = yield* readAll(walsender, names.table)
    yield* walsender.query("COMMIT")
    return {
      rows,
      consistentPoint: created.consistentPoint,
      replacedSlot: Option.isSome(existing)
    } satisfies Initialised
  }).pipe(Effect.provideService(Connection, walsender))
