/**
 * What the fake server gives an initial snapshot: a walsender's exported snapshot that regular sessions import
 * (`SET TRANSACTION SNAPSHOT`) and that freezes the tables as of the slot's consistent point; the snapshot's end at the
 * exporter's next command or its end, with each version's error; transaction blocks as PostgreSQL runs them; COPY in
 * text format; `pg_copy_logical_replication_slot`; temporary slots going with their session. Then the `Replication`
 * service's snapshot modes over the fake, on every modelled version. The same behaviours are compared with
 * PostgreSQL by test/integration/fakeSnapshot.postgres.test.ts and the conformance suite.
 */
import { Connection, type ConnectionShape, Connector } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import { Replication, type ReplicationShape, WalMessage } from "@pgcdc/replication"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Result, Stream } from "effect"
import { connectionConfig } from "../src/fake/FakeConnection.ts"
import { FakePostgres, type FakePostgresShape } from "../src/fake/FakePostgres.ts"
import { Change } from "../src/fake/Wal.ts"
import { copyLines } from "./copyLines.ts"

const users = {
  name: "users",
  columns: [
    { name: "id", typeOid: 23, key: true },
    { name: "name", typeOid: 25 },
    { name: "score", typeOid: 20 }
  ]
} as const

/** A regular session to the fake (no replication). */
const sqlSession = (fake: FakePostgresShape) => Connection.make(connectionConfig(fake, { replication: undefined }))
const walsender = (fake: FakePostgresShape) => Connection.make(connectionConfig(fake))

const errorOf = <A, E extends { readonly code?: string | undefined; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>
) => Effect.map(Effect.result(effect), (r) => (Result.isFailure(r) ? [r.failure.code, r.failure.message] : "succeeded"))

const exportSnapshot = (conn: ConnectionShape, slot: string) =>
  Effect.map(
    conn.query(
      conn.serverVersion >= 150000
        ? `CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')`
        : `CREATE_REPLICATION_SLOT ${slot} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT`
    ),
    (results) => ({ consistentPoint: results[0]!.rows[0]![1]!, name: results[0]!.rows[0]![2]! })
  )

const importing = (name: string) =>
  `SET DateStyle = 'ISO'; BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '${name}'`

