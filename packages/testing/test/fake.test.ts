import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { FakePostgres } from "../src/fake/FakePostgres.ts"
import { connect } from "../src/fake/ScriptedClient.ts"

const startup = (options: Parameters<typeof FakePostgres.make>[0] = {}) =>
  Effect.gen(function* () {
    const fake = yield* FakePostgres.make({ listen: false, ...options })
    const client = yield* connect(yield* fake.socket)
    return { fake, client }
  })

describe("FakePostgres startup", () => {
  it.effect("trust", () =>
    Effect.gen(function* () {
      const { client } = yield* startup()
      const messages = yield* client.login({ user: "postgres", replication: "database" })
      assert.deepStrictEqual(messages.map((m) => m._tag).slice(0, 2), ["AuthenticationOk", "ParameterStatus"])
      assert.strictEqual(messages[messages.length - 1]!._tag, "ReadyForQuery")
    })
  )
})
