/**
 * Our `Connection` to the fake over both transports: the in-memory socket (`ConnectionConfig.socket`, no port,
 * deterministic under TestClock) and the loopback TCP listener. The same checks run on both: a query, a
 * replication stream with an acknowledgement, an interrupted query (CancelRequest on a side connection), and a
 * dropped connection failing the session with "Closed".
 */
import { Connection, type ConnectionConfig, ReplicationCommands } from "@pgcdc/connection"
import { encodeReplicationToBytes, Lsn, unsafeDecodeReplication } from "@pgcdc/protocol"
import { Publication, Replication, WalMessage } from "@pgcdc/replication"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import { connectionConfig, layerConnection, layerConnector, tcpConnectionConfig } from "../src/fake/FakeConnection.ts"
import { FakePostgres, type FakePostgresShape } from "../src/fake/FakePostgres.ts"

const users = {
  name: "users",
  columns: [
    { name: "id", typeOid: 23, key: true },
    { name: "name", typeOid: 25 }
  ]
} as const

const transports: ReadonlyArray<
  readonly [string, (fake: FakePostgresShape, o?: Partial<ConnectionConfig>) => ConnectionConfig]
> = [
  ["in-memory socket", connectionConfig],
  ["loopback TCP", tcpConnectionConfig]
]

for (const [name, configOf] of transports) {
  describe(`Connection to the fake over the ${name}`, () => {
    it.live("queries, streams WAL and acknowledges it", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres.make()
        yield* fake.defineTable(users)
        yield* fake.createSlot("s")
        const conn = yield* Connection.make(configOf(fake))
        assert.strictEqual(conn.serverVersion, 180001)
        assert.isFalse(conn.tls)
        const identity = yield* ReplicationCommands.identifySystem(conn)
        assert.strictEqual(identity.dbname, "postgres")
        const written = yield* fake.insert("users", { id: "1", name: "ada" })
        // The copy holds the session until its scope closes.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const copy = yield* conn.copyBoth(
              "START_REPLICATION SLOT s LOGICAL 0/0 (proto_version '1', publication_names 'p')"
            )
            const data = yield* copy.messages.pipe(
              Stream.map((bytes) => unsafeDecodeReplication(bytes)),
              Stream.filter((m) => m._tag === "XLogData"),
              Stream.take(4),
              Stream.runCollect
            )
            assert.strictEqual(data.length, 4)
            yield* copy.send(
              encodeReplicationToBytes({
                _tag: "StandbyStatusUpdate",
                written: written.endLsn,
                flushed: written.endLsn,
                applied: written.endLsn,
                clientTime: 0n,
                replyRequested: false
              })
            )
            yield* fake.awaitConfirmedFlush("s", written.endLsn)
            yield* copy.done
          })
        )
        assert.deepStrictEqual((yield* conn.query("SELECT 1"))[0]!.rows, [["1"]])
      }).pipe(Effect.scoped)
    )

    it.live("a dropped connection fails the session with Closed", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres.make()
        const conn = yield* Connection.make(configOf(fake))
        yield* fake.dropConnections
        const result = yield* Effect.result(conn.query("SELECT 1"))
        assert.isTrue(Result.isFailure(result) && result.failure.reason === "Closed")
      }).pipe(Effect.scoped)
    )
  })
}