describe("exported snapshots on the fake server", () => {
  it.effect("a session that imports a walsender's snapshot reads the tables as of its consistent point", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      yield* fake.defineTable(users)
      yield* fake.insert("users", { id: "1", name: "ada", score: "10" })
      yield* fake.transaction([
        Change.insert("users", { id: "2", name: "grace", score: "20" }),
        Change.insert("users", { id: "3", name: "edsger" })
      ])
      const ws = yield* walsender(fake)
      const exported = yield* exportSnapshot(ws, "snap")
      assert.strictEqual(exported.consistentPoint, Lsn.format(yield* fake.currentLsn))
      // After the consistent point: an update, a delete and an insert, which the snapshot must not see.
      yield* fake.transaction([
        Change.update("users", { id: "1", name: "ada lovelace", score: "11" }),
        Change.delete("users", { id: "2" }),
        Change.insert("users", { id: "4", name: "barbara" })
      ])
      const inSnapshot = yield* sqlSession(fake)
      yield* inSnapshot.query(importing(exported.name))
      assert.deepStrictEqual(
        yield* copyLines(inSnapshot, `COPY (SELECT "id", "name", "score" FROM "public"."users") TO STDOUT`),
        ["1\tada\t10\n", "2\tgrace\t20\n", "3\tedsger\t\\N\n"]
      )
      // Another session, outside the snapshot, reads the tables as they are now.
      const now = yield* sqlSession(fake)
      assert.deepStrictEqual(yield* copyLines(now, `COPY "users" TO STDOUT`), [
        "1\tada lovelace\t11\n",
        "3\tedsger\t\\N\n",
        "4\tbarbara\t\\N\n"
      ])
      // The importing session keeps its snapshot whatever the exporter does next.
      yield* ws.query("SHOW wal_level")
      assert.deepStrictEqual(yield* copyLines(inSnapshot, `COPY (SELECT "id" FROM "public"."users") TO STDOUT`), [
        "1\n",
        "2\n",
        "3\n"
      ])
    }).pipe(Effect.scoped)
  )

  for (const [version, code, message] of [
    ["14.13", "22023", (n: string) => `invalid snapshot identifier: "${n}"`],
    ["16.4", "22023", (n: string) => `invalid snapshot identifier: "${n}"`],
    ["17.2", "42704", (n: string) => `snapshot "${n}" does not exist`],
    ["18.1", "42704", (n: string) => `snapshot "${n}" does not exist`]
  ] as const) {
    it.effect(`${version}: the snapshot is gone at the exporter's next command, or its end (${code})`, () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres.make({ listen: false, serverVersion: version })
        yield* fake.defineTable(users)
        const ws = yield* walsender(fake)
        const first = yield* exportSnapshot(ws, "one")
        const reader = yield* sqlSession(fake)
        // Importable while the exporter is idle.
        yield* reader.query(`${importing(first.name)}; ROLLBACK`)
        yield* ws.query("IDENTIFY_SYSTEM")
        assert.deepStrictEqual(yield* errorOf(reader.query(importing(first.name))), [code, message(first.name)])
        yield* reader.query("ROLLBACK")
        const second = yield* Effect.scoped(
          Effect.gen(function* () {
            const other = yield* walsender(fake)
            return yield* exportSnapshot(other, "two")
          })
        )
        assert.deepStrictEqual(yield* errorOf(reader.query(importing(second.name))), [code, message(second.name)])
        // The temporary slot went with its session.
        assert.deepStrictEqual(
          (yield* fake.slots).map((s) => s.name),
          ["one"]
        )
      }).pipe(Effect.scoped)
    )
  }

  it.effect(
    "connections lists the sessions; terminate(pid) ends one as pg_terminate_backend does, its snapshot too",
    () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres.make({ listen: false })
        yield* fake.defineTable(users)
        yield* fake.insert("users", { id: "1", name: "ada" })
        const ws = yield* walsender(fake)
        const { name } = yield* exportSnapshot(ws, "snap")
        const reader = yield* sqlSession(fake)
        yield* reader.query(importing(name))
        const connections = yield* fake.connections
        assert.deepStrictEqual(
          connections.map((c) => [c.mode, c.inTransaction]),
          [
            ["logical", false],
            ["regular", true]
          ]
        )
        assert.deepStrictEqual(yield* fake.rows("users"), [{ id: "1", name: "ada", score: null }])
        assert.isTrue(yield* fake.terminate(ws.backendKey!.processId))
        assert.isFalse(yield* fake.terminate(ws.backendKey!.processId))
        assert.deepStrictEqual(yield* fake.slots, [])
        // The importer keeps what it imported; a new import finds the snapshot gone.
        assert.deepStrictEqual(yield* copyLines(reader, `COPY "users" TO STDOUT`), ["1\tada\t\\N\n"])
        const late = yield* sqlSession(fake)
        assert.strictEqual((yield* errorOf(late.query(importing(name))))[0], "42704")
      }).pipe(Effect.scoped)
  )

  it.effect(
    "importing needs REPEATABLE READ (not SERIALIZABLE) before any query; a failed block refuses the rest",
    () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres.make({ listen: false })
        const ws = yield* walsender(fake)
        const { name } = yield* exportSnapshot(ws, "snap")
        const sql = yield* sqlSession(fake)
        const attempt = (text: string) =>
          Effect.gen(function* () {
            const error = yield* errorOf(sql.query(text))
            yield* sql.query("ROLLBACK")
            return error
          })
        const isolation = "a snapshot-importing transaction must have isolation level SERIALIZABLE or REPEATABLE READ"
        assert.deepStrictEqual(yield* attempt(`SET TRANSACTION SNAPSHOT '${name}'`), ["0A000", isolation])
        assert.deepStrictEqual(yield* attempt(`BEGIN; SET TRANSACTION SNAPSHOT '${name}'`), ["0A000", isolation])
        assert.deepStrictEqual(
          yield* attempt(`BEGIN ISOLATION LEVEL SERIALIZABLE; SET TRANSACTION SNAPSHOT '${name}'`),
          ["0A000", "a serializable transaction cannot import a snapshot from a non-serializable transaction"]
        )
        assert.deepStrictEqual(
          yield* attempt(`BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1; SET TRANSACTION SNAPSHOT '${name}'`),
          ["25001", "SET TRANSACTION SNAPSHOT must be called before any query"]
        )
        assert.deepStrictEqual(
          yield* attempt(`BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT 'xyz'`),
          ["22023", `invalid snapshot identifier: "xyz"`]
        )
        // After an error the block accepts nothing but its end, and COMMIT rolls it back.
        yield* Effect.result(sql.query("BEGIN; SELECT nonsense_function()"))
        assert.deepStrictEqual(yield* errorOf(sql.query("SELECT 1")), [
          "25P02",
          "current transaction is aborted, commands ignored until end of transaction block"
        ])
        assert.strictEqual((yield* sql.query("COMMIT"))[0]!.command, "ROLLBACK")
        assert.deepStrictEqual((yield* sql.query("SELECT 1"))[0]!.rows, [["1"]])
        // Imported, it stays usable while the exporter idles.
        yield* sql.query(importing(name))
        assert.deepStrictEqual(yield* errorOf(sql.query(`SET TRANSACTION SNAPSHOT '${name}'`)), [
          "25001",
          "SET TRANSACTION SNAPSHOT must be called before any query"
        ])
      }).pipe(Effect.scoped)
  )

  it.effect("COPY prints PostgreSQL's text format: \\N for NULL, backslash escapes, a filter, errors by name", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      yield* fake.defineTable(users)
      yield* fake.insert("users", { id: "1", name: "tab\there\nnew line\\back\r\b\f\v\u0001ë 😀", score: "5" })
      yield* fake.insert("users", { id: "2", name: "", score: null })
      yield* fake.insert("users", { id: "3", score: "500" })
      const sql = yield* sqlSession(fake)
      assert.deepStrictEqual(
        yield* copyLines(sql, `COPY (SELECT "id", "name", "score" FROM "public"."users") TO STDOUT`),
        ["1\ttab\\there\\nnew line\\\\back\\r\\b\\f\\v\u0001ë 😀\t5\n", "2\t\t\\N\n", "3\t\\N\t500\n"]
      )
      assert.deepStrictEqual(
        yield* copyLines(
          sql,
          `COPY (SELECT "score", "id" FROM "public"."users" WHERE ((score > 100) OR (id = ANY (ARRAY[1, 7])))) TO STDOUT`
        ),
        ["5\t1\n", "500\t3\n"]
      )
      assert.deepStrictEqual(yield* copyLines(sql, `COPY (SELECT  FROM "public"."users") TO STDOUT`), [
        "\n",
        "\n",
        "\n"
      ])
      assert.deepStrictEqual(yield* errorOf(sql.query(`COPY (SELECT "id" FROM "public"."nope") TO STDOUT`)), [
        "42P01",
        `relation "public.nope" does not exist`
      ])
      assert.deepStrictEqual(yield* errorOf(sql.query(`COPY (SELECT "nope" FROM "public"."users") TO STDOUT`)), [
        "42703",
        `column "nope" does not exist`
      ])
      // A binary value has no text the fake could print.
      yield* fake.insert("users", { id: "9", name: new Uint8Array([1, 2]) })
      const binary = yield* errorOf(sql.query(`COPY "users" TO STDOUT`))
      assert.strictEqual(binary[0], "0A000")
    }).pipe(Effect.scoped)
  )

  it.effect("pg_copy_logical_replication_slot makes a permanent copy at the temporary slot's positions", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      yield* fake.defineTable(users)
      const ws = yield* walsender(fake)
      yield* exportSnapshot(ws, "temp")
      yield* fake.insert("users", { id: "1" })
      const sql = yield* sqlSession(fake)
      const copied = yield* sql.query("SELECT pg_copy_logical_replication_slot('temp', 'kept', false)")
      const temp = (yield* fake.slots).find((s) => s.name === "temp")!
      assert.deepStrictEqual(copied[0]!.rows, [[`(kept,${Lsn.format(temp.confirmedFlush)})`]])
      assert.deepStrictEqual(
        yield* errorOf(sql.query("SELECT pg_copy_logical_replication_slot('temp', 'kept', false)")),
        ["42710", `replication slot "kept" already exists`]
      )
      // An ERROR on the walsender drops its temporary slots, as PostgreSQL does; the copy stays.
      yield* Effect.result(
        ws.query("START_REPLICATION SLOT nosuch LOGICAL 0/0 (proto_version '1', publication_names 'p')")
      )
      assert.deepStrictEqual(
        (yield* fake.slots).map((s) => [s.name, s.temporary, s.confirmedFlush === temp.confirmedFlush]),
        [["kept", false, true]]
      )
      assert.deepStrictEqual(
        yield* errorOf(sql.query("SELECT pg_copy_logical_replication_slot('temp', 'again', false)")),
        ["42704", `replication slot "temp" does not exist`]
      )
      assert.deepStrictEqual((yield* sql.query("SELECT pg_is_in_recovery()::text"))[0]!.rows, [["false"]])
    }).pipe(Effect.scoped)
  )
})

