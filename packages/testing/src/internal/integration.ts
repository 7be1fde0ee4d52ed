/**
 * Helpers of the sink and cluster integration tests (inside this workspace only): sessions to the databases of one
 * test server, and polling for a condition the server or another process reaches on its own time.
 */
import { Connection, type ConnectionConfig } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type { TestDatabaseInfo } from "../TestDatabase.ts"

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
