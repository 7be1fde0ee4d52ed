import {
  Lsn,
  type PgoutputMessage,
  type PgoutputOptions,
  Timestamp,
  type ProtoVersion,
  UnchangedToast,
  unsafeDecodePgoutput
} from "@pgcdc/protocol"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { Change } from "../src/fake/Wal.ts"
import { FakePostgres, type FakePostgresOptions } from "../src/fake/FakePostgres.ts"
import { connect, type ScriptedClient } from "../src/fake/ScriptedClient.ts"
import type { PublishAction } from "../src/fake/FakeServer.ts"

const users = {
  name: "users",
  columns: [
    { name: "id", typeOid: 23, key: true },
    { name: "name", typeOid: 25 },
    { name: "bio", typeOid: 25 }
  ]
} as const

interface Stream {
  readonly client: ScriptedClient
  /** The next pgoutput message, decoded with the StreamStart/StreamStop context tracked. */
  readonly next: Effect.Effect<PgoutputMessage & { readonly walStart: bigint }, unknown>
  readonly take: (n: number) => Effect.Effect<ReadonlyArray<PgoutputMessage>, unknown>
}

const streaming = (
  options: FakePostgresOptions,
  startOptions: string,
  protoVersion: ProtoVersion,
  streamingMode: PgoutputOptions["streaming"] = "off"
) =>
  Effect.gen(function* () {
    const fake = yield* FakePostgres.make({ listen: false, ...options })
    yield* fake.defineTable(users)
    yield* fake.createSlot("slot")
    const client = yield* connect(yield* fake.socket)
    yield* client.login({ user: "postgres", password: "postgres", replication: "database" })
    const started = yield* client.query(`START_REPLICATION SLOT slot LOGICAL 0/0 (${startOptions})`)
    assert.strictEqual(started[started.length - 1]!._tag, "CopyBothResponse")
    // Like a real walsender, a keepalive right away: the client has not confirmed the start position yet.
    const first = yield* client.nextReplication
    assert.isTrue(first._tag === "PrimaryKeepalive" && !first.replyRequested)
    let inStream = false
    const next: Stream["next"] = Effect.gen(function* () {
      for (;;) {
        const msg = yield* client.nextReplication
        if (msg._tag !== "XLogData") continue
        const decoded = unsafeDecodePgoutput(msg.data, { protoVersion, inStream, streaming: streamingMode })
        if (decoded._tag === "StreamStart") inStream = true
        if (decoded._tag === "StreamStop") inStream = false
        return { ...decoded, walStart: msg.walStart }
      }
    })
    const take = (n: number) => Effect.forEach(Array.from({ length: n }), () => next)
    return { fake, client, next, take } as const
  })

const tags = (messages: ReadonlyArray<PgoutputMessage>) => messages.map((m) => m._tag)

