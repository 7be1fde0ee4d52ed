/**
 * The interim demo (until the table-mirror example replaces it): starts an embedded PostgreSQL 18, shows that it is
 * ready for logical replication, and stops it again, removing its data.
 */
import { Effect } from "effect"
import pg from "pg"
import { TestDatabase } from "@pgcdc/testing"

const program = Effect.gen(function* () {
  yield* Effect.logInfo("starting an embedded PostgreSQL 18 …")
  const db = yield* TestDatabase.make({ major: 18 })
  const rows = yield* Effect.promise(async () => {
    const client = new pg.Client({ connectionString: db.url })
    await client.connect()
    try {
      return (
        await client.query<{ version: string; wal_level: string }>(
          "SELECT version(), current_setting('wal_level') AS wal_level"
        )
      ).rows
    } finally {
      await client.end()
    }
  })
  console.log(`server:    ${rows[0]?.version}`)
  console.log(`wal_level: ${rows[0]?.wal_level}`)
  console.log(`url:       ${db.url.replace(/:[^:@/]+@/, ":***@")} (${db.source})`)
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  () => console.log("stopped and removed the embedded server"),
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
)
