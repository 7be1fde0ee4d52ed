import { type Backend, type BackendMessage, decodeBackend, encodeFrontendToBytes, Framer } from "@pgcdc/protocol"
import * as fc from "fast-check"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { FakePostgres, type FakePostgresOptions } from "../src/fake/FakePostgres.ts"
import { FakeServer } from "../src/fake/FakeServer.ts"
import { connect } from "../src/fake/ScriptedClient.ts"

const startup = (options: FakePostgresOptions = {}) =>
  Effect.gen(function* () {
    const fake = yield* FakePostgres.make({ listen: false, ...options })
    const client = yield* connect(yield* fake.socket)
    return { fake, client }
  })

const replicationClient = (options: FakePostgresOptions = {}) =>
  Effect.gen(function* () {
    const { fake, client } = yield* startup(options)
    const login = yield* client.login({ user: "postgres", password: "postgres", replication: "database" })
    assert.strictEqual(login[login.length - 1]!._tag, "ReadyForQuery")
    return { fake, client }
  })

const errorOf = (messages: ReadonlyArray<BackendMessage>): Backend.ErrorResponse => {
  const error = messages.find((m): m is Backend.ErrorResponse => m._tag === "ErrorResponse")
  assert.isDefined(error, `expected an ErrorResponse in ${messages.map((m) => m._tag).join(", ")}`)
  return error!
}

const rowsOf = (messages: ReadonlyArray<BackendMessage>) => {
  const description = messages.find((m): m is Backend.RowDescription => m._tag === "RowDescription")
  assert.isDefined(description, `expected rows in ${messages.map((m) => m._tag).join(", ")}`)
  return {
    fields: description!.fields.map((f) => [f.name, f.dataTypeOid] as const),
    rows: messages.filter((m): m is Backend.DataRow => m._tag === "DataRow").map((m) => m.values),
    tag: messages.find((m): m is Backend.CommandComplete => m._tag === "CommandComplete")?.commandTag
  }
}

describe("FakePostgres startup", () => {
  it.effect("trust: ParameterStatus, BackendKeyData and ReadyForQuery like a real server", () =>
    Effect.gen(function* () {
      const { client } = yield* startup({ serverVersion: "16.4" })
      const messages = yield* client.login({ user: "postgres", replication: "database" })
      assert.strictEqual(messages[0]!._tag, "AuthenticationOk")
      const status = new Map(
        messages.filter((m): m is Backend.ParameterStatus => m._tag === "ParameterStatus").map((m) => [m.name, m.value])
      )
      assert.strictEqual(status.get("server_version"), "16.4")
      assert.strictEqual(status.get("client_encoding"), "UTF8")
      assert.strictEqual(status.get("integer_datetimes"), "on")
      assert.strictEqual(status.get("DateStyle"), "ISO, MDY")
      assert.strictEqual(status.get("TimeZone"), "UTC")
      const key = messages.find((m): m is Backend.BackendKeyData => m._tag === "BackendKeyData")
      assert.isDefined(key)
      assert.strictEqual(key!.secretKey.length, 4)
      assert.deepStrictEqual(messages[messages.length - 1], { _tag: "ReadyForQuery", status: "I" })
      // server_version_num is not a ParameterStatus on a real server either; SHOW has it.
      const shown = rowsOf(yield* client.query("SHOW server_version_num"))
      assert.deepStrictEqual(shown.rows, [["160004"]])
    })
  )

  for (const auth of ["password", "md5", "scram-sha-256"] as const) {
    it.effect(`${auth}: the right password logs in`, () =>
      Effect.gen(function* () {
        const { client } = yield* startup({ auth, password: "s3cret" })
        const messages = yield* client.login({ user: "postgres", password: "s3cret", replication: "database" })
        const expected = {
          password: "AuthenticationCleartextPassword",
          md5: "AuthenticationMD5Password",
          "scram-sha-256": "AuthenticationSASL"
        }[auth]
        assert.strictEqual(messages[0]!._tag, expected)
        assert.isTrue(messages.some((m) => m._tag === "AuthenticationOk"))
        if (auth === "scram-sha-256") assert.isTrue(messages.some((m) => m._tag === "AuthenticationSASLFinal"))
        assert.strictEqual(messages[messages.length - 1]!._tag, "ReadyForQuery")
      })
    )

    it.effect(`${auth}: a wrong password is FATAL 28P01 and closes the connection`, () =>
      Effect.gen(function* () {
        const { fake, client } = yield* startup({ auth, password: "s3cret" })
        const messages = yield* client.login({ user: "postgres", password: "wrong", replication: "database" })
        assert.isFalse(messages.some((m) => m._tag === "AuthenticationOk"))
        const error = errorOf(messages)
        assert.strictEqual(error.severity, "FATAL")
        assert.strictEqual(error.code, "28P01")
        assert.strictEqual(error.message, `password authentication failed for user "postgres"`)
        const [ended] = yield* fake.awaitDisconnections(1)
        assert.strictEqual(ended!.reason, "fatal")
        const after = yield* Effect.result(client.next)
        assert.isTrue(after._tag === "Failure" && after.failure._tag === "SocketError")
      })
    )
  }

  it.effect("unknown role and unknown database fail like the server", () =>
    Effect.gen(function* () {
      const a = yield* startup()
      assert.strictEqual(errorOf(yield* a.client.login({ user: "nobody" })).code, "28000")
      const b = yield* startup()
      const error = errorOf(yield* b.client.login({ user: "postgres", database: "nowhere" }))
      assert.strictEqual(error.code, "3D000")
      assert.strictEqual(error.message, `database "nowhere" does not exist`)
    })
  )

  it.effect("the session is a pure state machine: SSLRequest is declined with 'N', bytes in any split", () =>
    Effect.gen(function* () {
      const server = new FakeServer({}, yield* Clock.Clock)
      const written: Array<number> = []
      const session = server.connect({ write: (b) => written.push(...b), close: () => {} })
      session.receive(new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])) // SSLRequest
      assert.deepStrictEqual(written, [0x4e])
      const startupBytes = encodeFrontendToBytes({
        _tag: "StartupMessage",
        protocolVersion: 196608,
        parameters: [["user", "postgres"]]
      })
      for (const byte of startupBytes) session.receive(new Uint8Array([byte]))
      // AuthenticationOk is the first message after the 'N'.
      assert.deepStrictEqual(written.slice(1, 10), [0x52, 0, 0, 0, 8, 0, 0, 0, 0])
      assert.strictEqual(written[written.length - 6], 0x5a) // ReadyForQuery last
    })
  )
})

