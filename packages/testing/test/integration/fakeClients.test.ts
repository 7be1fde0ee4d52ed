/**
 * The fake server against third-party and real peers: our Connection and node-postgres over the loopback listener,
 * and the same commands sent to embedded PostgreSQL 18 and to the fake, compared answer by answer.
 */
import { Connection, ReplicationCommands } from "@pgcdc/connection"
import {
  type Backend,
  type BackendMessage,
  encodeReplicationToBytes,
  unsafeDecodePgoutput,
  unsafeDecodeReplication
} from "@pgcdc/protocol"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import pg from "pg"
import { tcpConnectionConfig } from "../../src/fake/FakeConnection.ts"
import { FakePostgres } from "../../src/fake/FakePostgres.ts"
import { Change } from "../../src/fake/Wal.ts"
import { connect } from "../../src/fake/ScriptedClient.ts"
import { TestDatabase } from "../../src/TestDatabase.ts"

const users = {
  name: "users",
  columns: [
    { name: "id", typeOid: 23, key: true },
    { name: "name", typeOid: 25 }
  ]
} as const

interface PgOutcome {
  readonly command?: string | null
  readonly fields?: ReadonlyArray<readonly [string, number]>
  readonly error?: readonly [string | undefined, string]
}

/** Runs each statement on its own replication-mode node-postgres connection (a started copy ends a session). */
const runPg = (url: string, statements: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const out: Array<PgOutcome> = []
    for (const sql of statements) {
      const client = new pg.Client({ connectionString: url, replication: "database" } as pg.ClientConfig)
      client.on("error", () => {})
      await client.connect()
      try {
        const r = await client.query(sql)
        out.push({ command: r.command, fields: r.fields.map((f) => [f.name, f.dataTypeID] as const) })
      } catch (e) {
        const err = e as { code?: string; message: string }
        out.push({ error: [err.code, err.message] })
      }
      await client.end()
    }
    return out
  })

describe("FakePostgres with other clients (loopback TCP)", () => {
  it.live("our Connection: SCRAM login, replication commands, START_REPLICATION, acknowledgements", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ auth: "scram-sha-256", password: "pw" })
      yield* fake.defineTable(users)
      const conn = yield* Connection.make(tcpConnectionConfig(fake))
      assert.strictEqual(conn.serverVersion, 180001)
      const identity = yield* ReplicationCommands.identifySystem(conn)
      assert.strictEqual(identity.dbname, "postgres")
      const slot = yield* ReplicationCommands.createLogicalSlot(conn, { slotName: "app_slot" })
      assert.strictEqual(slot.slotName, "app_slot")
      // The copy holds the session until its scope closes.
      const written = yield* Effect.scoped(
        Effect.gen(function* () {
          const copy = yield* conn.copyBoth(
            "START_REPLICATION SLOT app_slot LOGICAL 0/0 (proto_version '1', publication_names 'app')"
          )
          const written = yield* fake.insert("users", { id: "7", name: "grace" })
          const payloads = yield* copy.messages.pipe(
            Stream.map((p) => unsafeDecodeReplication(p.slice())),
            Stream.filter((m) => m._tag === "XLogData"),
            Stream.take(4),
            Stream.runCollect
          )
          const decoded = Array.from(payloads, (m) =>
            unsafeDecodePgoutput(m._tag === "XLogData" ? m.data : new Uint8Array(), {
              protoVersion: 1,
              inStream: false
            })
          )
          assert.deepStrictEqual(
            decoded.map((m) => m._tag),
            ["Begin", "Relation", "Insert", "Commit"]
          )
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
          yield* fake.awaitConfirmedFlush("app_slot", written.endLsn)
          yield* copy.done
          return written
        })
      )
      const again = yield* ReplicationCommands.identifySystem(conn)
      assert.strictEqual(again.xlogPos, written.endLsn)
    }).pipe(Effect.scoped)
  )

  it.live("node-postgres in replication mode: SCRAM, IDENTIFY_SYSTEM, slot creation, server errors", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ auth: "scram-sha-256", serverVersion: "17.2" })
      const results = yield* runPg(fake.url, [
        "IDENTIFY_SYSTEM",
        "CREATE_REPLICATION_SLOT pg_slot LOGICAL pgoutput (SNAPSHOT 'nothing')",
        "START_REPLICATION SLOT pg_slot LOGICAL 0/0 (proto_version '9', publication_names 'p')"
      ])
      assert.deepStrictEqual(results[0]!.fields, [
        ["systemid", 25],
        ["timeline", 20],
        ["xlogpos", 25],
        ["dbname", 25]
      ])
      assert.strictEqual(results[1]!.command, "CREATE") // node-postgres keeps the first word of the tag
      assert.deepStrictEqual(results[2]!.error, [
        "0A000",
        "client sent proto_version=9 but server only supports protocol 4 or lower"
      ])
      const wrong = yield* Effect.promise(() =>
        new pg.Client({
          connectionString: fake.url.replace(":postgres@", ":nope@"),
          replication: "database"
        } as pg.ClientConfig)
          .connect()
          .then(
            () => "connected",
            (e: { code?: string }) => e.code
          )
      )
      assert.strictEqual(wrong, "28P01")
    }).pipe(Effect.scoped)
  )
})