describe("FakePostgres WAL streaming", () => {
  it.effect("a transaction arrives as Begin, Relation, Insert, Commit; the Relation only on first use", () =>
    Effect.gen(function* () {
      const { fake, take } = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
      const written = yield* fake.insert("users", { id: "1", name: "ada" })
      const first = yield* take(4)
      assert.deepStrictEqual(tags(first), ["Begin", "Relation", "Insert", "Commit"])
      const [begin, relation, insert, commit] = first
      assert.strictEqual(begin!._tag === "Begin" && begin.finalLsn, written.lsn)
      assert.deepStrictEqual(relation, {
        _tag: "Relation",
        xid: undefined,
        relationId: 16384,
        namespace: "public",
        relationName: "users",
        replicaIdentity: "d",
        columns: [
          { flags: 1, name: "id", typeOid: 23, typeModifier: -1 },
          { flags: 0, name: "name", typeOid: 25, typeModifier: -1 },
          { flags: 0, name: "bio", typeOid: 25, typeModifier: -1 }
        ],
        walStart: (relation as { walStart: bigint }).walStart
      })
      assert.deepStrictEqual(insert!._tag === "Insert" && insert.newTuple, ["1", "ada", null])
      assert.strictEqual(commit!._tag === "Commit" && commit.endLsn, written.endLsn)
      assert.strictEqual(commit!._tag === "Commit" && (commit as { walStart: bigint }).walStart, written.endLsn)

      yield* fake.transaction([
        Change.update("users", { id: "1", name: "ada lovelace", bio: UnchangedToast }),
        Change.delete("users", { id: "1" }),
        Change.truncate(["users"], { restartIdentity: true })
      ])
      const second = yield* take(5)
      assert.deepStrictEqual(tags(second), ["Begin", "Update", "Delete", "Truncate", "Commit"])
      const update = second[1]!
      assert.isTrue(update._tag === "Update" && update.newTuple[2] === UnchangedToast)
      assert.isTrue(update._tag === "Update" && update.key === undefined && update.old === undefined)
      assert.deepStrictEqual(second[2]!._tag === "Delete" && second[2]!.key, ["1", null, null])
      assert.isTrue(second[3]!._tag === "Truncate" && second[3]!.restartIdentity && !second[3]!.cascade)
    })
  )

  it.effect(
    "REPLICA IDENTITY FULL sends old rows; a changed key sends the old key; a redefined table a new Relation",
    () =>
      Effect.gen(function* () {
        const { fake, take } = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
        yield* fake.defineTable({ ...users, name: "full", replicaIdentity: "f" })
        yield* fake.update("full", { id: "1", name: "b" }, { id: "1", name: "a" })
        const full = yield* take(4)
        assert.deepStrictEqual(tags(full), ["Begin", "Relation", "Update", "Commit"])
        assert.deepStrictEqual(full[2]!._tag === "Update" && full[2]!.old, ["1", "a", null])
        yield* fake.update("users", { id: "2", name: "x" }, { id: "1", name: "x" })
        const keyed = yield* take(4)
        assert.deepStrictEqual(keyed[2]!._tag === "Update" && keyed[2]!.key, ["1", null, null])
        yield* fake.defineTable({ name: "users", columns: [...users.columns, { name: "age", typeOid: 23 }] })
        yield* fake.insert("users", { id: "3", age: "40" })
        const redefined = yield* take(4)
        assert.deepStrictEqual(tags(redefined), ["Begin", "Relation", "Insert", "Commit"])
        assert.strictEqual(redefined[1]!._tag === "Relation" && redefined[1]!.columns.length, 4)
      })
  )

  it.effect("only tables of the session's publications are sent; empty transactions skipped from 15, not on 14", () =>
    Effect.gen(function* () {
      for (const [serverVersion, emptyTransaction] of [
        ["16.4", []],
        ["14.13", ["Begin", "Commit"]]
      ] as const) {
        const { fake, take } = yield* streaming(
          { serverVersion },
          "proto_version '1', publication_names 'only_users'",
          1
        )
        yield* fake.defineTable({ name: "other", columns: [{ name: "id", typeOid: 23, key: true }] })
        yield* fake.createPublication("only_users", { tables: ["users"] })
        yield* fake.insert("other", { id: "1" })
        yield* fake.transaction([Change.insert("other", { id: "2" }), Change.insert("users", { id: "1" })])
        const truncated = yield* fake.truncate(["other", "users"])
        const expected = [...emptyTransaction, "Begin", "Relation", "Insert", "Commit", "Begin", "Truncate", "Commit"]
        const got = yield* take(expected.length)
        assert.deepStrictEqual(tags(got), expected, serverVersion)
        const truncate = got[got.length - 2]!
        assert.deepStrictEqual(truncate._tag === "Truncate" && truncate.relationIds, [16384])
        const commit = got[got.length - 1]!
        assert.strictEqual(commit._tag === "Commit" && commit.endLsn, truncated.endLsn)
      }
    })
  )

  it.effect("CREATE PUBLICATION over SQL: FOR TABLE, FOR TABLES IN SCHEMA, FOR ALL TABLES, WITH (publish)", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const client = yield* connect(yield* fake.socket)
      yield* client.login({ user: "postgres" })
      for (const sql of [
        `CREATE PUBLICATION by_table FOR TABLE users, audit."Log" (id) WHERE (id > 0) WITH (publish = 'insert')`,
        "CREATE PUBLICATION by_schema FOR TABLES IN SCHEMA sales",
        "CREATE PUBLICATION everything FOR ALL TABLES",
        "CREATE PUBLICATION nothing"
      ]) {
        const done = yield* client.query(sql)
        assert.deepStrictEqual(done[0], { _tag: "CommandComplete", commandTag: "CREATE PUBLICATION" })
      }
      const publishes = (
        names: ReadonlyArray<string>,
        schema: string,
        table: string,
        action: PublishAction = "insert"
      ) => fake.server.publishes(names, schema, table, action)
      assert.isTrue(publishes(["by_table"], "public", "users"))
      assert.isTrue(publishes(["by_table"], "audit", "Log"))
      assert.isFalse(publishes(["by_table"], "public", "orders"))
      assert.isTrue(publishes(["by_schema"], "sales", "orders"))
      assert.isTrue(publishes(["everything"], "x", "y"))
      assert.isFalse(publishes(["nothing", "missing"], "public", "users"))
      // publish = 'insert' sends inserts only; without the option, every kind of change.
      assert.isFalse(publishes(["by_table"], "public", "users", "update"))
      assert.isFalse(publishes(["by_table"], "public", "users", "truncate"))
      assert.isTrue(publishes(["by_table", "everything"], "public", "users", "delete"))
      assert.isTrue(publishes(["by_schema"], "sales", "orders", "truncate"))
      const again = yield* client.query("CREATE PUBLICATION nothing")
      assert.isTrue(again[0]!._tag === "ErrorResponse" && again[0]!.code === "42710")
      const empty = yield* client.query("CREATE PUBLICATION quiet FOR ALL TABLES WITH (publish = '')")
      assert.deepStrictEqual(empty[0], { _tag: "CommandComplete", commandTag: "CREATE PUBLICATION" })
      for (const action of ["insert", "update", "delete", "truncate"] as const) {
        assert.isFalse(publishes(["quiet"], "public", "users", action))
      }
      const unknown = yield* client.query("CREATE PUBLICATION odd FOR ALL TABLES WITH (publish = 'insert, Vacuum')")
      assert.isTrue(unknown[0]!._tag === "ErrorResponse" && unknown[0]!.code === "42601")
      assert.include(
        unknown[0]!._tag === "ErrorResponse" ? unknown[0]!.message : "",
        'unrecognized value for publication option "publish": "vacuum"'
      )
    })
  )

  it.effect("column lists over SQL and their resolution per session, as PostgreSQL 15 to 18 resolve them", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const table = yield* fake.defineTable({
        name: "people",
        columns: [
          { name: "id", typeOid: 23, key: true },
          { name: "Name", typeOid: 25 },
          { name: "email", typeOid: 25 }
        ]
      })
      const client = yield* connect(yield* fake.socket)
      yield* client.login({ user: "postgres" })
      for (const sql of [
        `CREATE PUBLICATION pub_list FOR TABLE people ("Name", id) WHERE (id > 0), other (x, y)`,
        `CREATE PUBLICATION pub_same FOR TABLE public.people (id, "Name")`,
        `CREATE PUBLICATION pub_full FOR TABLE people (email, "Name", id)`,
        "CREATE PUBLICATION pub_none FOR TABLE people WITH (publish = 'insert')",
        "CREATE PUBLICATION pub_email FOR TABLE people (id, email)",
        "CREATE PUBLICATION pub_all FOR ALL TABLES"
      ]) {
        const done = yield* client.query(sql)
        assert.deepStrictEqual(done[0], { _tag: "CommandComplete", commandTag: "CREATE PUBLICATION" }, sql)
      }
      const columns = (names: ReadonlyArray<string>) => {
        try {
          return fake.server.publishedColumns(names, table)
        } catch (e) {
          return String(e)
        }
      }
      // Indexes into the table's columns, in table order, whatever the order of the list.
      assert.deepStrictEqual(columns(["pub_list"]), [0, 1])
      assert.deepStrictEqual(columns(["pub_list", "pub_same"]), [0, 1])
      // A list of every column is no list; FOR ALL TABLES and a table without a list send every column.
      assert.isUndefined(columns(["pub_full", "pub_none", "pub_all"]))
      // Publications that disagree, whatever they publish, are an error at the table's first change.
      const conflict = 'Error: cannot use different column lists for table "public.people" in different publications'
      assert.strictEqual(columns(["pub_list", "pub_email"]), conflict)
      assert.strictEqual(columns(["pub_list", "pub_none"]), conflict)
      assert.strictEqual(columns(["pub_email", "pub_all"]), conflict)
      // Publications that do not hold the table do not count.
      assert.deepStrictEqual(columns(["pub_email", "missing"]), [0, 2])
    }).pipe(Effect.scoped)
  )

  it.effect("UPDATE and DELETE are checked against the publications' filters, lists and the replica identity", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const columns = [
        { name: "id", typeOid: 23, key: true },
        { name: "v", typeOid: 25 }
      ]
      yield* fake.defineTable({ name: "filtered", columns })
      yield* fake.defineTable({ name: "listed", columns })
      yield* fake.defineTable({ name: "full", columns, replicaIdentity: "f" })
      yield* fake.defineTable({ name: "keyless", columns: [{ name: "id", typeOid: 23 }] })
      yield* fake.defineTable({ name: "quiet", columns: [{ name: "id", typeOid: 23 }] })
      // With no publication at all nothing is published, so nothing is checked.
      yield* fake.update("keyless", { id: "1" })
      yield* fake.createPublication("by_filter", { tables: ["filtered"], rowFilters: { filtered: "v = 'x'" } })
      yield* fake.createPublication("by_list", { tables: ["listed"], columns: { listed: ["v"] } })
      yield* fake.createPublication("by_full", {
        tables: ["full"],
        columns: { full: ["id", "v"] },
        rowFilters: { full: "v = 'x'" }
      })
      yield* fake.createPublication("inserts_only", {
        tables: ["keyless", "quiet"],
        publish: ["insert"],
        rowFilters: { quiet: "id > 0" }
      })
      yield* fake.createPublication("keyless_all", { tables: ["keyless"] })
      const before = yield* fake.currentLsn
      const refusal = (e: Effect.Effect<unknown, { readonly message: string }>) =>
        Effect.map(Effect.flip(e), (error) => error.message)
      assert.strictEqual(
        yield* refusal(fake.update("filtered", { id: "1", v: "y" })),
        'cannot update table "filtered": Column used in the publication WHERE expression is not part of the replica identity.'
      )
      assert.strictEqual(
        yield* refusal(fake.delete("filtered", { id: "1" })),
        'cannot delete from table "filtered": Column used in the publication WHERE expression is not part of the replica identity.'
      )
      assert.strictEqual(
        yield* refusal(fake.update("listed", { id: "1", v: "y" })),
        'cannot update table "listed": Column list used by the publication does not cover the replica identity.'
      )
      // Under REPLICA IDENTITY FULL a filter may read any column, but no column list is allowed, even a whole one.
      assert.strictEqual(
        yield* refusal(fake.update("full", { id: "1", v: "y" }, { id: "1", v: "x" })),
        'cannot update table "full": Column list used by the publication does not cover the replica identity.'
      )
      assert.include(
        yield* refusal(fake.delete("keyless", { id: "1" })),
        'cannot delete from table "keyless" because it does not have a replica identity and publishes deletes'
      )
      // Refused changes write nothing; inserts are never checked; a publication of inserts only constrains nothing.
      assert.strictEqual(yield* fake.currentLsn, before)
      yield* fake.insert("filtered", { id: "2", v: "y" })
      yield* fake.update("quiet", { id: "1" })
    }).pipe(Effect.scoped)
  )

  it.effect("a column list is a syntax error on PostgreSQL 14, as there", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false, serverVersion: "14.13" })
      const client = yield* connect(yield* fake.socket)
      yield* client.login({ user: "postgres" })
      const sql = "CREATE PUBLICATION p FOR TABLE people (id, name)"
      const refused = yield* client.query(sql)
      const error = refused[0]!
      assert.isTrue(error._tag === "ErrorResponse" && error.code === "42601")
      assert.isTrue(error._tag === "ErrorResponse" && error.message === 'syntax error at or near "("')
      // 1-based, as PostgreSQL 14 reports it for this statement (checked against embedded 14).
      assert.isTrue(error._tag === "ErrorResponse" && error.position === String(sql.indexOf("(") + 1))
      assert.isFalse(fake.server.publications.has("p"))
      // Row filters too; 14 reports the keyword as written (checked against embedded 14: position 35 here).
      const filtered = yield* client.query("CREATE PUBLICATION pf FOR TABLE t Where (n > 100)")
      assert.isTrue(filtered[0]!._tag === "ErrorResponse" && filtered[0]!.code === "42601")
      assert.isTrue(filtered[0]!._tag === "ErrorResponse" && filtered[0]!.message === 'syntax error at or near "Where"')
      assert.isTrue(filtered[0]!._tag === "ErrorResponse" && filtered[0]!.position === "35")
    }).pipe(Effect.scoped)
  )

  it.effect("a row filter the fake cannot evaluate is refused when the publication is created, naming why", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const client = yield* connect(yield* fake.socket)
      yield* client.login({ user: "postgres" })
      const refused = yield* client.query("CREATE PUBLICATION p FOR TABLE t WHERE (lower(name) = 'a')")
      const error = refused[0]!
      assert.isTrue(error._tag === "ErrorResponse" && error.code === "0A000")
      assert.include(
        error._tag === "ErrorResponse" ? error.message : "",
        "cannot evaluate this row filter: the function lower()"
      )
      assert.isFalse(fake.server.publications.has("p"))
      const api = yield* Effect.flip(fake.createPublication("q", { tables: ["t"], rowFilters: { t: "n + 1 > 2" } }))
      assert.include(api.message, 'cannot evaluate the row filter of t (n + 1 > 2): "+"')
      const accepted = yield* client.query(
        "CREATE PUBLICATION ok FOR TABLE t (id, n) WHERE ((n > 100) AND (id <> 3)), u"
      )
      assert.deepStrictEqual(accepted[0], { _tag: "CommandComplete", commandTag: "CREATE PUBLICATION" })
      assert.deepStrictEqual(fake.server.publications.get("ok")?.columns.get("public.t"), ["id", "n"])
      assert.isTrue(fake.server.publications.get("ok")?.rowFilters.has("public.t"))
      assert.isTrue(fake.server.publications.get("ok")?.tables.has("public.u"))
    }).pipe(Effect.scoped)
  )

  it.effect("a publication that does not exist: an ERROR at the first change before 18, skipped from 18 on", () =>
    Effect.gen(function* () {
      // 14 to 17 fail when pgoutput loads the session's publications (checked against embedded 14 to 17); 18 skips it.
      const old = yield* streaming({ serverVersion: "17.2" }, "proto_version '1', publication_names 'pub,nosuch'", 1)
      yield* old.fake.createPublication("pub")
      yield* old.fake.insert("users", { id: "1", name: "ada" })
      const ended = yield* old.client.until("ReadyForQuery")
      const error = ended.find((m) => m._tag === "ErrorResponse")
      assert.isTrue(error?._tag === "ErrorResponse" && error.code === "42704" && error.severity === "ERROR")
      assert.strictEqual(error?._tag === "ErrorResponse" ? error.message : "", 'publication "nosuch" does not exist')
      // Nothing of the transaction went out before the error.
      assert.isFalse(ended.some((m) => m._tag === "CopyData"))

      const now = yield* streaming({ serverVersion: "18.1" }, "proto_version '1', publication_names 'pub,nosuch'", 1)
      yield* now.fake.createPublication("pub")
      yield* now.fake.insert("users", { id: "1", name: "ada" })
      assert.deepStrictEqual(tags(yield* now.take(4)), ["Begin", "Relation", "Insert", "Commit"])
    }).pipe(Effect.scoped)
  )

  it.effect("a row filter naming a column the table lacks ends the stream with an error, not a crash", () =>
    Effect.gen(function* () {
      const { fake, client } = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
      yield* fake.createPublication("pub", { tables: ["users"], rowFilters: { users: "nosuch > 1" } })
      yield* fake.insert("users", { id: "1", name: "ada" })
      const ended = yield* client.until("ReadyForQuery")
      const error = ended.find((m) => m._tag === "ErrorResponse")
      assert.isTrue(error?._tag === "ErrorResponse" && error.code === "42703" && error.severity === "ERROR")
      assert.include(error?._tag === "ErrorResponse" ? error.message : "", 'column "nosuch" does not exist')
    }).pipe(Effect.scoped)
  )

  it.effect("logical messages only with messages 'true'; origins are filtered by origin 'none'", () =>
    Effect.gen(function* () {
      const { fake, take } = yield* streaming(
        { serverVersion: "16.4" },
        "proto_version '4', publication_names 'pub', messages 'true', origin 'none'",
        4
      )
      yield* fake.message("audit", "hello")
      yield* fake.transaction([Change.insert("users", { id: "9" })], { origin: "upstream" })
      yield* fake.transaction([Change.message("tx", "in-tx"), Change.insert("users", { id: "1" })])
      const got = yield* take(6)
      assert.deepStrictEqual(tags(got), ["Message", "Begin", "Message", "Relation", "Insert", "Commit"])
      assert.isTrue(got[0]!._tag === "Message" && !got[0]!.transactional && got[0]!.prefix === "audit")
      assert.strictEqual(got[0]!._tag === "Message" && new TextDecoder().decode(got[0]!.content), "hello")
      assert.isTrue(got[2]!._tag === "Message" && got[2]!.transactional)
      // Without `messages`, nothing is sent for a message.
      const plain = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
      yield* plain.fake.message("audit", "ignored")
      yield* plain.fake.insert("users", { id: "1" })
      assert.deepStrictEqual(tags(yield* plain.take(4)), ["Begin", "Relation", "Insert", "Commit"])
    })
  )

  it.effect(
    "streamed transactions: StreamStart/Stop segments with xids, StreamCommit; aborts with abort info on parallel",
    () =>
      Effect.gen(function* () {
        const { fake, take } = yield* streaming(
          { serverVersion: "16.4" },
          "proto_version '4', publication_names 'pub', streaming 'parallel'",
          4,
          "parallel"
        )
        const committed = yield* fake.streamed(
          [
            Change.insert("users", { id: "1" }),
            Change.insert("users", { id: "2" }),
            Change.insert("users", { id: "3" })
          ],
          { segments: 2 }
        )
        const got = yield* take(9)
        assert.deepStrictEqual(tags(got), [
          "StreamStart",
          "Relation",
          "Insert",
          "Insert",
          "StreamStop",
          "StreamStart",
          "Insert",
          "StreamStop",
          "StreamCommit"
        ])
        assert.isTrue(got[0]!._tag === "StreamStart" && got[0]!.firstSegment && got[0]!.xid === committed.xid)
        assert.isTrue(got[5]!._tag === "StreamStart" && !got[5]!.firstSegment)
        assert.strictEqual(got[1]!._tag === "Relation" && got[1]!.xid, committed.xid)
        assert.strictEqual(got[2]!._tag === "Insert" && got[2]!.xid, committed.xid)
        assert.strictEqual(got[8]!._tag === "StreamCommit" && got[8]!.endLsn, committed.endLsn)
        const aborted = yield* fake.streamed([Change.insert("users", { id: "4" })], { abort: true })
        const abort = yield* take(4)
        assert.deepStrictEqual(tags(abort), ["StreamStart", "Insert", "StreamStop", "StreamAbort"])
        const last = abort[3]!
        assert.isTrue(last._tag === "StreamAbort" && last.xid === aborted.xid && last.abortLsn === aborted.lsn)
        // A session without streaming gets the committed one as a plain transaction and never sees the aborted one.
        const plain = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
        yield* plain.fake.streamed([Change.insert("users", { id: "1" }), Change.insert("users", { id: "2" })])
        yield* plain.fake.streamed([Change.insert("users", { id: "3" })], { abort: true })
        yield* plain.fake.insert("users", { id: "5" })
        assert.deepStrictEqual(tags(yield* plain.take(8)), [
          "Begin",
          "Relation",
          "Insert",
          "Insert",
          "Commit",
          "Begin",
          "Insert",
          "Commit"
        ])
      })
  )

  it.effect(
    "two-phase: BeginPrepare/Prepare then CommitPrepared or RollbackPrepared; without two_phase at commit",
    () =>
      Effect.gen(function* () {
        const { fake, take } = yield* streaming(
          { serverVersion: "15.8" },
          "proto_version '3', publication_names 'pub', two_phase 'on'",
          3
        )
        const prepared = yield* fake.prepared("gid-1", [Change.insert("users", { id: "1" })])
        const committed = yield* fake.commitPrepared("gid-1")
        yield* fake.prepared("gid-2", [Change.insert("users", { id: "2" })])
        yield* fake.rollbackPrepared("gid-2")
        const got = yield* take(8)
        assert.deepStrictEqual(tags(got), [
          "BeginPrepare",
          "Relation",
          "Insert",
          "Prepare",
          "CommitPrepared",
          "BeginPrepare",
          "Insert",
          "Prepare"
        ])
        assert.isTrue(got[3]!._tag === "Prepare" && got[3]!.gid === "gid-1" && got[3]!.endLsn === prepared.endLsn)
        assert.isTrue(got[4]!._tag === "CommitPrepared" && got[4]!.endLsn === committed.endLsn)
        const rollback = yield* take(1)
        assert.isTrue(rollback[0]!._tag === "RollbackPrepared" && rollback[0]!.gid === "gid-2")

        const plain = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
        yield* plain.fake.prepared("g", [Change.insert("users", { id: "1" })])
        yield* plain.fake.prepared("h", [Change.insert("users", { id: "2" })])
        yield* plain.fake.rollbackPrepared("h")
        const done = yield* plain.fake.commitPrepared("g")
        const asPlain = yield* plain.take(4)
        assert.deepStrictEqual(tags(asPlain), ["Begin", "Relation", "Insert", "Commit"])
        assert.strictEqual(asPlain[3]!._tag === "Commit" && asPlain[3]!.endLsn, done.endLsn)
      })
  )

  it.effect("a large prepared transaction streams as segments and StreamPrepare with streaming and two_phase", () =>
    Effect.gen(function* () {
      const { fake, take } = yield* streaming(
        { serverVersion: "16.4" },
        "proto_version '4', publication_names 'pub', streaming 'on', two_phase 'on'",
        4,
        "on"
      )
      const prepared = yield* fake.prepared(
        "big",
        [Change.insert("users", { id: "1" }), Change.insert("users", { id: "2" })],
        {
          segments: 2
        }
      )
      yield* fake.commitPrepared("big")
      const got = yield* take(9)
      assert.deepStrictEqual(tags(got), [
        "StreamStart",
        "Relation",
        "Insert",
        "StreamStop",
        "StreamStart",
        "Insert",
        "StreamStop",
        "StreamPrepare",
        "CommitPrepared"
      ])
      const streamPrepare = got[7]!
      assert.isTrue(
        streamPrepare._tag === "StreamPrepare" && streamPrepare.gid === "big" && streamPrepare.xid === prepared.xid
      )
    })
  )

  it.effect("a column of a non-catalog type gets a Type message before the Relation", () =>
    Effect.gen(function* () {
      const { fake, take } = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
      yield* fake.defineTable({
        name: "moods",
        columns: [
          { name: "id", typeOid: 23, key: true },
          { name: "mood", typeOid: 16_500, typeName: "mood" }
        ]
      })
      yield* fake.insert("moods", { id: "1", mood: "happy" })
      const got = yield* take(5)
      assert.deepStrictEqual(tags(got), ["Begin", "Type", "Relation", "Insert", "Commit"])
      assert.isTrue(got[1]!._tag === "Type" && got[1]!.typeName === "mood" && got[1]!.namespace === "public")
    })
  )

  it.effect("status updates move confirmed_flush forward only; START_REPLICATION 0/0 resumes after it", () =>
    Effect.gen(function* () {
      const { fake, client } = yield* streaming({}, "proto_version '1', publication_names 'pub'", 1)
      const first = yield* fake.insert("users", { id: "1" })
      const second = yield* fake.insert("users", { id: "2" })
      // Each batch of WAL is followed by a keepalive while the client has not confirmed it (walEnd = sent so far).
      const received = yield* Effect.forEach(Array.from({ length: 9 }), () => client.nextReplication)
      assert.deepStrictEqual(
        received.map((m) => (m._tag === "XLogData" ? "w" : `k ${Lsn.format(m.walEnd)}`)),
        ["w", "w", "w", "w", `k ${Lsn.format(first.endLsn)}`, "w", "w", "w", `k ${Lsn.format(second.endLsn)}`]
      )
      const update = (flushed: Lsn.Lsn, replyRequested = false) =>
        client.sendReplication({
          _tag: "StandbyStatusUpdate",
          written: flushed,
          flushed,
          applied: flushed,
          clientTime: 0n,
          replyRequested
        })
      yield* update(first.endLsn)
      yield* fake.awaitConfirmedFlush("slot", first.endLsn)
      assert.strictEqual(yield* fake.confirmedFlush("slot"), first.endLsn)
      yield* update(Lsn.zero) // never backwards
      const updates = yield* fake.awaitStatusUpdates(2)
      assert.strictEqual(updates[1]!.update.flushed, Lsn.zero)
      assert.strictEqual(yield* fake.confirmedFlush("slot"), first.endLsn)
      // A reply request is answered with a keepalive at once.
      yield* update(first.endLsn, true)
      const pong = yield* client.nextReplication
      assert.isTrue(pong._tag === "PrimaryKeepalive" && !pong.replyRequested && pong.walEnd === second.endLsn)
      // CopyDone ends the stream the way the walsender does.
      yield* client.send({ _tag: "CopyDone" })
      const end = yield* client.until("ReadyForQuery")
      assert.deepStrictEqual(
        end.map((m) => (m._tag === "CommandComplete" ? m.commandTag : m._tag)),
        ["CopyDone", "COPY 0", "START_REPLICATION", "ReadyForQuery"]
      )
      // Restarting from 0/0 resumes at the confirmed position: only the second transaction comes again.
      yield* client.query("START_REPLICATION SLOT slot LOGICAL 0/0 (proto_version '1', publication_names 'pub')")
      const replay = yield* client.nextReplication
      assert.isTrue(replay._tag === "XLogData")
      const begin = unsafeDecodePgoutput(replay._tag === "XLogData" ? replay.data : new Uint8Array(), {
        protoVersion: 1,
        inStream: false
      })
      assert.isTrue(begin._tag === "Begin" && begin.finalLsn === second.lsn)
    })
  )
})

