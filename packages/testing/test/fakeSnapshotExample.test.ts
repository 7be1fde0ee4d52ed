/**
 * The README's snapshot example, kept compiling and passing (and equal to the README's text, checked below): a
 * consumer that mirrors a table from an initial snapshot and then the stream, tested against the fake server through
 * the real Replication service, with no database.
 */
import { readFileSync } from "node:fs"
// --- README example: Testing a snapshot consumer ---
import { Replication, WalMessage } from "@pgcdc/replication"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Stream } from "effect"
import { FakePostgres, fakeConnectorLayer } from "../src/index.ts"

interface Mirror {
  readonly users: Ref.Ref<ReadonlyMap<number, string>>
  /** Rows taken from the snapshot (a progress figure a real consumer would report). */
  readonly snapshotRows: Ref.Ref<number>
}

const makeMirror = Effect.zipWith(
  Ref.make<ReadonlyMap<number, string>>(new Map()),
  Ref.make(0),
  (users, snapshotRows) => ({
    users,
    snapshotRows
  })
)

// The code under test: mirrors `users` from the snapshot, then from the changes after it. It empties the mirror at
// SnapshotBegin (a snapshot taken again after a crash starts from scratch) and commits SnapshotComplete once every row
// is applied: only then does the slot exist, so a crash before it means a new snapshot, never a half-applied one.
const mirrorUsers = (mirror: Mirror, until: (message: WalMessage) => boolean) =>
  Effect.gen(function* () {
    const replication = yield* Replication
    yield* replication.stream.pipe(
      Stream.tap((message) =>
        Effect.gen(function* () {
          switch (message._tag) {
            case "SnapshotBegin":
              yield* Ref.set(mirror.snapshotRows, 0)
              return yield* Ref.set(mirror.users, new Map())
            case "Read":
              yield* Ref.update(mirror.snapshotRows, (n) => n + 1)
              return yield* Ref.update(mirror.users, (m) =>
                new Map(m).set(message.new.id as number, message.new.name as string)
              )
            case "Insert":
            case "Update":
              return yield* Ref.update(mirror.users, (m) =>
                new Map(m).set(message.new.id as number, message.new.name as string)
              )
            case "Delete":
              return yield* Ref.update(mirror.users, (m) => {
                const next = new Map(m)
                next.delete(message.key?.id as number)
                return next
              })
            case "SnapshotComplete":
            case "Commit":
              return yield* replication.commit(WalMessage.lsnToConfirm(message)!)
          }
        })
      ),
      Stream.takeUntil(until),
      Stream.runDrain
    )
  })

const users = {
  name: "users",
  columns: [
    { name: "id", typeOid: 23, key: true },
    { name: "name", typeOid: 25 }
  ]
}

const replicating = (snapshot: "initial" | "when_needed") =>
  Replication.layer({ slot: "mirror", publications: ["mirror_pub"], snapshot }).pipe(
    Layer.provide(fakeConnectorLayer())
  )

const isInsertOf = (id: number) => (m: WalMessage) => m._tag === "Insert" && m.new.id === id

describe("a snapshot consumer tested with the fake server", () => {
  it.layer(FakePostgres.layer({ serverVersion: "16.4" }))((it) => {
    it.effect("reads the rows, then the changes after the snapshot; the slot exists once it is committed", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable(users)
        yield* fake.createPublication("mirror_pub")
        yield* fake.insert("users", { id: "1", name: "ada" })
        yield* fake.insert("users", { id: "2", name: "grace" })

        const mirror = yield* makeMirror
        yield* Effect.gen(function* () {
          // The service is up: its snapshot is taken. What commits now comes as changes, not as rows.
          yield* fake.update("users", { id: "1", name: "ada lovelace" })
          yield* fake.insert("users", { id: "3", name: "edsger" })
          yield* mirrorUsers(mirror, isInsertOf(3))
          // SnapshotComplete was committed: the service made the slot permanent.
          const slot = yield* fake.awaitSlot("mirror")
          assert.isFalse(slot.temporary)
        }).pipe(Effect.provide(replicating("initial")))

        assert.deepStrictEqual(
          [...(yield* Ref.get(mirror.users))],
          [
            [1, "ada lovelace"],
            [2, "grace"],
            [3, "edsger"]
          ]
        )
        // The snapshot held the two rows written before the service started; the third came as a change.
        assert.strictEqual(yield* Ref.get(mirror.snapshotRows), 2)
      })
    )

    it.effect("a crash before the snapshot is committed leaves no slot: the next start reads the rows again", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.dropSlot("mirror")
        const mirror = yield* makeMirror
        // The consumer stops ("crashes") after two rows, before SnapshotComplete.
        let rows = 0
        yield* mirrorUsers(mirror, (m) => m._tag === "Read" && ++rows === 2).pipe(
          Effect.provide(replicating("when_needed"))
        )
        assert.isFalse((yield* fake.slots).some((s) => s.name === "mirror"))
        assert.strictEqual((yield* Ref.get(mirror.users)).size, 2)

        // Meanwhile a row it had read is deleted: the new snapshot no longer has it, nor will the stream say so.
        yield* fake.delete("users", { id: "2" })
        yield* Effect.gen(function* () {
          yield* fake.insert("users", { id: "4", name: "barbara" })
          yield* mirrorUsers(mirror, isInsertOf(4))
        }).pipe(Effect.provide(replicating("when_needed")))

        assert.deepStrictEqual(
          [...(yield* Ref.get(mirror.users))],
          [
            [1, "ada lovelace"],
            [3, "edsger"],
            [4, "barbara"]
          ]
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
    const section = readme.slice(readme.indexOf("## Testing a snapshot consumer"))
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1]?.trim()
    assert.strictEqual(block, example)
  })
})
