/**
 * Helpers shared by the integration tests: connection configs for a test server, SQL on a normal session, a
 * Replication service over a fresh walsender session, and waiting for a condition the server reports.
 */
import {
  Connection,
  type ConnectionConfig,
  type ConnectionError,
  type ConnectionShape,
  Connector
} from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import { type TestDatabaseInfo, TestLogger } from "@pgcdc/testing"
import { assert } from "@effect/vitest"
import { Effect, Option, Redacted, Schedule, type Scope, Stream } from "effect"
import { Replication, type ReplicationOptions, type ReplicationShape } from "../../src/Replication.ts"
import type { ReplicationError } from "../../src/ReplicationError.ts"
import type { WalMessage } from "../../src/WalMessage.ts"

export const configOf = (db: TestDatabaseInfo, replication?: "logical"): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database: db.database,
  sslmode: "disable",
  ...(replication !== undefined ? { replication } : {})
})

/** A normal session for SQL; closed with the test's scope. */
export const sqlSession = (db: TestDatabaseInfo) => Connection.make(configOf(db))

/** The single value of a one-row, one-column query. */
export const scalar = (conn: ConnectionShape, sql: string) =>
  Effect.map(conn.query(sql), (results) => results.at(-1)?.rows[0]?.[0] ?? null)

export const lsnOf = (text: string | null): Lsn.Lsn => Lsn.unsafeParse(text ?? "0/0")

/** A Replication service over a new walsender session, for the lifetime of the current scope. */
export const replicate = (
  db: TestDatabaseInfo,
  options: ReplicationOptions
): Effect.Effect<ReplicationShape, ReplicationError | ConnectionError, Scope.Scope> =>
  Replication.make(options).pipe(Effect.provideService(Connector, Connector.make(configOf(db, "logical"))))

/** Pulls messages until (and including) the first one matching `last`. */
export const takeThrough = (
  repl: ReplicationShape,
  last: (m: WalMessage) => boolean
): Effect.Effect<ReadonlyArray<WalMessage>, ReplicationError> =>
  repl.stream.pipe(
    Stream.takeUntil(last),
    Stream.runCollect,
    Effect.map((c) => Array.from(c))
  )

/** Pulls messages through `n` Commit messages. */
export const takeTransactions = (repl: ReplicationShape, n: number) => {
  let seen = 0
  return takeThrough(repl, (m) => m._tag === "Commit" && ++seen === n)
}

/**
 * Re-evaluates `check` until it returns some value: for conditions the server reaches on its own time (a confirmed
 * flush position after a status update). Polls every 50 ms, up to `limit`.
 */
export const eventually = <A, E, R>(
  check: Effect.Effect<Option.Option<A>, E, R>,
  what: string,
  limit = 200
): Effect.Effect<A, E | Error, R> =>
  check.pipe(
    Effect.flatMap((o) => (Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new Error(`not yet: ${what}`)))),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: limit })
  )

export const confirmedFlush = (sql: ConnectionShape, slot: string) =>
  Effect.map(
    scalar(sql, `SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '${slot}'`),
    lsnOf
  )

/** Runs each statement as its own query (a multi-statement query is one implicit transaction). */
export const exec = (conn: ConnectionShape, statements: ReadonlyArray<string>) =>
  Effect.forEach(statements, (s) => conn.query(s), { discard: true })

/**
 * Every warning `logs` kept is a reconnect naming its cause and delay, and there was at least one: for tests whose
 * scenario (a restart, a terminated walsender) must make the service reconnect, and say so.
 */
export const assertReconnectsLogged = (logs: TestLogger.TestLogger) => {
  assert.isAbove(logs.messages("Warn").length, 0, "no reconnect was logged")
  assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
}
