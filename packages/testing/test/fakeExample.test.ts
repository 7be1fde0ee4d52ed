/**
 * The README's example, kept compiling and passing: a consumer that mirrors a table, tested against the fake server
 * through the real Replication service and Connection, with no database.
 */
import { Replication, WalMessage } from "@pgcdc/replication"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schedule, Stream } from "effect"
import { Change, FakePostgres, fakeConnectorLayer } from "../src/index.ts"

// The code under test: keeps a Map of users by id and commits each transaction once it is applied.
const mirrorUsers = (mirror: Ref.Ref<ReadonlyMap<number, string>>, transactions: number) =>
  Effect.gen(function* () {
    const replication = yield* Replication
    yield* replication.stream.pipe(
      Stream.tap((message) =>
        Effect.gen(function* () {
          if (message._tag === "Insert" || message._tag === "Update") {
            const id = message.new.id as number
            const name = message.new.name as string
            yield* Ref.update(mirror, (m) => new Map(m).set(id, name))
          } else if (message._tag === "Delete") {
            const id = message.key?.id as number
            yield* Ref.update(mirror, (m) => {
              const next = new Map(m)
              next.delete(id)
              return next
            })
          }
          if (message._tag === "Commit") yield* replication.commit(WalMessage.lsnToConfirm(message))
        })
      ),
      Stream.filter((message) => message._tag === "Commit"),
      Stream.take(transactions),
      Stream.runDrain
    )
  })

// One fake server per file; the Connection and the Replication service on top of it.
const FakeLayer = FakePostgres.layer({ serverVersion: "17.2" })

describe("a consumer tested with the fake server", () => {
  it.layer(FakeLayer)((it) => {
    it.effect("applies inserts, updates and deletes, and confirms each transaction", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable({
          name: "users",
          columns: [
            { name: "id", typeOid: 23, key: true },
            { name: "name", typeOid: 25 }
          ]
        })
        yield* fake.createSlot("mirror")
        yield* fake.createPublication("mirror_pub")

        yield* fake.insert("users", { id: "1", name: "ada" })
        yield* fake.transaction([
          Change.insert("users", { id: "2", name: "grace" }),
          Change.update("users", { id: "1", name: "ada lovelace" })
        ])
        const last = yield* fake.delete("users", { id: "2" })

        const mirror = yield* Ref.make<ReadonlyMap<number, string>>(new Map())
        yield* mirrorUsers(mirror, 3).pipe(
          Effect.provide(
            Replication.layer({ slot: "mirror", publications: ["mirror_pub"] }).pipe(
              Layer.provide(fakeConnectorLayer())
            )
          )
        )

        assert.deepStrictEqual([...(yield* Ref.get(mirror))], [[1, "ada lovelace"]])
        // The consumer's commits reached the server: a restart resumes after the last transaction.
        yield* fake.awaitConfirmedFlush("mirror", last.endLsn)
        assert.strictEqual(yield* fake.confirmedFlush("mirror"), last.endLsn)
      })
    )

    it.effect(
      "a dropped connection loses and repeats nothing; a restarted consumer gets its uncommitted work again",
      () =>
        Effect.gen(function* () {
          const fake = yield* FakePostgres
          yield* fake.defineTable({ name: "events", columns: [{ name: "id", typeOid: 23, key: true }] })
          yield* fake.createSlot("resume")
          yield* fake.createPublication("resume_pub")
          const first = yield* fake.insert("events", { id: "1" })
          yield* fake.insert("events", { id: "2" })
          const service = Replication.layer({
            slot: "resume",
            publications: ["resume_pub"],
            reconnect: Schedule.recurs(3)
          }).pipe(Layer.provide(fakeConnectorLayer()))
          const inserts = <E>(
            replication: Replication["Service"],
            n: number,
            onInsert: (id: number) => Effect.Effect<void, E>
          ) =>
            replication.stream.pipe(
              Stream.filter((message) => message._tag === "Insert"),
              Stream.take(n),
              Stream.runForEach((message) => onInsert(message.new.id as number))
            )

          // First run: commit transaction 1 only; lose the connection at transaction 2; a third arrives meanwhile.
          const seen: Array<number> = []
          let sessions = 0
          yield* Effect.gen(function* () {
            const replication = yield* Replication
            yield* inserts(replication, 3, (id) =>
              Effect.gen(function* () {
                seen.push(id)
                if (id === 1) yield* replication.commit(first.endLsn)
                if (id === 2) {
                  yield* fake.keepalive({ replyRequested: true })
                  yield* fake.awaitConfirmedFlush("resume", first.endLsn)
                  yield* fake.dropConnections
                  yield* fake.insert("events", { id: "3" })
                }
              })
            )
            sessions = (yield* replication.status).sessions
          }).pipe(Effect.provide(service))
          // The service reconnected by itself: nothing missing, nothing handed out twice.
          assert.deepStrictEqual(seen, [1, 2, 3])
          assert.isAtLeast(sessions, 2)
          assert.isTrue((yield* fake.disconnections).some((d) => d.reason === "fault"))

          // Second run, as after a crash: the slot only knows the commit of transaction 1, so 2 and 3 come again.
          const again: Array<number> = []
          yield* Effect.gen(function* () {
            const replication = yield* Replication
            yield* inserts(replication, 2, (id) => Effect.sync(() => again.push(id)))
          }).pipe(Effect.provide(service))
          assert.deepStrictEqual(again, [2, 3])
        })
    )
  })
})
