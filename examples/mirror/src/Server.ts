/**
 * Which PostgreSQL server the mirror uses, in order: the `--url` option, the `PGCDC_URL` variable, the libpq
 * variables (when PGHOST, PGPORT, PGUSER or PGDATABASE is set), and otherwise an embedded PostgreSQL 18 started for
 * the scope, stopped and removed with its data when the scope closes. `fromUrl` also parses `--target`'s URL.
 *
 * It deliberately checks nothing about the server itself (wal_level, permissions): the replication layer does, with
 * errors that say what to change.
 */
import { ConnectionConfig } from "@pgcdc/connection"
import * as EnvConfig from "@pgcdc/connection/config"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import { MirrorError } from "./MirrorError.ts"

export interface Server {
  /** A regular session's settings; add `replication: "logical"` for the walsender. */
  readonly config: ConnectionConfig
  /** Where it is, without the password. */
  readonly description: string
  /** A libpq URL to print (with the password only for an embedded server, whose password is public anyway). */
  readonly url: string
  /** The embedded server, when the mirror started one. */
  readonly embedded: TestDatabaseInfo | undefined
}

/** A server given by a libpq URL, parsed by `@pgcdc/connection` as `pgcdc --url` parses it; `origin` names the flag. */
export const fromUrl = (url: string, origin: string): Effect.Effect<Server, MirrorError> => {
  const parsed = ConnectionConfig.fromUrl(url)
  if (Result.isFailure(parsed)) {
    return Effect.fail(new MirrorError({ message: `${origin}: ${parsed.failure.message}` }))
  }
  const config = parsed.success
  return Effect.succeed({
    config,
    description: ConnectionConfig.describe(config),
    url: url.replace(/:[^:@/]*@/, ":***@"),
    embedded: undefined
  })
}

const libpqVariables = ["PGHOST", "PGPORT", "PGUSER", "PGDATABASE"]

export const acquire = (url: string | undefined): Effect.Effect<Server, MirrorError, Scope.Scope> =>
  Effect.gen(function* () {
    if (url !== undefined) return yield* fromUrl(url, "--url")
    const envUrl = process.env.PGCDC_URL
    if (envUrl !== undefined && envUrl !== "") return yield* fromUrl(envUrl, "PGCDC_URL")
    if (libpqVariables.some((name) => (process.env[name] ?? "") !== "")) {
      const config = yield* EnvConfig.fromEnv.pipe(
        Effect.mapError((e) => new MirrorError({ message: `The libpq environment variables: ${e.message}` }))
      )
      const description = ConnectionConfig.describe(config)
      return { config, description, url: `postgres://${description}`, embedded: undefined } satisfies Server
    }
    const db = yield* TestDatabase.make({ major: 18 }).pipe(
      Effect.mapError((e) => new MirrorError({ message: `Could not start an embedded PostgreSQL: ${e.message}` }))
    )
    const config = TestDatabase.config(db)
    return { config, description: ConnectionConfig.describe(config), url: db.url, embedded: db } satisfies Server
  })
