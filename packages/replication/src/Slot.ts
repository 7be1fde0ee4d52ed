/**
 * Replication slot management: create (temporary or permanent; snapshot export/use/nothing; two-phase; failover
 * on 17+), drop, and inspect a slot from `pg_replication_slots` with how many bytes of WAL it holds back.
 *
 * On a logical walsender `Connection` it uses the replication commands (the only way to export or use a snapshot);
 * on a normal session it uses the SQL functions. A temporary slot lives only as long as the session that created
 * it, and PostgreSQL also drops it on any error in that session. It deliberately does not create physical slots.
 */
import { Connection, type CreatedSlot, ReplicationCommands } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { fromConnectionError, ReplicationError, replicationError } from "./ReplicationError.ts"
import { literal, slotName } from "./internal/sqlText.ts"
import { versionText } from "./internal/startOptions.ts"

export interface CreateSlotOptions {
  readonly temporary?: boolean | undefined
  /**
   * Walsender connections only: "export" exports a snapshot for an initial copy (its name is returned), "use" makes
   * the current transaction use it, "nothing" (default) neither.
   */
  readonly snapshot?: "export" | "use" | "nothing" | undefined
  /** Decode prepared transactions at PREPARE (needs START_REPLICATION with twoPhase on PostgreSQL 15+). */
  readonly twoPhase?: boolean | undefined
  /** Synchronise the slot to physical standbys (PostgreSQL 17+). */
  readonly failover?: boolean | undefined
}

export interface SlotInfo {
  readonly slotName: string
  readonly plugin: string | null
  readonly slotType: "logical" | "physical"
  readonly database: string | null
  readonly temporary: boolean
  readonly active: boolean
  readonly activePid: number | null
  readonly restartLsn: Lsn.Lsn | null
  readonly confirmedFlushLsn: Lsn.Lsn | null
  /** "reserved", "extended", "unreserved" or "lost". */
  readonly walStatus: string | null
  /** Bytes of WAL between the server's current position and the slot's confirmed flush position. */
  readonly lagBytes: bigint | null
}

const protocolProblem = (message: string): ReplicationError => replicationError("Protocol", { message })

const lsnOrNull = (text: string | null): Lsn.Lsn | null => {
  if (text === null) return null
  const r = Lsn.parse(text)
  if (Result.isFailure(r)) throw protocolProblem(`pg_replication_slots returned an invalid LSN "${text}"`)
  return r.success
}

const nameOf = (name: string): Effect.Effect<string, ReplicationError> =>
  Effect.try({ try: () => slotName(name), catch: (e) => e as ReplicationError })

export const create = Effect.fn("Slot.create")(function* (name: string, options: CreateSlotOptions = {}) {
  const conn = yield* Connection
  const slot = yield* nameOf(name)
  const context = `Creating replication slot "${slot}"`
  if (options.failover === true && conn.serverVersion < 170000) {
    return yield* replicationError("UnsupportedOption", {
      code: "0A000",
      message: `Failover slots need PostgreSQL 17 or later; this server is ${versionText(conn.serverVersion)}. Drop the failover option.`
    })
  }
  if (conn.config.replication === "logical") {
    return yield* ReplicationCommands.createLogicalSlot(conn, {
      slotName: slot,
      plugin: "pgoutput",
      temporary: options.temporary,
      snapshot: options.snapshot,
      twoPhase: options.twoPhase,
      failover: options.failover
    }).pipe(Effect.mapError((e) => fromConnectionError(e, context)))
  }
  if (options.snapshot !== undefined && options.snapshot !== "nothing") {
    return yield* replicationError("InvalidOption", {
      message: `${context}: snapshot "${options.snapshot}" needs a walsender connection (replication: "logical").`
    })
  }
  const args = [literal(slot), "'pgoutput'", options.temporary === true ? "true" : "false"]
  args.push(options.twoPhase === true ? "true" : "false")
  if (options.failover === true) args.push("true")
  const results = yield* conn
    .query(`SELECT slot_name, lsn::text AS lsn FROM pg_catalog.pg_create_logical_replication_slot(${args.join(", ")})`)
    .pipe(Effect.mapError((e) => fromConnectionError(e, context)))
  const row = results[0]?.rows[0]
  const lsn = row?.[1] ?? null
  const consistentPoint = yield* Effect.try({
    try: () => lsnOrNull(lsn),
    catch: (e) => e as ReplicationError
  })
  if (consistentPoint === null) return yield* protocolProblem(`${context}: the server returned no LSN`)
  return { slotName: slot, consistentPoint, snapshotName: null, outputPlugin: "pgoutput" } satisfies CreatedSlot
})

