/**
 * Helpers of the sink's integration tests: sessions to the source and target databases of one test server, and
 * polling for a condition the server reaches on its own time.
 */
import { Connection, type ConnectionConfig } from "@pgcdc/connection"
import type { TestDatabaseInfo } from "@pgcdc/testing"
import { Effect, Option, Redacted, Schedule } from "effect"

export const configOf = (db: TestDatabaseInfo, database = db.database): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database,
  sslmode: "disable"
})

/** A regular session to `database` on the test server, for the test's scope. */
export const session = (db: TestDatabaseInfo, database = db.database) => Connection.make(configOf(db, database))

/** Re-evaluates `check` every 50 ms until it gives a value, `limit` times at most. */
export const eventually = <A, E, R>(check: Effect.Effect<Option.Option<A>, E, R>, what: string, limit = 600) =>
  check.pipe(
    Effect.flatMap((o) => (Option.isSome(o) ? Effect.succeed(o.value) : Effect.fail(new Error(`not yet: ${what}`)))),
    Effect.retry({ schedule: Schedule.spaced("50 millis"), times: limit })
  )
