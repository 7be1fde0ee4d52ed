/**
 * pgcdc's slot status table in the cluster's storage database, `<prefix>_slots`: one row per slot, written only by
 * the runner that runs the slot's consumer (the singleton's owner is the row's one writer): which runner, since when,
 * how many times the slot changed runner, and, every few seconds, a heartbeat with the consumer's lag and committed
 * position. The status view reads it with the cluster's own runners table.
 *
 * It does not decide anything: ownership is effect/cluster's (a shard lock), and the slot's position is the
 * server's. A row can be stale (its runner died): the heartbeat's age says so.
 */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"

export const ensure = (prefix: string) =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* sql.withTransaction(
      Effect.andThen(
        sql.unsafe(`SELECT pg_advisory_xact_lock(hashtext('${prefix}_slots'))`),
        sql.unsafe(`CREATE TABLE IF NOT EXISTS ${prefix}_slots (
          slot text PRIMARY KEY,
          runner text NOT NULL,
          started_at timestamptz NOT NULL,
          heartbeat_at timestamptz NOT NULL,
          moves integer NOT NULL DEFAULT 0,
          lag_bytes bigint,
          committed_lsn text
        )`)
      )
    )
  })

/** This runner starts the slot's consumer: a move when another runner had it. Returns the moves so far. */
export const started = (prefix: string, slot: string, runner: string) =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const rows = yield* sql.unsafe<{ readonly moves: number }>(
      `INSERT INTO ${prefix}_slots AS s (slot, runner, started_at, heartbeat_at) VALUES ($1, $2, now(), now())
       ON CONFLICT (slot) DO UPDATE SET runner = excluded.runner, started_at = now(), heartbeat_at = now(),
         moves = s.moves + CASE WHEN s.runner = excluded.runner THEN 0 ELSE 1 END
       RETURNING moves`,
      [slot, runner]
    )
    return rows[0]?.moves ?? 0
  })

export const heartbeat = (prefix: string, slot: string, runner: string, lagBytes: bigint, committed: string) =>
  Effect.gen(function* () {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    yield* sql.unsafe(
      `UPDATE ${prefix}_slots SET heartbeat_at = now(), lag_bytes = $3, committed_lsn = $4 WHERE slot = $1 AND runner = $2`,
      [slot, runner, String(lagBytes), committed]
    )
  })
