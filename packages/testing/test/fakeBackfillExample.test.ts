/**
 * The README's backfill and heartbeat example, kept compiling and passing (and equal to the README's text, checked
 * below): a consumer that mirrors a table backfills the rows it never saw while changes flow, tested against the fake
 * server through the real Replication service; and the heartbeat moving an idle slot, with the slot check's figures.
 */
import { readFileSync } from "node:fs"
// --- README example: Testing backfills and the heartbeat ---
import { Replication, WalMessage } from "@pgcdc/replication"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Stream } from "effect"
import { FakePostgres, fakeConnectorLayer } from "../src/index.ts"

// The code under test: mirrors `users` by id. A backfill's Read is an upsert, like an insert; each transaction is
// committed once applied (a backfill reads its next chunk only once the previous one is committed).
const mirrorUsers = (mirror: Ref.Ref<ReadonlyMap<number, string>>) =>
  Effect.gen(function* () {
    const replication = yield* Replication
    yield* replication.stream.pipe(
      Stream.runForEach((message) =>
        Effect.gen(function* () {
          switch (message._tag) {
            case "Read":
            case "Insert":
            case "Update":
              return yield* Ref.update(mirror, (m) =>
                new Map(m).set(message.new.id as number, message.new.name as string)
              )
            case "Delete":
              return yield* Ref.update(mirror, (m) => {
                const next = new Map(m)
                next.delete(message.key?.id as number)
                return next
              })
            case "Commit":
              return yield* replication.commit(WalMessage.lsnToConfirm(message))
          }
        })
      )
    )
  })

const users = {
  name: "users",
  columns: [
    { name: "id", typeOid: 23, key: true },
    { name: "name", typeOid: 25 }
  ]
}

describe("backfills and the heartbeat tested with the fake server", () => {
  it.layer(FakePostgres.layer({ serverVersion: "18.1" }))((it) => {
    it.effect("a backfill brings the rows the stream never carried, while changes flow", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable(users)
        yield* fake.createPublication("mirror_pub", { tables: ["users"] })
        // Rows from before the slot: the stream will never carry them.
        for (const [id, name] of ["ada", "grace", "edsger", "barbara", "donald"].entries()) {
          yield* fake.insert("users", { id: String(id + 1), name })
        }
        yield* fake.createSlot("mirror")

        const mirror = yield* Ref.make<ReadonlyMap<number, string>>(new Map())
        yield* Effect.gen(function* () {
          const replication = yield* Replication
          yield* Effect.forkScoped(mirrorUsers(mirror))
          const backfill = yield* replication.backfill("users", { chunkSize: 2 })
          // Changes while it runs: the backfill never hands out a row behind them.
          yield* fake.update("users", { id: "1", name: "ada lovelace" })
          yield* fake.delete("users", { id: "2" })
          const last = yield* fake.insert("users", { id: "6", name: "alan" })
          const progress = yield* backfill.done
          assert.strictEqual(progress.state, "done")
          assert.strictEqual(progress.chunks, 3)
          yield* fake.awaitConfirmedFlush("mirror", last.endLsn)
        }).pipe(
          Effect.scoped,
          Effect.provide(
            Replication.layer({ slot: "mirror", publications: ["mirror_pub"] }).pipe(
              Layer.provide(fakeConnectorLayer())
            )
          )
        )

        assert.deepStrictEqual(
          [...(yield* Ref.get(mirror))].sort(([a], [b]) => a - b),
          [
            [1, "ada lovelace"],
            [3, "edsger"],
            [4, "barbara"],
            [5, "donald"],
            [6, "alan"]
          ]
        )
        // Progress lives in the source database, as on PostgreSQL: a restarted service resumes from it.
        const [stored] = yield* fake.rows("pgcdc_backfills")
        assert.strictEqual(stored?.state, "done")
      })
    )

    it.effect("the heartbeat moves the slot while the published table is idle and another one is busy", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable({ ...users, name: "audit" })
        yield* fake.createPublication("users_only", { tables: ["users"] })
        yield* fake.createSlot("idle")
        const busy = yield* fake.insert("audit", { id: "1", name: "not published" })

        yield* Effect.gen(function* () {
          const replication = yield* Replication
          yield* Effect.forkScoped(mirrorUsers(yield* Ref.make<ReadonlyMap<number, string>>(new Map())))
          // The first heartbeat is written as the service starts; the consumer is never handed it, yet the slot
          // passes it (and the busy table's WAL) once the service reports its position.
          yield* replication.flush.pipe(
            Effect.andThen(fake.confirmedFlush("idle")),
            Effect.repeat({ until: (confirmed) => confirmed !== undefined && confirmed > busy.endLsn })
          )
          // The slot check (at start, then every slotCheckInterval) reads the fake's figures.
          const slot = (yield* replication.status).slot
          assert.strictEqual(slot?.walStatus, "reserved")
        }).pipe(
          Effect.scoped,
          Effect.provide(
            Replication.layer({ slot: "idle", publications: ["users_only"], heartbeat: "1 minute" }).pipe(
              Layer.provide(fakeConnectorLayer())
            )
          )
        )
      })
    )
  })
})
// --- end of the README example ---

describe("the README", () => {
  it("shows this example as it is", () => {
    const own = readFileSync(new URL(import.meta.url), "utf8")
    const example = own
      .slice(own.indexOf("// --- README example"), own.indexOf("// --- end of the README example"))
      .split("\n")
      .slice(1)
      .join("\n")
      .replace('"../src/index.ts"', '"@pgcdc/testing"')
      .trim()
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const section = readme.slice(readme.indexOf("## Testing backfills and the heartbeat"))
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]?.trim()
    assert.strictEqual(block, example)
  })
})