/** Statements whose answers (result columns and types, or SQLSTATE and message) must match the real server's. */
const statements = [
  "IDENTIFY_SYSTEM",
  "SHOW wal_segment_size",
  "SHOW nosuch",
  "CREATE_REPLICATION_SLOT cmp LOGICAL pgoutput NOEXPORT_SNAPSHOT",
  "CREATE_REPLICATION_SLOT cmp LOGICAL pgoutput NOEXPORT_SNAPSHOT",
  "CREATE_REPLICATION_SLOT cmp1 LOGICAL pgoutput (SNAPSHOT 'nothing')",
  "CREATE_REPLICATION_SLOT cmp2 LOGICAL pgoutput (SNAPSHOT 'bogus')",
  "CREATE_REPLICATION_SLOT cmp3 LOGICAL pgoutput (BOGUS)",
  "CREATE_REPLICATION_SLOT cmp4 LOGICAL nosuchplugin",
  "CREATE_REPLICATION_SLOT cmp5 LOGICAL pgoutput TWO_PHASE",
  "CREATE_REPLICATION_SLOT phys PHYSICAL",
  "READ_REPLICATION_SLOT cmp",
  "READ_REPLICATION_SLOT phys",
  "READ_REPLICATION_SLOT nosuch",
  "DROP_REPLICATION_SLOT nosuch",
  "DROP_REPLICATION_SLOT phys",
  "TIMELINE_HISTORY 1",
  "START_REPLICATION SLOT nosuch LOGICAL 0/0 (proto_version '1', publication_names 'p')",
  "START_REPLICATION SLOT cmp PHYSICAL 0/0",
  "START_REPLICATION SLOT cmp LOGICAL 0/0",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '1')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '9', publication_names 'p')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version 'x', publication_names 'p')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '1', publication_names 'p', streaming 'on')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '2', publication_names 'p', streaming 'parallel')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '2', publication_names 'p', streaming 'bogus')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '1', publication_names 'p', two_phase 'on')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '4', publication_names 'p', origin 'bogus')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '2', publication_names 'p', binary 'maybe')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '2', publication_names 'p', messages 'on', messages 'on')",
  "START_REPLICATION SLOT cmp LOGICAL 0/0 (proto_version '2', publication_names 'p', bogus 'x')",
  "DROP_REPLICATION_SLOT cmp",
  "CREATE PUBLICATION cmp_pub FOR ALL TABLES WITH (publish = 'insert, Vacuum')",
  "CREATE PUBLICATION cmp_pub FOR ALL TABLES WITH (publish = 'insert, delete')",
  "CREATE PUBLICATION cmp_pub FOR ALL TABLES",
  "DROP PUBLICATION cmp_pub",
  "SELECT 1",
  "identify_system",
  "BOGUS STATEMENT"
]

const compareStatements = (serverVersion: string) =>
  Effect.gen(function* () {
    const db = yield* TestDatabase
    const fake = yield* FakePostgres.make({ serverVersion })
    const real = yield* runPg(db.url, statements)
    const ours = yield* runPg(fake.url, statements)
    for (let i = 0; i < statements.length; i++) {
      assert.deepStrictEqual(ours[i], real[i], `${serverVersion}: ${statements[i]}`)
    }
  }).pipe(Effect.scoped)

describe("FakePostgres compared with real PostgreSQL 14", () => {
  it.layer(TestDatabase.layer({ major: 14 }), { timeout: "60 seconds" })((it) => {
    it.effect("the same commands get the same result columns, SQLSTATEs and messages", () => compareStatements("14.23"))
  })
})