describe("FakePostgres keepalives and wal_sender_timeout (TestClock)", () => {
  it.effect(
    "idle keepalives every keepaliveInterval; a reply request at half the timeout; silence is disconnected",
    () =>
      Effect.gen(function* () {
        const { fake, client } = yield* streaming(
          { walSenderTimeout: "60 seconds", keepaliveInterval: "10 seconds" },
          "proto_version '1', publication_names 'pub'",
          1
        )
        yield* TestClock.adjust("10 seconds")
        const idle = yield* client.nextReplication
        assert.isTrue(idle._tag === "PrimaryKeepalive" && !idle.replyRequested)
        assert.strictEqual(idle._tag === "PrimaryKeepalive" && Timestamp.toEpochMicros(idle.serverTime), 10_000_000n)
        yield* TestClock.adjust("20 seconds")
        // t=20s: another idle keepalive; t=30s: half of wal_sender_timeout without a reply, so a reply request.
        const again = yield* client.nextReplication
        assert.isTrue(again._tag === "PrimaryKeepalive" && !again.replyRequested)
        const ping = yield* client.nextReplication
        assert.isTrue(ping._tag === "PrimaryKeepalive" && ping.replyRequested)
        assert.strictEqual(ping._tag === "PrimaryKeepalive" && Timestamp.toEpochMicros(ping.serverTime), 30_000_000n)
        yield* TestClock.adjust("30 seconds")
        const [ended] = yield* fake.awaitDisconnections(1)
        assert.strictEqual(ended!.reason, "timeout")
        assert.strictEqual(ended!.message, "terminating walsender process due to replication timeout")
        assert.strictEqual(ended!.at, 60_000)
        // Like the real walsender, no ErrorResponse: the connection just ends.
        const tail: Array<string> = []
        for (;;) {
          const rest = yield* Effect.result(client.next)
          if (rest._tag === "Failure") {
            assert.strictEqual(rest.failure._tag, "SocketError")
            break
          }
          tail.push(rest.success._tag)
        }
        assert.deepStrictEqual(tail, ["CopyData", "CopyData"]) // the idle keepalives at 40s and 50s
      })
  )

  it.effect("a client that answers keeps the connection", () =>
    Effect.gen(function* () {
      const { fake, client } = yield* streaming(
        { walSenderTimeout: "60 seconds", keepaliveInterval: 0 },
        "proto_version '1', publication_names 'pub'",
        1
      )
      for (let i = 0; i < 4; i++) {
        yield* TestClock.adjust("30 seconds")
        const ping = yield* client.nextReplication
        assert.isTrue(ping._tag === "PrimaryKeepalive" && ping.replyRequested)
        yield* client.sendReplication({
          _tag: "StandbyStatusUpdate",
          written: Lsn.zero,
          flushed: Lsn.zero,
          applied: Lsn.zero,
          clientTime: 0n,
          replyRequested: false
        })
        yield* fake.awaitStatusUpdates(i + 1)
      }
      assert.deepStrictEqual(yield* fake.disconnections, [])
      assert.strictEqual(yield* fake.connectionCount, 1)
    })
  )
})