describe("FakePostgres replication commands", () => {
  it.effect("IDENTIFY_SYSTEM: columns and types per version", () =>
    Effect.gen(function* () {
      for (const [version, timelineOid] of [
        ["15.8", 23],
        ["18.1", 20]
      ] as const) {
        const { fake, client } = yield* replicationClient({ serverVersion: version, startLsn: "0/16B3748" })
        const result = rowsOf(yield* client.query("IDENTIFY_SYSTEM"))
        assert.deepStrictEqual(result.fields, [
          ["systemid", 25],
          ["timeline", timelineOid],
          ["xlogpos", 25],
          ["dbname", 25]
        ])
        assert.deepStrictEqual(result.rows, [[fake.config.systemId, "1", "0/16B3748", "postgres"]])
        assert.strictEqual(result.tag, "IDENTIFY_SYSTEM")
      }
    })
  )

  it.effect("CREATE_REPLICATION_SLOT: PG14 positional syntax, 15+ option list, errors", () =>
    Effect.gen(function* () {
      const pg14 = yield* replicationClient({ serverVersion: "14.13" })
      const created = rowsOf(yield* pg14.client.query("CREATE_REPLICATION_SLOT s1 LOGICAL pgoutput NOEXPORT_SNAPSHOT"))
      assert.deepStrictEqual(
        created.fields.map(([n]) => n),
        ["slot_name", "consistent_point", "snapshot_name", "output_plugin"]
      )
      assert.deepStrictEqual(created.rows, [["s1", "0/1000000", null, "pgoutput"]])
      const listSyntax = errorOf(
        yield* pg14.client.query("CREATE_REPLICATION_SLOT s2 LOGICAL pgoutput (SNAPSHOT 'nothing')")
      )
      assert.deepStrictEqual([listSyntax.code, listSyntax.message], ["42601", "syntax error"])
      const twoPhase = errorOf(yield* pg14.client.query("CREATE_REPLICATION_SLOT s3 LOGICAL pgoutput TWO_PHASE"))
      assert.strictEqual(twoPhase.code, "42601")
      const read = errorOf(yield* pg14.client.query("READ_REPLICATION_SLOT s1"))
      assert.deepStrictEqual([read.code, read.message], ["42601", `syntax error at or near "READ_REPLICATION_SLOT"`])

      const pg16 = yield* replicationClient({ serverVersion: "16.4" })
      // Not TEMPORARY: the errors below would drop a temporary slot of this session, as PostgreSQL does.
      const withOptions = rowsOf(
        yield* pg16.client.query("CREATE_REPLICATION_SLOT s2 LOGICAL pgoutput (SNAPSHOT 'nothing', TWO_PHASE)")
      )
      assert.deepStrictEqual(withOptions.rows, [["s2", "0/1000000", null, "pgoutput"]])
      assert.isTrue((yield* pg16.fake.slots).find((s) => s.name === "s2")!.twoPhase)
      const exported = rowsOf(yield* pg16.client.query("CREATE_REPLICATION_SLOT Upper LOGICAL pgoutput"))
      assert.strictEqual(exported.rows[0]![0], "upper") // unquoted names fold to lower case
      assert.isString(exported.rows[0]![2]) // EXPORT_SNAPSHOT is the default
      const cases: ReadonlyArray<readonly [string, string, string]> = [
        ["CREATE_REPLICATION_SLOT s2 LOGICAL pgoutput", "42710", `replication slot "s2" already exists`],
        [
          "CREATE_REPLICATION_SLOT s5 LOGICAL pgoutput (SNAPSHOT 'bogus')",
          "22023",
          `unrecognized value for CREATE_REPLICATION_SLOT option "snapshot": "bogus"`
        ],
        ["CREATE_REPLICATION_SLOT s6 LOGICAL pgoutput (BOGUS)", "XX000", "unrecognized option: bogus"],
        [
          "CREATE_REPLICATION_SLOT s7 LOGICAL nosuchplugin",
          "58P01",
          `could not access file "nosuchplugin": No such file or directory`
        ],
        [
          `CREATE_REPLICATION_SLOT "Bad" LOGICAL pgoutput`,
          "42602",
          `replication slot name "Bad" contains invalid character`
        ],
        ["DROP_REPLICATION_SLOT nosuch", "42704", `replication slot "nosuch" does not exist`],
        ["READ_REPLICATION_SLOT s2", "0A000", "cannot use READ_REPLICATION_SLOT with a logical replication slot"],
        ["SHOW nosuch", "42704", `unrecognized configuration parameter "nosuch"`],
        ["identify_system", "42601", `syntax error at or near "identify_system"`],
        ["BOGUS STATEMENT", "42601", `syntax error at or near "BOGUS"`]
      ]
      for (const [sql, code, message] of cases) {
        const error = errorOf(yield* pg16.client.query(sql))
        assert.deepStrictEqual([error.code, error.message], [code, message], sql)
      }
      assert.deepStrictEqual(rowsOf(yield* pg16.client.query("READ_REPLICATION_SLOT nosuch")).rows, [
        [null, null, null]
      ])
      const dropped = yield* pg16.client.query("DROP_REPLICATION_SLOT s2")
      assert.deepStrictEqual(
        dropped.map((m) => m._tag),
        ["CommandComplete", "ReadyForQuery"]
      )
      assert.deepStrictEqual(rowsOf(yield* pg16.client.query("SHOW wal_segment_size")).rows, [["16MB"]])
      assert.deepStrictEqual(rowsOf(yield* pg16.client.query("SELECT 1")).rows, [["1"]])
      assert.deepStrictEqual(
        (yield* pg16.client.query("")).map((m) => m._tag),
        ["EmptyQueryResponse", "ReadyForQuery"]
      )
    })
  )

  it.effect("START_REPLICATION: option errors as each server version reports them", () =>
    Effect.gen(function* () {
      const start = (options: string) => `START_REPLICATION SLOT s LOGICAL 0/0 (${options})`
      const cases: ReadonlyArray<readonly [string, string, string, string]> = [
        [
          "14.13",
          start("proto_version '3', publication_names 'p'"),
          "0A000",
          "client sent proto_version=3 but we only support protocol 2 or lower"
        ],
        [
          "14.13",
          start("proto_version '2', publication_names 'p', two_phase 'on'"),
          "XX000",
          "unrecognized pgoutput option: two_phase"
        ],
        [
          "14.13",
          start("proto_version '2', publication_names 'p', streaming 'parallel'"),
          "42601",
          "streaming requires a Boolean value"
        ],
        ["14.13", start("proto_version '1'"), "22023", "publication_names parameter missing"],
        [
          "15.8",
          start("proto_version '2', publication_names 'p', two_phase 'on'"),
          "22023",
          "requested proto_version=2 does not support two-phase commit, need 3 or higher"
        ],
        [
          "15.8",
          start("proto_version '3', publication_names 'p', origin 'none'"),
          "XX000",
          "unrecognized pgoutput option: origin"
        ],
        [
          "16.4",
          start("proto_version '5', publication_names 'p'"),
          "0A000",
          "client sent proto_version=5 but server only supports protocol 4 or lower"
        ],
        [
          "16.4",
          start("proto_version '2', publication_names 'p', streaming 'parallel'"),
          "22023",
          "requested proto_version=2 does not support parallel streaming, need 4 or higher"
        ],
        [
          "16.4",
          start("proto_version '4', publication_names 'p', origin 'bogus'"),
          "22023",
          `unrecognized origin value: "bogus"`
        ],
        [
          "16.4",
          start("proto_version '1', publication_names 'p', streaming 'on'"),
          "22023",
          "requested proto_version=1 does not support streaming, need 2 or higher"
        ],
        ["18.1", "START_REPLICATION SLOT s LOGICAL 0/0", "22023", `option "proto_version" missing`],
        ["18.1", start("proto_version '1'"), "22023", `option "publication_names" missing`],
        ["18.1", start("proto_version 'x', publication_names 'p'"), "22023", "invalid proto_version"],
        [
          "18.1",
          start("proto_version '2', publication_names 'p', binary 'maybe'"),
          "42601",
          "binary requires a Boolean value"
        ],
        [
          "18.1",
          start("proto_version '2', publication_names 'p', messages 'on', messages 'on'"),
          "42601",
          "conflicting or redundant options"
        ],
        [
          "18.1",
          start("proto_version '2', publication_names 'p', bogus 'x'"),
          "XX000",
          "unrecognized pgoutput option: bogus"
        ],
        [
          "18.1",
          "START_REPLICATION SLOT nosuch LOGICAL 0/0 (proto_version '1', publication_names 'p')",
          "42704",
          `replication slot "nosuch" does not exist`
        ]
      ]
      for (const [serverVersion, sql, code, message] of cases) {
        const { fake, client } = yield* replicationClient({ serverVersion })
        yield* fake.createSlot("s")
        const messages = yield* client.query(sql)
        const error = errorOf(messages)
        assert.deepStrictEqual([error.code, error.message], [code, message], `${serverVersion}: ${sql}`)
        assert.strictEqual(messages[messages.length - 1]!._tag, "ReadyForQuery")
      }
    })
  )

  it.effect("several SQL statements in one Query run in order and stop at the first error", () =>
    Effect.gen(function* () {
      const { client } = yield* replicationClient()
      const messages = yield* client.query("SET application_name = 'x'; SHOW application_name; SELECT nope; SELECT 1")
      assert.deepStrictEqual(
        messages.map((m) => m._tag),
        ["CommandComplete", "RowDescription", "DataRow", "CommandComplete", "ErrorResponse", "ReadyForQuery"]
      )
      assert.deepStrictEqual(rowsOf(messages).rows, [["x"]])
    })
  )

  it.effect("a regular (non-replication) session answers SQL only", () =>
    Effect.gen(function* () {
      const { client } = yield* startup()
      yield* client.login({ user: "postgres" })
      const error = errorOf(yield* client.query("IDENTIFY_SYSTEM"))
      assert.deepStrictEqual([error.code, error.message], ["42601", `syntax error at or near "IDENTIFY_SYSTEM"`])
      const lsn = rowsOf(yield* client.query("SELECT pg_current_wal_lsn()"))
      assert.deepStrictEqual(lsn.rows, [["0/1000000"]])
      const begin = yield* client.query("BEGIN")
      assert.deepStrictEqual(begin[begin.length - 1], { _tag: "ReadyForQuery", status: "T" })
      const unsupported = errorOf(yield* client.query("SELECT * FROM users"))
      assert.strictEqual(unsupported.code, "0A000")
    })
  )
})