describe("FakePostgres compared with real PostgreSQL 18", () => {
  it.layer(TestDatabase.layer({ major: 18 }), { timeout: "60 seconds" })((it) => {
    it.effect("the same commands get the same result columns, SQLSTATEs and messages", () => compareStatements("18.4"))

    it.effect("the same XLogData framing for a transaction and a logical message", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const fake = yield* FakePostgres.make({ serverVersion: "18.4" })
        yield* fake.defineTable({
          name: "shape",
          columns: [
            { name: "id", typeOid: 23, key: true },
            { name: "v", typeOid: 25 }
          ]
        })
        yield* Effect.promise(async () => {
          const c = new pg.Client(db.url)
          await c.connect()
          await c.query("CREATE TABLE shape (id int PRIMARY KEY, v text); CREATE PUBLICATION shape_pub FOR TABLE shape")
          await c.end()
        })
        const writeReal = Effect.promise(async () => {
          const c = new pg.Client(db.url)
          await c.connect()
          await c.query("INSERT INTO shape VALUES (1, 'a'), (2, 'b')")
          await c.query("SELECT pg_logical_emit_message(false, 'pfx', 'hello')")
          await c.end()
        })
        const writeFake = Effect.gen(function* () {
          yield* fake.transaction([
            Change.insert("shape", { id: "1", v: "a" }),
            Change.insert("shape", { id: "2", v: "b" })
          ])
          yield* fake.message("pfx", "hello")
        })
        const shape = (host: string, port: number, write: Effect.Effect<void, unknown>) =>
          Effect.gen(function* () {
            const client = yield* connect(yield* NodeSocket.makeNet({ host, port }))
            yield* client.login({ user: "postgres", password: "postgres", replication: "database" })
            yield* client.query("CREATE_REPLICATION_SLOT shape_slot LOGICAL pgoutput (SNAPSHOT 'nothing')")
            yield* client.query(
              "START_REPLICATION SLOT shape_slot LOGICAL 0/0 (proto_version '1', publication_names 'shape_pub', messages 'true')"
            )
            yield* write
            const out: Array<string> = []
            let end = 0n
            while (out.length === 0 || !out[out.length - 1]!.startsWith("Message")) {
              const m = yield* client.nextReplication
              if (m._tag !== "XLogData") continue // keepalives: how many depends on the real server's timing
              const d = unsafeDecodePgoutput(m.data, { protoVersion: 1, inStream: false })
              if (d._tag === "Commit") end = d.endLsn
              const at = m.walStart === 0n ? "0/0" : d._tag === "Commit" && m.walStart === end ? "end" : "lsn"
              out.push(`${d._tag}@${at}${m.walStart === m.walEnd ? "" : " (walEnd differs)"}`)
            }
            return out
          }).pipe(Effect.scoped)
        const real = yield* shape(db.host, db.port, writeReal)
        const ours = yield* shape(fake.host, fake.port, writeFake)
        assert.deepStrictEqual(ours, real)
        assert.deepStrictEqual(real, [
          "Begin@lsn",
          "Relation@0/0",
          "Insert@lsn",
          "Insert@lsn",
          "Commit@end",
          "Message@lsn"
        ])
      }).pipe(Effect.scoped)
    )

    it.effect("the same protocol version negotiation (3.0, 3.2, 3.3 and _pq_ options) and cancel key sizes", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const fake = yield* FakePostgres.make({ serverVersion: "18.4", auth: "scram-sha-256" })
        const attempts = [
          { protocolVersion: 196608 },
          { protocolVersion: 196610 },
          { protocolVersion: 196611 },
          { protocolVersion: 196608, parameters: [["_pq_.nosuch", "1"]] as const }
        ]
        const negotiate = (host: string, port: number) =>
          Effect.forEach(attempts, (attempt) =>
            Effect.gen(function* () {
              const client = yield* connect(yield* NodeSocket.makeNet({ host, port }))
              const login = yield* client.login({ user: "postgres", password: "postgres", ...attempt })
              const negotiated = login.find((m) => m._tag === "NegotiateProtocolVersion")
              const key = login.find((m) => m._tag === "BackendKeyData")
              return {
                negotiated: negotiated?._tag === "NegotiateProtocolVersion" ? negotiated : undefined,
                keyLength: key?._tag === "BackendKeyData" ? key.secretKey.length : undefined,
                ready: login[login.length - 1]!._tag
              }
            }).pipe(Effect.scoped)
          )
        const real = yield* negotiate(db.host, db.port)
        const ours = yield* negotiate(fake.host, fake.port)
        assert.deepStrictEqual(ours, real)
        assert.deepStrictEqual(
          real.map((r) => r.keyLength),
          [4, 32, 32, 4]
        )
      }).pipe(Effect.scoped)
    )

    it.effect("the same ParameterStatus names at startup and the same messages when the client ends a stream", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const fake = yield* FakePostgres.make({ serverVersion: "18.4", auth: "scram-sha-256" })
        const script = (host: string, port: number) =>
          Effect.gen(function* () {
            const client = yield* connect(yield* NodeSocket.makeNet({ host, port }))
            const login = yield* client.login({ user: "postgres", password: "postgres", replication: "database" })
            yield* client.query("CREATE_REPLICATION_SLOT ends LOGICAL pgoutput (SNAPSHOT 'nothing')")
            yield* client.query("START_REPLICATION SLOT ends LOGICAL 0/0 (proto_version '1', publication_names 'p')")
            yield* client.send({ _tag: "CopyDone" })
            const end = yield* client.until("ReadyForQuery")
            yield* client.query("DROP_REPLICATION_SLOT ends")
            return {
              auth: login.filter((m) => m._tag.startsWith("Authentication")).map((m) => m._tag),
              parameters: login
                .filter((m): m is Backend.ParameterStatus => m._tag === "ParameterStatus")
                .map((m) => m.name)
                .sort(),
              // Keepalives may come first on the real server; the end of the stream is what matters.
              end: end
                .filter((m: BackendMessage) => m._tag !== "CopyData")
                .map((m) => (m._tag === "CommandComplete" ? `CommandComplete ${m.commandTag}` : m._tag))
            }
          }).pipe(Effect.scoped)
        const real = yield* script(db.host, db.port)
        const ours = yield* script(fake.host, fake.port)
        assert.deepStrictEqual(ours, real)
      }).pipe(Effect.scoped)
    )
  })
})
