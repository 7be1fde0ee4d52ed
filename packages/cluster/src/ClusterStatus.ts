/**
 * Where each slot runs, as the cluster's storage says: the runners effect/cluster lists (address, health, heartbeat
 * age) and pgcdc's slot rows (runner, since when, moves, lag, committed position, heartbeat age). A slot whose row's
 * runner is no longer a live member is shown as such: its consumer is between owners. Any runner can compute it;
 * `render` makes it a few lines of text.
 *
 * It reads, never writes, and does not ask the runners themselves (a runner that lost the storage is shown stale).
 */
import * as Effect from "effect/Effect"
import type * as SqlClient from "effect/sql/SqlClient"
import { defaultPrefix } from "./ClusterOptions.ts"
import { ClusterRunner } from "./Runner.ts"

export interface RunnerStatus {
  readonly address: string
  readonly healthy: boolean
  readonly heartbeatAgeSeconds: number
}

export interface SlotStatus {
  readonly slot: string
  readonly runner: string
  /** The row's runner is a registered runner with a recent heartbeat. */
  readonly runnerAlive: boolean
  readonly startedAt: string
  readonly moves: number
  readonly lagBytes: bigint | undefined
  readonly committedLsn: string | undefined
  readonly heartbeatAgeSeconds: number
}

export interface ClusterView {
  readonly runners: ReadonlyArray<RunnerStatus>
  readonly slots: ReadonlyArray<SlotStatus>
}

/** How old a runner's heartbeat may be and it still counts as a member (pgcdc's shardLockExpiration). */
const liveWithinSeconds = 10

/** The view from a session to the storage database (any process that reaches it, a runner or not). */
export const query = (storage: SqlClient.SqlClient, tablePrefix = defaultPrefix) =>
  Effect.gen(function* () {
    const sql = storage.withoutTransforms()
    const runners = yield* sql.unsafe<{ address: string; healthy: boolean; age: number }>(
      `SELECT address, healthy, EXTRACT(EPOCH FROM now() - last_heartbeat)::float8 AS age FROM ${tablePrefix}_runners ORDER BY address`
    )
    const slots = yield* sql.unsafe<{
      slot: string
      runner: string
      started_at: string
      moves: number
      lag_bytes: string | null
      committed_lsn: string | null
      age: number
    }>(
      `SELECT slot, runner, started_at::text, moves, lag_bytes::text, committed_lsn,
              EXTRACT(EPOCH FROM now() - heartbeat_at)::float8 AS age FROM ${tablePrefix}_slots ORDER BY slot`
    )
    const alive = new Set(runners.filter((r) => r.age <= liveWithinSeconds).map((r) => r.address))
    return {
      runners: runners.map((r) => ({ address: r.address, healthy: r.healthy, heartbeatAgeSeconds: r.age })),
      slots: slots.map((s) => ({
        slot: s.slot,
        runner: s.runner,
        runnerAlive: alive.has(s.runner),
        startedAt: s.started_at,
        moves: s.moves,
        lagBytes: s.lag_bytes === null ? undefined : BigInt(s.lag_bytes),
        committedLsn: s.committed_lsn ?? undefined,
        heartbeatAgeSeconds: s.age
      }))
    } satisfies ClusterView
  })

/** The view, on a runner. */
export const view: Effect.Effect<ClusterView, unknown, ClusterRunner> = Effect.gen(function* () {
  const runner = yield* ClusterRunner
  return yield* query(runner.storage, runner.tablePrefix)
})

/** The view as text: one line per runner, then one per slot. */
export const render = (v: ClusterView): string =>
  [
    ...v.runners.map(
      (r) =>
        `runner ${r.address}  ${r.healthy ? "healthy" : "unhealthy"}  heartbeat ${r.heartbeatAgeSeconds.toFixed(1)}s ago`
    ),
    ...v.slots.map(
      (s) =>
        `slot ${s.slot}  on ${s.runner}${s.runnerAlive ? "" : " (not a live runner: moving)"}  moves ${s.moves}  ` +
        `lag ${s.lagBytes === undefined ? "?" : `${s.lagBytes} B`}  committed ${s.committedLsn ?? "?"}`
    )
  ].join("\n")
