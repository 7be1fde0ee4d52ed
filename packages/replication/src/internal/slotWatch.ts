/**
 * The service's watch over its slot from a regular session:
 * - the heartbeat: every `heartbeat`, a non-transactional logical message (`pgcdc.heartbeat`). When the published
 *   tables are idle and the rest of the database is busy, the walsender reads WAL without sending anything, so the
 *   consumer has nothing to commit and the slot would pin all that WAL. The message reaches the stream; the service
 *   hides it and, once everything before it is committed, reports its position (feedbackState.onDecoded), so the slot
 *   advances. Non-transactional because a transactional one would hand the consumer an empty transaction each time,
 *   and pgcdc needs no commit from the consumer for it (tools that advance only on commits do: for them the
 *   non-transactional form does nothing).
 * - the slot's health: every `slotCheckInterval`, its wal_status, safe_wal_size and the WAL it retains, for `status`
 *   and the metrics, with a warning when it nears max_slot_wal_keep_size or has begun to lose WAL. The first reading
 *   is taken at once on the session the service already has open (`first`), so a consumer starts without opening a
 *   second session; the watch's own session opens one interval later.
 *
 * Each run opens a regular session and closes it (a session held open would keep a smart shutdown waiting). Failures
 * are retried at the next tick: the watch never fails the stream (the stream reports a lost slot itself). It
 * deliberately reads nothing of the stream.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type { ReplicationError } from "../ReplicationError.ts"
import { heartbeatPrefix } from "./backfill/watermark.ts"
import { heartbeatsTotal, slotRetainedGauge, slotSafeWalSizeGauge } from "./metrics.ts"
import { literal } from "./sqlText.ts"

export interface SlotHealth {
  /** pg_replication_slots.wal_status: "reserved", "extended", "unreserved" (in danger) or "lost". */
  readonly walStatus: string | undefined
  /** Bytes that can still be written before the slot is in danger; undefined without max_slot_wal_keep_size. */
  readonly safeWalSize: bigint | undefined
  /** Bytes of WAL the slot retains on the server (current WAL position minus restart_lsn). */
  readonly retainedBytes: bigint
  /** max_slot_wal_keep_size in bytes; undefined when unlimited (-1). */
  readonly maxKeepSize: bigint | undefined
  readonly checkedAt: Date
}

/** The health worth a warning (its kind, so it is logged once per kind, and the text), or undefined. */
export const healthWarning = (
  slot: string,
  h: SlotHealth
): { readonly kind: "lost" | "unreserved" | "near"; readonly message: string } | undefined => {
  if (h.walStatus === "lost") {
    return {
      kind: "lost",
      message: `Slot ${slot} has lost WAL it needed (wal_status lost): the stream will fail; recreate the slot and take a snapshot.`
    }
  }
  if (h.walStatus === "unreserved") {
    return {
      kind: "unreserved",
      message: `Slot ${slot} retains more WAL than max_slot_wal_keep_size (wal_status unreserved): it loses WAL at the next checkpoint unless the consumer catches up.`
    }
  }
  if (h.safeWalSize !== undefined && h.maxKeepSize !== undefined && h.safeWalSize * 5n < h.maxKeepSize) {
    return {
      kind: "near",
      message: `Slot ${slot} nears max_slot_wal_keep_size: ${h.safeWalSize} bytes of WAL left before it is in danger (it retains ${h.retainedBytes}).`
    }
  }
  return undefined
}

const healthSql = (slot: string) =>
  `SELECT /* pgcdc:slot-health */ wal_status, safe_wal_size::text, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text, pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text FROM pg_replication_slots WHERE slot_name = ${literal(slot)}`

const readHealth = (conn: ConnectionShape, slot: string) =>
  Effect.map(conn.query(healthSql(slot)), (results): SlotHealth | undefined => {
    const row = results.at(-1)?.rows[0]
    if (row === undefined) return undefined
    const max = row[3] === null || row[3] === undefined ? -1n : BigInt(row[3])
    return {
      walStatus: row[0] ?? undefined,
      safeWalSize: row[1] === null || row[1] === undefined ? undefined : BigInt(row[1]),
      retainedBytes: row[2] === null || row[2] === undefined ? 0n : BigInt(row[2]),
      maxKeepSize: max < 0n ? undefined : max,
      checkedAt: new Date()
    }
  })

export interface SlotWatchOptions {
  readonly slot: string
  /** The session open now, for the first health reading. */
  readonly first: ConnectionShape
  readonly connectSql: Effect.Effect<ConnectionShape, ReplicationError, Scope.Scope>
  readonly heartbeat: Duration.Duration | undefined
  readonly slotCheckInterval: Duration.Duration | undefined
  readonly health: Ref.Ref<SlotHealth | undefined>
}

/**
 * Runs `task` every `every`, each time on a session of its own that closes right after: a session held open would
 * count against max_connections and keep a smart shutdown of the server waiting for it. A failure (the server
 * restarting, say) is retried at the next tick; three in a row are worth a warning, once per streak.
 */
const periodically = <A>(
  what: string,
  every: Duration.Duration,
  connectSql: SlotWatchOptions["connectSql"],
  task: (conn: ConnectionShape) => Effect.Effect<A, unknown>
) => {
  let failures = 0
  const once = Effect.scoped(Effect.flatMap(connectSql, task)).pipe(
    Effect.tap(() =>
      Effect.sync(() => {
        failures = 0
      })
    ),
    Effect.catchCause((cause) => {
      failures++
      return failures === 3
        ? Effect.logWarning(`The slot watch's ${what} failed three times in a row; it goes on trying.`, cause)
        : Effect.logDebug(`The slot watch's ${what} failed; it tries again in ${Duration.format(every)}.`, cause)
    })
  )
  return Effect.asVoid(Effect.repeat(once, Schedule.spaced(every)))
}

/** The watch's fibers, for the service's lifetime; nothing when both are off. */
export const watchSlot = (options: SlotWatchOptions): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function* () {
    if (options.heartbeat !== undefined && Duration.isGreaterThan(options.heartbeat, Duration.zero)) {
      const beat = `SELECT /* pgcdc:heartbeat */ pg_logical_emit_message(false, ${literal(heartbeatPrefix)}, ${literal(options.slot)})::text`
      yield* Effect.forkScoped(
        periodically("heartbeat", options.heartbeat, options.connectSql, (conn) =>
          Effect.andThen(conn.query(beat), Metric.update(heartbeatsTotal, 1))
        )
      )
    }
    const every = options.slotCheckInterval
    if (every !== undefined && Duration.isGreaterThan(every, Duration.zero)) {
      let warned: string | undefined
      const check = (conn: ConnectionShape) =>
        Effect.gen(function* () {
          const health = yield* readHealth(conn, options.slot)
          yield* Ref.set(options.health, health)
          if (health === undefined) return
          yield* Metric.update(slotRetainedGauge, health.retainedBytes)
          yield* Metric.update(slotSafeWalSizeGauge, health.safeWalSize ?? -1n)
          const warning = healthWarning(options.slot, health)
          // Once per condition, not at every check.
          if (warning !== undefined && warning.kind !== warned) yield* Effect.logWarning(warning.message)
          warned = warning?.kind
        })
      yield* check(options.first).pipe(
        Effect.catchCause((cause) =>
          Effect.logDebug("The slot watch's first slot check failed; it tries again.", cause)
        )
      )
      yield* Effect.forkScoped(
        Effect.andThen(Effect.sleep(every), periodically("slot check", every, options.connectSql, check))
      )
    }
  })