/** Messages of the stream through the first that matches `last`. */
const through = (replication: ReplicationShape, last: (m: WalMessage) => boolean) =>
  replication.stream.pipe(
    Stream.takeUntil(last),
    Stream.runCollect,
    Effect.map((c) => Array.from(c))
  )

/** A Replication over the fake whose snapshot sessions wait for `gate`: what is written before it opens follows the snapshot. */
const replicate = (
  fake: FakePostgresShape,
  options: Parameters<typeof Replication.make>[0],
  gate?: Deferred.Deferred<void>
) => {
  const base = Connector.make(connectionConfig(fake))
  const connector =
    gate === undefined ? base : { ...base, connectSql: Effect.andThen(Deferred.await(gate), base.connectSql) }
  return Replication.make(options).pipe(Effect.provideService(Connector, connector))
}

const reads = (messages: ReadonlyArray<WalMessage>) =>
  messages.flatMap((m) => (m._tag === "Read" ? [[m.table.name, m.new.id, m.new.name ?? null]] : []))

describe("Replication with a snapshot over the fake server", () => {
  for (const version of ["14.13", "15.8", "16.4", "17.2", "18.1"]) {
    it.effect(
      `${version}: rows before the consistent point as Read, changes after it as the stream; the slot appears once confirmed`,
      () =>
        Effect.gen(function* () {
          const fake = yield* FakePostgres.make({ listen: false, serverVersion: version })
          yield* fake.defineTable(users)
          yield* fake.createPublication("pub")
          yield* fake.insert("users", { id: "1", name: "ada" })
          yield* fake.insert("users", { id: "2", name: "grace" })
          const gate = yield* Deferred.make<void>()
          const replication = yield* replicate(fake, { slot: "app", publications: ["pub"], snapshot: "initial" }, gate)
          // The temporary slot exists: its consistent point is set. These commit after it, before the COPY runs.
          yield* fake.update("users", { id: "1", name: "ada lovelace" })
          yield* fake.insert("users", { id: "3", name: "edsger" })
          yield* Deferred.succeed(gate, undefined)
          const snapshot = yield* through(replication, (m) => m._tag === "SnapshotComplete")
          assert.deepStrictEqual(
            snapshot.map((m) => m._tag),
            ["SnapshotBegin", "Read", "Read", "SnapshotEnd", "SnapshotComplete"]
          )
          assert.deepStrictEqual(reads(snapshot), [
            ["users", 1, "ada"],
            ["users", 2, "grace"]
          ])
          const begin = snapshot[0]!
          assert.deepStrictEqual(
            begin._tag === "SnapshotBegin" ? begin.table.columns.map((c) => [c.name, c.typeOid, c.isKey]) : [],
            [
              ["id", 23, true],
              ["name", 25, false],
              ["score", 20, false]
            ]
          )
          assert.isFalse((yield* fake.slots).some((s) => s.name === "app"))
          yield* replication.commit(WalMessage.lsnToConfirm(snapshot.at(-1)!)!)
          const after = yield* through(replication, (m) => m._tag === "Insert" && m.new.id === 3)
          const changes = after.flatMap((m) =>
            m._tag === "Insert" || m._tag === "Update" ? [[m._tag, m.new.id, m.new.name ?? null]] : []
          )
          assert.deepStrictEqual(changes, [
            ["Update", 1, "ada lovelace"],
            ["Insert", 3, "edsger"]
          ])
          // The consumer confirmed the snapshot: the permanent slot exists, at the consistent point or later.
          const complete = snapshot.at(-1)!
          const slot = yield* fake.awaitSlot("app")
          assert.isFalse(slot.temporary)
          assert.isTrue(complete._tag === "SnapshotComplete" && slot.confirmedFlush >= complete.consistentPoint)
        }).pipe(Effect.scoped)
    )
  }

  it.effect(
    "when_needed streams from an existing slot; initial refuses it (AlreadyExists); initial_only keeps no slot",
    () =>
      Effect.gen(function* () {
        const fake = yield* FakePostgres.make({ listen: false })
        yield* fake.defineTable(users)
        yield* fake.createPublication("pub")
        yield* fake.insert("users", { id: "1", name: "before the slot" })
        yield* fake.createSlot("app")
        yield* fake.insert("users", { id: "2", name: "after the slot" })
        const streamed = yield* Effect.scoped(
          Effect.flatMap(replicate(fake, { slot: "app", publications: ["pub"], snapshot: "when_needed" }), (r) =>
            through(r, (m) => m._tag === "Commit")
          )
        )
        assert.deepStrictEqual(
          streamed.map((m) => m._tag),
          ["Begin", "Relation", "Insert", "Commit"]
        )
        const refused = yield* Effect.scoped(
          Effect.flip(replicate(fake, { slot: "app", publications: ["pub"], snapshot: "initial" }))
        )
        assert.strictEqual(refused.reason._tag, "AlreadyExists")
        const only = yield* Effect.scoped(
          Effect.flatMap(replicate(fake, { slot: "only", publications: ["pub"], snapshot: "initial_only" }), (r) =>
            Effect.map(Stream.runCollect(r.stream), (c) => Array.from(c))
          )
        )
        assert.deepStrictEqual(reads(only), [
          ["users", 1, "before the slot"],
          ["users", 2, "after the slot"]
        ])
        assert.strictEqual(only.at(-1)?._tag, "SnapshotComplete")
        assert.deepStrictEqual(
          (yield* fake.slots).map((s) => s.name),
          ["app"]
        )
      }).pipe(Effect.scoped)
  )
})