describe("FakePostgres against garbage", () => {
  const startupBytes = encodeFrontendToBytes({
    _tag: "StartupMessage",
    protocolVersion: 196608,
    parameters: [
      ["user", "postgres"],
      ["replication", "database"]
    ]
  })

  const frame = (type: number, body: Uint8Array): Uint8Array => {
    const out = new Uint8Array(5 + body.length)
    out[0] = type
    new DataView(out.buffer).setInt32(1, 4 + body.length)
    out.set(body, 5)
    return out
  }
  const inputs = fc.oneof(
    // Raw garbage, in random splits.
    fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
    // Well-framed messages of frontend types (and two others) with random bodies.
    fc.array(
      fc
        .tuple(fc.constantFrom(0x51, 0x70, 0x64, 0x63, 0x66, 0x58, 0x42, 0x00), fc.uint8Array({ maxLength: 40 }))
        .map(([type, body]) => frame(type, body)),
      { maxLength: 6 }
    ),
    // Replication commands with random tails.
    fc.array(
      fc
        .tuple(
          fc.constantFrom(
            "START_REPLICATION SLOT s LOGICAL 0/0",
            "CREATE_REPLICATION_SLOT s LOGICAL pgoutput",
            "IDENTIFY_SYSTEM",
            "SHOW",
            "DROP_REPLICATION_SLOT",
            "SELECT slot_name FROM pg_replication_slots WHERE slot_name ="
          ),
          fc.string({ maxLength: 30 }).map((s) => s.replaceAll(String.fromCharCode(0), ""))
        )
        .map(([head, tail]) => encodeFrontendToBytes({ _tag: "Query", sql: `${head} ${tail}` })),
      { maxLength: 6 }
    )
  )

  it.effect("bytes in any split never throw, and whatever the server writes is well-framed protocol", () =>
    Effect.gen(function* () {
      const clock = yield* Clock.Clock
      fc.assert(
        fc.property(fc.constantFrom("none", "login", "streaming"), inputs, (prefix, chunks) => {
          const server = new FakeServer({}, clock)
          const written: Array<Uint8Array> = []
          let closed = false
          const session = server.connect({ write: (b) => written.push(b), close: () => (closed = true) })
          if (prefix !== "none") session.receive(startupBytes)
          if (prefix === "streaming") {
            session.receive(encodeFrontendToBytes({ _tag: "Query", sql: "CREATE_REPLICATION_SLOT s LOGICAL pgoutput" }))
            session.receive(
              encodeFrontendToBytes({
                _tag: "Query",
                sql: "START_REPLICATION SLOT s LOGICAL 0/0 (proto_version '2', publication_names 'p')"
              })
            )
            if (session.streamingSlot !== "s") return false
          }
          for (const chunk of chunks) session.receive(chunk)
          const framer = new Framer()
          for (const chunk of written) {
            // A declined SSLRequest/GSSENCRequest is the only unframed byte a server writes.
            if (chunk.length === 1 && chunk[0] === 0x4e) continue
            framer.push(chunk)
            while (framer.next()) {
              const decoded = decodeBackend(framer.buf, framer.start, framer.end)
              if (decoded._tag === "Failure") return false
            }
          }
          return framer.buffered === 0 && (closed || !session.closed)
        }),
        { numRuns: 300 }
      )
    })
  )
})

