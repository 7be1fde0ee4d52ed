/**
 * ReplicationError's reasons are tagged classes: `Effect.catchReason` handles one and lets the others through, and
 * the wrapper's message, SQLSTATE and retry verdict are its reason's. Against the fake server, through the public API.
 */
import { assert, describe, it } from "@effect/vitest"
import { FakePostgres, fakeConnectorLayer } from "@pgcdc/testing"
import { Effect, Layer } from "effect"
import { Replication } from "../src/Replication.ts"

const start = (settings: Record<string, string>, slot: string) =>
  Effect.gen(function* () {
    const fake = yield* FakePostgres
    yield* fake.createSlot("s")
    yield* fake.createPublication("p")
    return yield* Effect.flatMap(Replication, (r) => r.status).pipe(
      Effect.provide(Replication.layer({ slot, publications: ["p"] }).pipe(Layer.provide(fakeConnectorLayer())))
    )
  }).pipe(Effect.provide(FakePostgres.layer({ serverVersion: "17.2", settings })))

describe("ReplicationError reasons", () => {
  it.effect("catchReason handles the named reason and lets the others through", () =>
    Effect.gen(function* () {
      const walLevel = yield* start({ wal_level: "replica" }, "s").pipe(
        Effect.map(() => "started"),
        Effect.catchReason("ReplicationError", "WalLevel", (reason) => Effect.succeed(`caught: ${reason.message}`))
      )
      assert.include(walLevel, "caught: ")
      assert.include(walLevel, "wal_level = logical")

      const missing = yield* start({}, "nope").pipe(
        Effect.catchReason("ReplicationError", "WalLevel", () => Effect.succeed("wrongly caught")),
        Effect.flip
      )
      assert.strictEqual(missing._tag, "ReplicationError")
      if (missing._tag === "ReplicationError") {
        assert.strictEqual(missing.reason._tag, "SlotMissing")
        assert.strictEqual(missing.message, missing.reason.message)
        assert.isFalse(missing.isRetryable)
        assert.include(missing.message, "Slot.create")
      }
    })
  )
})
