/**
 * How the Replication service hands messages to its consumer: `stream` (one message per pull) and `batches` (whole
 * arrays) read the same buffered messages, in order, and a consumer that stops early and comes back (through either)
 * loses nothing and sees nothing twice. Runs against the in-memory fake server; backpressure against a real server
 * is in integration/resilience.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Change, FakePostgres, fakeConnectorLayer } from "@pgcdc/testing"
import { Effect, Layer, Stream } from "effect"
import { Replication } from "../src/Replication.ts"
import type { WalMessage } from "../src/WalMessage.ts"

const FakeLayer = FakePostgres.layer({ serverVersion: "17.2" })

/** A message's identity for comparing deliveries: its tag and, for inserts, the row's id. */
const key = (m: WalMessage): string => (m._tag === "Insert" ? `Insert ${String(m.new.id)}` : m._tag)

const rowsPerTransaction = 40

describe("delivery to the consumer", () => {
  it.layer(FakeLayer)((it) => {
    it.effect("stream and batches share one buffer: stopping early through either loses and repeats nothing", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable({
          name: "items",
          columns: [
            { name: "id", typeOid: 23, key: true },
            { name: "label", typeOid: 25 }
          ]
        })
        yield* fake.createSlot("delivery")
        yield* fake.createPublication("delivery_pub")
        for (let t = 0; t < 3; t++) {
          yield* fake.transaction(
            Array.from({ length: rowsPerTransaction }, (_, i) =>
              Change.insert("items", { id: String(t * rowsPerTransaction + i), label: `row ${i}` })
            )
          )
        }

        const seen = yield* Effect.gen(function* () {
          const replication = yield* Replication
          const out: Array<WalMessage> = []
          // A small buffer, so that the reader decodes in several steps while the consumer comes and goes.
          const fromStream = (n: number) =>
            Effect.map(Stream.runCollect(Stream.take(replication.stream, n)), (c) => void out.push(...c))
          const oneBatch = Effect.map(
            Stream.runCollect(Stream.take(replication.batches, 1)),
            (c) => void out.push(...Array.from(c).flat())
          )
          yield* fromStream(1)
          yield* oneBatch
          yield* fromStream(3)
          yield* oneBatch
          yield* oneBatch
          yield* fromStream(2)
          // The rest, through the stream, up to the third Commit.
          let commits = out.filter((m) => m._tag === "Commit").length
          while (commits < 3) {
            const batch = yield* Stream.runCollect(Stream.take(replication.batches, 1))
            for (const b of batch) {
              out.push(...b)
              commits += b.filter((m) => m._tag === "Commit").length
            }
          }
          return out
        }).pipe(
          Effect.provide(
            Replication.layer({ slot: "delivery", publications: ["delivery_pub"], bufferSize: 7 }).pipe(
              Layer.provide(fakeConnectorLayer())
            )
          )
        )

        const expected: Array<string> = []
        for (let t = 0; t < 3; t++) {
          expected.push("Begin")
          if (t === 0) expected.push("Relation")
          for (let i = 0; i < rowsPerTransaction; i++) expected.push(`Insert ${t * rowsPerTransaction + i}`)
          expected.push("Commit")
        }
        assert.deepStrictEqual(seen.map(key), expected)
      })
    )

    it.effect("every batch is non-empty and at most bufferSize messages long", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable({ name: "sized", columns: [{ name: "id", typeOid: 23, key: true }] })
        yield* fake.createSlot("sized")
        yield* fake.createPublication("sized_pub")
        yield* fake.transaction(Array.from({ length: 100 }, (_, i) => Change.insert("sized", { id: String(i) })))

        const sizes = yield* Effect.gen(function* () {
          const replication = yield* Replication
          return yield* replication.batches.pipe(
            Stream.takeUntil((b) => b.some((m) => m._tag === "Commit")),
            Stream.map((b) => b.length),
            Stream.runCollect
          )
        }).pipe(
          Effect.provide(
            Replication.layer({ slot: "sized", publications: ["sized_pub"], bufferSize: 16 }).pipe(
              Layer.provide(fakeConnectorLayer())
            )
          )
        )
        const all = Array.from(sizes)
        assert.isTrue(all.every((n) => n >= 1 && n <= 16))
        // Begin, Relation, 100 inserts, Commit.
        assert.strictEqual(
          all.reduce((a, b) => a + b, 0),
          103
        )
      })
    )

    it.effect("every message carries the positions of its own XLogData header, read after read", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable({ name: "placed", columns: [{ name: "id", typeOid: 23, key: true }] })
        yield* fake.createSlot("placed")
        yield* fake.createPublication("placed_pub")
        // Many reads and slices (a small buffer), so that the reader writes the positions of later items at other
        // places than the first's (they share one array).
        for (let t = 0; t < 20; t++) {
          yield* fake.transaction(
            Array.from({ length: 5 }, (_, i) => Change.insert("placed", { id: String(t * 5 + i) }))
          )
        }
        const messages = yield* Effect.gen(function* () {
          const replication = yield* Replication
          return Array.from(
            yield* replication.stream.pipe(
              Stream.filter((m) => m._tag !== "Relation"),
              Stream.take(20 * 7),
              Stream.runCollect
            )
          )
        }).pipe(
          Effect.provide(
            Replication.layer({ slot: "placed", publications: ["placed_pub"], bufferSize: 3 }).pipe(
              Layer.provide(fakeConnectorLayer())
            )
          )
        )
        // Each change has a WAL position of its own, increasing, and each transaction's messages lie between its
        // Begin and its Commit: the header positions of another item would repeat or go back.
        const inserts = messages.filter((m) => m._tag === "Insert")
        assert.strictEqual(inserts.length, 100)
        for (let i = 1; i < inserts.length; i++) assert.isTrue(inserts[i]!.walStart > inserts[i - 1]!.walStart)
        for (let t = 0; t < 20; t++) {
          const [begin, ...rest] = messages.slice(t * 7, t * 7 + 7)
          const commit = rest.at(-1)!
          assert.strictEqual(begin!._tag, "Begin")
          assert.strictEqual(commit._tag, "Commit")
          for (const m of rest.slice(0, -1)) {
            assert.isTrue(m.walStart >= begin!.walStart && m.walStart < commit.walStart)
          }
          if (commit._tag === "Commit") assert.strictEqual(commit.walEnd >= commit.endLsn, true)
        }
      })
    )
  })
})