/** Drops a slot; `wait` waits for an active slot to be released instead of failing with "SlotActive". */
export const drop = Effect.fn("Slot.drop")(function* (
  name: string,
  options?: { readonly wait?: boolean | undefined; readonly ifExists?: boolean | undefined }
) {
  const conn = yield* Connection
  const slot = yield* nameOf(name)
  const context = `Dropping replication slot "${slot}"`
  const run =
    conn.config.replication === "logical"
      ? ReplicationCommands.dropSlot(conn, slot, { wait: options?.wait })
      : conn.query(`SELECT pg_catalog.pg_drop_replication_slot(${literal(slot)})`)
  yield* run.pipe(
    Effect.mapError((e) => fromConnectionError(e, context)),
    Effect.catchIf(
      (e) => options?.ifExists === true && e.reason._tag === "SlotMissing",
      () => Effect.void
    )
  )
})

const columns = [
  "slot_name",
  "plugin",
  "slot_type",
  "database",
  "temporary",
  "active",
  "active_pid",
  "restart_lsn",
  "confirmed_flush_lsn",
  "wal_status",
  "lag_bytes"
] as const

/** The slot's row of `pg_replication_slots`, or none when there is no such slot. */
export const inspect = Effect.fn("Slot.inspect")(function* (name: string) {
  const conn = yield* Connection
  const slot = yield* nameOf(name)
  const results = yield* conn
    .query(
      `SELECT slot_name, plugin, slot_type, database, temporary::text, active::text, active_pid::text,
              restart_lsn::text, confirmed_flush_lsn::text, wal_status,
              CASE WHEN pg_catalog.pg_is_in_recovery() OR confirmed_flush_lsn IS NULL THEN NULL
                   ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::text END AS lag_bytes
         FROM pg_catalog.pg_replication_slots WHERE slot_name = ${literal(slot)}`
    )
    .pipe(Effect.mapError((e) => fromConnectionError(e, `Inspecting replication slot "${slot}"`)))
  const result = results[0]
  const row = result?.rows[0]
  if (result === undefined || row === undefined) return Option.none<SlotInfo>()
  return yield* Effect.try({
    try: (): Option.Option<SlotInfo> => {
      const get = (c: (typeof columns)[number]): string | null => {
        const i = result.fields.findIndex((f) => f.name === c)
        if (i < 0) throw protocolProblem(`pg_replication_slots returned no "${c}" column`)
        return row[i] ?? null
      }
      const lag = get("lag_bytes")
      const pid = get("active_pid")
      return Option.some({
        slotName: get("slot_name") ?? slot,
        plugin: get("plugin"),
        slotType: get("slot_type") === "physical" ? "physical" : "logical",
        database: get("database"),
        temporary: get("temporary") === "true",
        active: get("active") === "true",
        activePid: pid === null ? null : Number(pid),
        restartLsn: lsnOrNull(get("restart_lsn")),
        confirmedFlushLsn: lsnOrNull(get("confirmed_flush_lsn")),
        walStatus: get("wal_status"),
        lagBytes: lag === null ? null : BigInt(lag.replace(/\..*$/, ""))
      })
    },
    catch: (e) => (e instanceof ReplicationError ? e : protocolProblem(String(e)))
  })
})