describe("FakePostgres faults", () => {
  const start = streaming({}, "proto_version '1', publication_names 'pub'", 1)

  it.effect("dropConnections ends the socket without a message", () =>
    Effect.gen(function* () {
      const { fake, client } = yield* start
      yield* fake.dropConnections
      const result = yield* Effect.result(client.next)
      assert.isTrue(result._tag === "Failure" && result.failure._tag === "SocketError")
      assert.strictEqual((yield* fake.disconnections)[0]!.reason, "fault")
      assert.isUndefined((yield* fake.slots)[0]!.activePid)
    })
  )

  it.effect("failWith: FATAL closes; ERROR ends the stream and returns to idle", () =>
    Effect.gen(function* () {
      const a = yield* start
      yield* a.fake.failWith({ code: "57P01", message: "terminating connection due to administrator command" })
      const fatal = yield* a.client.next
      assert.isTrue(fatal._tag === "ErrorResponse" && fatal.code === "57P01" && fatal.severity === "FATAL")
      assert.isTrue((yield* Effect.result(a.client.next))._tag === "Failure")

      const b = yield* start
      yield* b.fake.failWith({
        severity: "ERROR",
        code: "58P01",
        message: "requested WAL segment has already been removed"
      })
      const after = yield* b.client.until("ReadyForQuery")
      assert.deepStrictEqual(
        after.map((m) => m._tag),
        ["ErrorResponse", "ReadyForQuery"]
      )
      assert.isTrue(after[0]!._tag === "ErrorResponse" && after[0]!.code === "58P01")
    })
  )

  it.effect("stall holds everything back, keepalives included, until resume", () =>
    Effect.gen(function* () {
      const { fake, take } = yield* start
      const session = [...fake.server.sessions][0]!
      const written: Array<number> = []
      // Watch the transport: nothing may reach it while stalled.
      const unsubscribe = fake.server.subscribe(() => written.push(fake.server.wal.entries.length))
      yield* fake.stall
      yield* fake.insert("users", { id: "1" })
      yield* fake.keepalive({ replyRequested: true })
      yield* TestClock.adjust("15 seconds")
      assert.isFalse(session.closed)
      assert.strictEqual(session.heldBytes > 0, true)
      yield* fake.resume
      assert.strictEqual(session.heldBytes, 0)
      unsubscribe()
      assert.deepStrictEqual(tags(yield* take(4)), ["Begin", "Relation", "Insert", "Commit"])
      assert.isTrue(written.length > 0)
    })
  )

  it.effect("corrupt bytes fail the client's framing with a typed ProtocolError", () =>
    Effect.gen(function* () {
      const { fake, client } = yield* start
      yield* fake.corrupt()
      const result = yield* Effect.result(client.next)
      assert.isTrue(result._tag === "Failure" && result.failure._tag === "ProtocolError")
      assert.isTrue(
        result._tag === "Failure" && "reason" in result.failure && result.failure.reason === "LengthOutOfRange"
      )
    })
  )
})