describe("Connection to the fake over the in-memory socket", () => {
  it.effect("needs no listener and runs under TestClock (the fake's idle keepalive arrives when the clock moves)", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false, keepaliveInterval: "10 seconds" })
      yield* fake.createSlot("s")
      const conn = yield* Connection.make(connectionConfig(fake))
      const copy = yield* conn.copyBoth(
        "START_REPLICATION SLOT s LOGICAL 0/0 (proto_version '1', publication_names 'p')"
      )
      const keepalives = yield* copy.messages.pipe(
        Stream.map((bytes) => unsafeDecodeReplication(bytes)),
        Stream.filter((m) => m._tag === "PrimaryKeepalive"),
        Stream.take(2),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* fake.awaitStreaming("s")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(keepalives)).length, 2)
    }).pipe(Effect.scoped)
  )

  it.effect("an interrupted query sends a CancelRequest over a second in-memory connection", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const conn = yield* Connection.make(connectionConfig(fake))
      // The answer is held back, so the query is still running when it is interrupted.
      yield* fake.stall
      const running = yield* Effect.forkChild(conn.query("SELECT 1"))
      // In memory, sending is synchronous: once the forked fiber has run, the fake has the query.
      while (!(yield* fake.queries).includes("SELECT 1")) yield* Effect.yieldNow
      const interrupting = yield* Effect.forkChild(Fiber.interrupt(running))
      const ended = yield* fake.awaitDisconnections(1)
      assert.strictEqual(ended[0]!.message, "cancel request received")
      // The session reads on to ReadyForQuery once the fake writes again, and stays usable.
      yield* fake.resume
      yield* Fiber.join(interrupting)
      assert.deepStrictEqual((yield* conn.query("SELECT 1"))[0]!.rows, [["1"]])
    }).pipe(Effect.scoped)
  )

  it.effect("closing the scope sends Terminate; a broken session closes its in-memory connection at once", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      yield* Effect.scoped(Connection.make(connectionConfig(fake)))
      const closed = yield* fake.awaitDisconnections(1)
      assert.strictEqual(closed[0]!.message, "client sent Terminate")
      // Bytes that are not PostgreSQL break the session: the client closes the connection without Terminate.
      const conn = yield* Connection.make(connectionConfig(fake))
      yield* fake.corrupt()
      const result = yield* Effect.result(conn.query("SELECT 1"))
      assert.isTrue(Result.isFailure(result) && result.failure.reason === "Protocol")
      const both = yield* fake.awaitDisconnections(2)
      assert.strictEqual(both[1]!.message, "unexpected EOF on client connection")
    }).pipe(Effect.scoped)
  )

  it.effect("after the server ends a copy with an error, a racing send reports that (retryable) error", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      yield* fake.createSlot("s")
      const conn = yield* Connection.make(connectionConfig(fake))
      const copy = yield* conn.copyBoth(
        "START_REPLICATION SLOT s LOGICAL 0/0 (proto_version '1', publication_names 'p')"
      )
      yield* fake.failWith({ code: "57P01", message: "terminating connection due to administrator command" })
      const ended = yield* Effect.flip(Stream.runDrain(copy.messages))
      assert.strictEqual(ended.code, "57P01")
      // Found by the simulation: a status update sent at this moment failed as a non-retryable protocol misuse
      // ("CopyData after CopyDone"), which ended the Replication stream instead of reconnecting.
      const sent = yield* Effect.flip(copy.send(new Uint8Array([0x72])))
      assert.strictEqual(sent.code, "57P01")
      assert.isTrue(sent.isRetryable)
    }).pipe(Effect.scoped)
  )

  it.effect("refuses an sslmode that needs TLS", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const result = yield* Effect.result(Connection.make(connectionConfig(fake, { sslmode: "require" })))
      assert.isTrue(Result.isFailure(result) && result.failure.reason === "Tls")
      assert.include(Result.isFailure(result) ? result.failure.message : "", "custom socket")
    }).pipe(Effect.scoped)
  )

  it.layer(FakePostgres.layer({ listen: false }))((it) => {
    it.effect("Replication reconnects over a new in-memory connection after a drop", () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres
        yield* fake.defineTable(users)
        yield* fake.createSlot("r")
        yield* fake.createPublication("p")
        const first = yield* fake.insert("users", { id: "1" })
        yield* fake.insert("users", { id: "2" })
        const seen = yield* Effect.gen(function* () {
          const replication = yield* Replication
          const ids: Array<number> = []
          yield* replication.stream.pipe(
            Stream.tap((m) =>
              Effect.gen(function* () {
                if (m._tag === "Insert") ids.push(m.new.id as number)
                if (m._tag === "Commit" && m.endLsn === first.endLsn) {
                  yield* replication.commit(WalMessage.lsnToConfirm(m))
                  yield* fake.keepalive({ replyRequested: true })
                  yield* fake.awaitConfirmedFlush("r", first.endLsn)
                  yield* fake.dropConnections
                }
              })
            ),
            Stream.filter((m) => m._tag === "Commit"),
            Stream.take(2),
            Stream.runDrain
          )
          return ids
        }).pipe(
          Effect.provide(Replication.layer({ slot: "r", publications: ["p"] }).pipe(Layer.provide(layerConnector())))
        )
        // The first transaction was confirmed before the drop; the session resumed after it.
        assert.deepStrictEqual(seen, [1, 2])
        assert.strictEqual(yield* fake.confirmedFlush("r"), Lsn.unsafeMake(first.endLsn))
      })
    )

    it.effect(
      "a publication made by pgcdc's Publication.create with a column list and a row filter shapes the stream",
      () =>
        Effect.gen(function* () {
          const fake = yield* FakePostgres
          yield* fake.defineTable({
            name: "accounts",
            columns: [
              { name: "id", typeOid: 23, key: true },
              { name: "plan", typeOid: 25 },
              { name: "secret", typeOid: 25 }
            ]
          })
          yield* fake.createSlot("pub_made")
          const messages = yield* Effect.gen(function* () {
            // As on PostgreSQL, a filter published with updates may only read the replica identity (here the key).
            yield* Publication.create("big_ids", {
              target: { _tag: "Tables", tables: [{ name: "accounts", columns: ["id", "plan"], where: "id >= 10" }] }
            })
            yield* fake.insert("accounts", { id: "1", plan: "free", secret: "s1" })
            yield* fake.insert("accounts", { id: "12", plan: "pro", secret: "s2" })
            yield* fake.update(
              "accounts",
              { id: "11", plan: "free", secret: "s1" },
              { id: "1", plan: "free", secret: "s1" }
            )
            const refused = yield* Effect.flip(
              Publication.create("by_plan", {
                target: { _tag: "Tables", tables: [{ name: "accounts", where: "lower(plan) = 'pro'" }] }
              })
            )
            assert.include(refused.message, "cannot evaluate this row filter: the function lower()")
            const replication = yield* Replication.make({ slot: "pub_made", publications: ["big_ids"] })
            return yield* replication.stream.pipe(
              Stream.filter((m) => m._tag === "Relation" || m._tag === "Insert" || m._tag === "Update"),
              Stream.take(3),
              Stream.runCollect
            )
          }).pipe(Effect.scoped, Effect.provide(Layer.merge(layerConnection(), layerConnector())))
          const [relation, twelve, eleven] = Array.from(messages)
          assert.deepStrictEqual(
            relation?._tag === "Relation" ? relation.table.columns.map((c) => c.name) : undefined,
            ["id", "plan"]
          )
          assert.deepStrictEqual(twelve?._tag === "Insert" ? twelve.new : undefined, { id: 12, plan: "pro" })
          // Row 1 enters the filter when its key becomes 11: it arrives as an insert, without the secret column.
          assert.deepStrictEqual(eleven?._tag === "Insert" ? eleven.new : undefined, { id: 11, plan: "free" })
        })
    )
  })
})
