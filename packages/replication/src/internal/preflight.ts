/**
 * What the service checks before its first session, so that a configuration mistake fails the layer with what to
 * change instead of surfacing later as a failed stream: wal_level, the slot (exists, is a pgoutput logical slot,
 * is not held by another process unless the caller waits for it), and every publication.
 *
 * It deliberately runs only queries: it creates nothing and starts no replication.
 */
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Publication from "../Publication.ts"
import { fromConnectionError, type ReplicationError, replicationError } from "../ReplicationError.ts"
import * as Slot from "../Slot.ts"

/** Debezium's snapshot modes: when to read the tables' current rows before streaming their changes. */
export type SnapshotMode = "never" | "initial" | "initial_only" | "when_needed"

export interface PreflightOptions {
  readonly slot: string
  readonly publications: ReadonlyArray<string>
  /** Whether a slot held by another process is waited for (by the supervisor) rather than an error. */
  readonly waitForSlot: boolean
  readonly snapshot: SnapshotMode
}

/** What the service does: stream from the slot's confirmed position, or take a snapshot first. */
export type Plan = { readonly _tag: "Stream"; readonly start: Lsn.Lsn } | { readonly _tag: "Snapshot" }

/** The error for a slot another process holds: what `Replication` fails with, unless told to wait. */
export const slotActiveError = (slot: string, pid: number | null | undefined): ReplicationError =>
  replicationError("SlotActive", {
    code: "55006",
    pid: pid ?? undefined,
    message: `Replication slot "${slot}" is in use by ${pid === null || pid === undefined ? "another process" : `the process with PID ${pid}`}: another consumer is streaming from it. Stop that consumer, use another slot, or set waitForSlot to take over when it stops.`,
    retryable: false
  })

export const preflight = (conn: ConnectionShape, options: PreflightOptions): Effect.Effect<Plan, ReplicationError> =>
  Effect.gen(function* () {
    const walLevel = yield* conn
      .query("SHOW wal_level")
      .pipe(Effect.mapError((e) => fromConnectionError(e, "Reading wal_level")))
    const level = walLevel[0]?.rows[0]?.[0]
    if (level !== "logical") {
      return yield* replicationError("WalLevel", {
        message: `The server runs with wal_level = ${level ?? "unknown"}; logical replication needs wal_level = logical. Set it in postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart the server.`
      })
    }
    for (const name of options.publications) {
      const exists = yield* Publication.exists(name).pipe(Effect.provideService(Connection, conn))
      if (!exists) {
        return yield* replicationError("PublicationMissing", {
          message: `Publication "${name}" does not exist in database "${conn.config.database}". Create it (Publication.create, or CREATE PUBLICATION "${name}" FOR TABLE ...).`
        })
      }
    }
    const plan = yield* slotPlan(conn, options)
    if (plan._tag === "Snapshot") yield* primaryOnly(conn)
    return plan
  })

/** Whether the slot is there to stream from, per the snapshot mode. */
const slotPlan = (conn: ConnectionShape, options: PreflightOptions): Effect.Effect<Plan, ReplicationError> =>
  Effect.gen(function* () {
    if (options.snapshot === "initial_only") return { _tag: "Snapshot" } as const
    const slot = yield* Slot.inspect(options.slot).pipe(Effect.provideService(Connection, conn))
    if (Option.isNone(slot)) {
      if (options.snapshot !== "never") return { _tag: "Snapshot" } as const
      return yield* replicationError("SlotMissing", {
        message: `Replication slot "${options.slot}" does not exist. Create it first (Slot.create("${options.slot}"), or SELECT pg_create_logical_replication_slot('${options.slot}', 'pgoutput')), or take a snapshot with the snapshot option ("when_needed" creates the slot).`
      })
    }
    if (options.snapshot === "initial") {
      return yield* replicationError("AlreadyExists", {
        message: `Replication slot "${options.slot}" exists already: snapshot "initial" takes the snapshot and creates the slot. Use snapshot "when_needed" to stream from an existing slot (and snapshot only when it is missing or lost), or drop the slot to take the snapshot again.`
      })
    }
    if (slot.value.slotType !== "logical" || slot.value.plugin !== "pgoutput") {
      return yield* replicationError("InvalidOption", {
        message: `Replication slot "${options.slot}" is a ${slot.value.slotType} slot with plugin ${slot.value.plugin ?? "none"}; pgcdc needs a logical slot using pgoutput.`
      })
    }
    if (slot.value.active && !options.waitForSlot) {
      return yield* slotActiveError(options.slot, slot.value.activePid)
    }
    if (options.snapshot === "when_needed" && slot.value.walStatus === "lost") {
      // The WAL after its position is gone: what it would stream has holes. Start over from a snapshot.
      yield* Effect.logWarning(
        `Replication slot "${options.slot}" has lost the WAL it needs (wal_status = lost): dropping it and taking a new snapshot`
      )
      yield* Slot.drop(options.slot, { ifExists: true }).pipe(Effect.provideService(Connection, conn))
      return { _tag: "Snapshot" } as const
    }
    return { _tag: "Stream", start: slot.value.confirmedFlushLsn ?? Lsn.zero } as const
  })

/** A snapshot needs the primary: a standby cannot export one. */
const primaryOnly = (conn: ConnectionShape): Effect.Effect<void, ReplicationError> =>
  Effect.flatMap(
    conn
      .query("SELECT pg_is_in_recovery()::text")
      .pipe(Effect.mapError((e) => fromConnectionError(e, "Checking for a standby"))),
    (results) =>
      results[0]?.rows[0]?.[0] === "true"
        ? Effect.fail(
            replicationError("Snapshot", {
              message:
                'This server is a standby (in recovery): it cannot export the snapshot the initial snapshot needs. Take the snapshot on the primary, or use snapshot "never" with a slot created on the primary.'
            })
          )
        : Effect.void
  )

/**
 * Who holds the slot now (after START_REPLICATION failed with 55006): a SlotActive error naming the PID, or, when
 * the holder is already gone (or cannot be asked), a retryable one.
 */
export const slotHolder = (
  conn: ConnectionShape,
  slot: string,
  failure: ReplicationError
): Effect.Effect<ReplicationError> =>
  Slot.inspect(slot).pipe(
    Effect.provideService(Connection, conn),
    Effect.map((info) => {
      const pid = Option.isSome(info) ? info.value.activePid : null
      return pid === null ? failure : slotActiveError(slot, pid)
    }),
    Effect.orElseSucceed(() => failure)
  )
