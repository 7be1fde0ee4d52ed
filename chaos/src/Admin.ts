/**
 * The harness's own SQL, on a fresh normal session per call, retried while the server is away (restarting, shutting
 * down, starting up): setting the schema up, finding the consumer's walsender, reading the slot and the final table.
 *
 * It is not the writer (Writer.ts keeps its own session and resolves in-doubt commits) and it never opens a
 * replication session.
 */
import { Connection, type ConnectionConfig, type ConnectionError } from "@pgcdc/connection"
import type { TestDatabaseInfo } from "@pgcdc/testing"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"

/** A failure of the harness itself (not a finding of the verifier): setup, a fault that could not be injected. */
export class ChaosError extends Data.TaggedError("ChaosError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

export const configOf = (db: TestDatabaseInfo, applicationName: string): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database: db.database,
  sslmode: "disable",
  applicationName,
  connectTimeout: "5 seconds"
})

export type Rows = ReadonlyArray<ReadonlyArray<string | null>>

/** Runs `sql` once on a new session; the rows of its last statement. */
export const queryOnce = (db: TestDatabaseInfo, sql: string): Effect.Effect<Rows, ConnectionError> =>
  Effect.scoped(
    Effect.flatMap(Connection.make(configOf(db, "chaos-admin")), (conn) =>
      Effect.map(conn.query(sql), (results) => results.at(-1)?.rows ?? [])
    )
  )

/** Runs `sql` on a new session, retrying every 100 ms for up to a minute while the server is away. */
export const query = (db: TestDatabaseInfo, sql: string): Effect.Effect<Rows, ChaosError> =>
  queryOnce(db, sql).pipe(
    // A session opened as the server goes down may never be answered: the timeout gives it up.
    Effect.timeout("10 seconds"),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 600 }),
    Effect.mapError((e) => new ChaosError({ message: `${sql}: ${e.message}`, cause: e }))
  )

/** The one value of a one-row, one-column query (null for no row or SQL NULL). */
export const scalar = (db: TestDatabaseInfo, sql: string): Effect.Effect<string | null, ChaosError> =>
  Effect.map(query(db, sql), (rows) => rows[0]?.[0] ?? null)

/** Polls `check` every `everyMs` until it returns a value, or gives undefined after `limitMs`. */
export const poll = <A, E, R>(
  check: Effect.Effect<A | undefined, E, R>,
  everyMs: number,
  limitMs: number
): Effect.Effect<A | undefined, E, R> =>
  Effect.gen(function* () {
    const until = Date.now() + limitMs
    for (;;) {
      const value = yield* check
      if (value !== undefined || Date.now() >= until) return value
      yield* Effect.sleep(everyMs)
    }
  })