describe("FakePostgres in-memory Socket", () => {
  it.effect("each reader acquisition is a new connection; closing its scope ends it; a CloseEvent closes it", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const socket = yield* fake.socket
      // First connection: log in, then let the scope close.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const client = yield* connect(socket)
          yield* client.login({ user: "postgres", replication: "database" })
          assert.strictEqual(yield* fake.connectionCount, 1)
        })
      )
      const [first] = yield* fake.awaitDisconnections(1)
      assert.strictEqual(first!.reason, "client")
      // Same Socket, second connection: a new session with another pid.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const client = yield* connect(socket)
          const login = yield* client.login({ user: "postgres", replication: "database" })
          const key = login.find((m): m is Backend.BackendKeyData => m._tag === "BackendKeyData")
          assert.notStrictEqual(key!.processId, first!.pid)
          yield* client.close
          const [, second] = yield* fake.awaitDisconnections(2)
          assert.strictEqual(second!.message, "unexpected EOF on client connection")
        })
      )
    })
  )

  it.effect("a write before any connection waits for the reader to connect", () =>
    Effect.gen(function* () {
      const fake = yield* FakePostgres.make({ listen: false })
      const socket = yield* fake.socket
      const writer = yield* socket.writer
      const startup = encodeFrontendToBytes({
        _tag: "StartupMessage",
        protocolVersion: 196608,
        parameters: [["user", "postgres"]]
      })
      const pending = yield* Effect.forkChild(writer.write(startup))
      const reader = yield* socket.reader
      yield* Fiber.join(pending)
      const chunks = yield* reader.pull
      const first = chunks[0]!
      assert.strictEqual(typeof first === "string" ? "" : String.fromCharCode(first[0]!), "R") // AuthenticationOk
    })
  )
})
