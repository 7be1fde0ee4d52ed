/**
 * Helpers for the command's integration tests: the `pgcdc` executable run as users run it (a child process on the
 * workspace's Node, its exit status, stdout and stderr), and a SQL session on the test server.
 */
import { Connection, type ConnectionError, type ConnectionShape } from "@pgcdc/connection"
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as path from "node:path"

const here = import.meta.dirname
export const node = path.resolve(here, "../../../../node_modules/.bin/node")
export const bin = path.resolve(here, "../../src/bin.ts")

/** The environment without any PG* or PGCDC_URL variable of the machine: tests say where to connect. */
const env = (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv => {
  const out: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("PG")) out[name] = value
  }
  return { ...out, ...extra }
}

export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `pgcdc args` to its end. */
export const pgcdc = (args: ReadonlyArray<string>, extraEnv?: Readonly<Record<string, string>>): Effect.Effect<Ran> =>
  Effect.promise(
    () =>
      new Promise<Ran>((resolve) => {
        execFile(node, [bin, ...args], { timeout: 60_000, env: env(extraEnv) }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
        )
      })
  )

/** Starts `pgcdc args` without waiting for it (stdout and stderr piped). */
export const start = (args: ReadonlyArray<string>): ChildProcess =>
  spawn(node, [bin, ...args], { env: env(), stdio: ["ignore", "pipe", "pipe"] })

/** A URL for `db` as another role. */
export const urlAs = (db: TestDatabaseInfo, user: string, password: string) =>
  `postgres://${user}:${password}@${db.host}:${db.port}/${db.database}`

export const sqlSession = (db: TestDatabaseInfo): Effect.Effect<ConnectionShape, ConnectionError, Scope.Scope> =>
  Connection.make(TestDatabase.config(db))

export const scalar = (conn: ConnectionShape, sql: string) =>
  Effect.map(conn.query(sql), (results) => results.at(-1)?.rows[0]?.[0] ?? null)

export type Line = Record<string, unknown> & { readonly _tag: string }

/** stdout as JSON lines. */
export const jsonLines = (stdout: string): ReadonlyArray<Line> =>
  stdout
    .trimEnd()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line)
