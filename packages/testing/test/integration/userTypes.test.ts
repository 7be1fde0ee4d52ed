/**
 * One scenario of user-defined types, run against the fake server and against real PostgreSQL 18: an enum, a domain
 * over int4, a domain over text and arrays of the first two, in text and in binary mode, then an enum created while
 * the sessions stream. Both backends must send the same Type messages (pgoutput names a domain by its base type) and
 * answer the Replication service's catalog query so that every value decodes to the same thing in both modes.
 *
 * The fake never converts values: for the binary run the scenario writes to it what PostgreSQL sends in binary.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Connection, type ConnectionConfig, Connector } from "@pgcdc/connection"
import { type PgValue, Replication, type ReplicationOptions, Slot, type WalMessage } from "@pgcdc/replication"
import { Effect, Redacted, Stream } from "effect"
import type * as Scope from "effect/Scope"
import { connectionConfig } from "../../src/fake/FakeConnection.ts"
import { FakePostgres } from "../../src/fake/FakePostgres.ts"
import { Change, type FakeColumn } from "../../src/fake/Wal.ts"
import { TestDatabase } from "../../src/TestDatabase.ts"

type Mode = "text" | "binary"

interface Target {
  readonly connection: ConnectionConfig
  readonly options: Partial<ReplicationOptions>
  /** The table `t_<mode>` of the scenario's types, its publication `p_<mode>` and slot `s_<mode>`. */
  readonly setup: (mode: Mode) => Effect.Effect<void, unknown, Scope.Scope>
  /** Row 1: (1, 'happy', '{happy,NULL,sad}', 42, '{1,2}', 'hello world'). */
  readonly insertFirst: (mode: Mode) => Effect.Effect<void, unknown, Scope.Scope>
  /** A new enum `later` ('new', 'old'), a column `lm later` and row 2 with lm = 'new'. */
  readonly addLater: (mode: Mode) => Effect.Effect<void, unknown, Scope.Scope>
}

const array = (elements: ReadonlyArray<PgValue | null>): PgValue => ({
  _tag: "PgArray",
  dimensions: [{ length: elements.length, lowerBound: 1 }],
  elements
})

const expectedFirst = {
  id: 1,
  m: "happy",
  ma: array(["happy", null, "sad"]),
  d: 42,
  da: array([1, 2]),
  l: "hello world"
}

/** The scenario, the same for every target. */
const scenario = (target: Target) =>
  Effect.gen(function* () {
    for (const mode of ["text", "binary"] as const) {
      yield* target.setup(mode)
      yield* target.insertFirst(mode)
      const repl = yield* Replication.make({
        ...target.options,
        slot: `s_${mode}`,
        publications: [`p_${mode}`],
        binary: mode === "binary"
      }).pipe(Effect.provideService(Connector, Connector.make(target.connection)))
      const take = (id: number) => {
        let seen = false
        return repl.stream.pipe(
          Stream.takeUntil((m) => {
            if (m._tag === "Insert" && m.new.id === id) seen = true
            return seen && m._tag === "Commit"
          }),
          Stream.runCollect,
          Effect.map((c): ReadonlyArray<WalMessage> => Array.from(c))
        )
      }
      const first = yield* take(1)
      const relation = first.find((m) => m._tag === "Relation")
      assert.isDefined(relation)
      const typeOfColumn = (name: string) => {
        const oid = relation!.table.columns.find((c) => c.name === name)!.typeOid
        const t = first.find((m) => m._tag === "Type" && m.typeOid === oid)
        return t?._tag === "Type" ? `${t.namespace}.${t.typeName}` : undefined
      }
      // pgoutput names a domain by its base type, with an empty namespace for pg_catalog.
      assert.deepStrictEqual(
        ["m", "ma", "d", "da", "l"].map(typeOfColumn),
        ["public.mood", "public._mood", ".int4", "public._posint", ".text"],
        `${mode}: Type messages`
      )
      const row = first.find((m) => m._tag === "Insert")
      assert.deepStrictEqual(row?._tag === "Insert" ? row.new : undefined, expectedFirst, `${mode}: row 1`)

      yield* target.addLater(mode)
      const later = (yield* take(2)).find((m) => m._tag === "Insert")
      assert.deepStrictEqual(
        later?._tag === "Insert" ? later.new : undefined,
        { id: 2, m: null, ma: null, d: null, da: null, l: null, lm: "new" },
        `${mode}: a type created mid-stream`
      )
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// The fake: types by OID, values as PostgreSQL sends them in each mode.

const MOOD = 20001
const MOOD_ARRAY = 20000
const POSINT = 20003
const POSINT_ARRAY = 20002
const LABEL = 20005
const LATER = 20010

const utf8 = (s: string) => new TextEncoder().encode(s)

const int4 = (n: number): Uint8Array => {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setInt32(0, n)
  return b
}

/** array_send of a one-dimensional array (lower bound 1). */
const binaryArray = (element: number, values: ReadonlyArray<Uint8Array | null>): Uint8Array => {
  const size = 20 + values.reduce((n, v) => n + 4 + (v?.length ?? 0), 0)
  const b = new Uint8Array(size)
  const v = new DataView(b.buffer)
  v.setInt32(0, 1)
  v.setInt32(4, values.some((x) => x === null) ? 1 : 0)
  v.setUint32(8, element)
  v.setInt32(12, values.length)
  v.setInt32(16, 1)
  let at = 20
  for (const x of values) {
    v.setInt32(at, x === null ? -1 : x.length)
    at += 4
    if (x !== null) {
      b.set(x, at)
      at += x.length
    }
  }
  return b
}

const fakeColumns: ReadonlyArray<FakeColumn> = [
  { name: "id", typeOid: 23, key: true },
  { name: "m", typeOid: MOOD },
  { name: "ma", typeOid: MOOD_ARRAY },
  { name: "d", typeOid: POSINT },
  { name: "da", typeOid: POSINT_ARRAY },
  { name: "l", typeOid: LABEL }
]

const fakeTarget = Effect.gen(function* () {
  const fake = yield* FakePostgres.make({ listen: false })
  yield* fake.defineType({ oid: MOOD, name: "mood", kind: "enum" })
  yield* fake.defineType({ oid: MOOD_ARRAY, name: "_mood", kind: "array", element: MOOD })
  yield* fake.defineType({ oid: POSINT, name: "posint", kind: "domain", base: 23 })
  yield* fake.defineType({ oid: POSINT_ARRAY, name: "_posint", kind: "array", element: POSINT })
  yield* fake.defineType({ oid: LABEL, name: "label", kind: "domain", base: 25 })
  const target: Target = {
    connection: connectionConfig(fake),
    options: { statusInterval: "1 hour" },
    setup: (mode) =>
      Effect.gen(function* () {
        yield* fake.defineTable({ name: `t_${mode}`, columns: fakeColumns })
        yield* fake.createPublication(`p_${mode}`, { tables: [`t_${mode}`] })
        yield* fake.createSlot(`s_${mode}`)
      }),
    insertFirst: (mode) =>
      fake.transaction([
        Change.insert(
          `t_${mode}`,
          mode === "text"
            ? { id: "1", m: "happy", ma: "{happy,NULL,sad}", d: "42", da: "{1,2}", l: "hello world" }
            : {
                id: int4(1),
                m: utf8("happy"),
                ma: binaryArray(MOOD, [utf8("happy"), null, utf8("sad")]),
                d: int4(42),
                da: binaryArray(POSINT, [int4(1), int4(2)]),
                l: utf8("hello world")
              }
        )
      ]),
    addLater: (mode) =>
      Effect.gen(function* () {
        yield* fake.defineType({ oid: LATER + (mode === "text" ? 0 : 1), name: `later_${mode}`, kind: "enum" })
        yield* fake.defineTable({
          name: `t_${mode}`,
          columns: [...fakeColumns, { name: "lm", typeOid: LATER + (mode === "text" ? 0 : 1) }]
        })
        yield* fake.transaction([
          Change.insert(`t_${mode}`, { id: mode === "text" ? "2" : int4(2), lm: mode === "text" ? "new" : utf8("new") })
        ])
      })
  }
  return target
})

describe("user-defined types: the fake server", () => {
  it.effect("text and binary mode decode enums, domains and their arrays alike; Type messages as pgoutput's", () =>
    Effect.flatMap(fakeTarget, scenario).pipe(Effect.scoped)
  )
})

// ---------------------------------------------------------------------------------------------------------------
// Real PostgreSQL: the same scenario by SQL.

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "60 seconds" })(
  "user-defined types: PostgreSQL 18",
  (it) => {
    it.effect("text and binary mode decode enums, domains and their arrays alike; Type messages as pgoutput's", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const config: ConnectionConfig = {
          host: db.host,
          port: db.port,
          user: db.user,
          password: Redacted.make(db.password),
          database: db.database,
          sslmode: "disable"
        }
        const sql = yield* Connection.make(config)
        yield* sql.query(`SET synchronous_commit = on;
          CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
          CREATE DOMAIN label AS text`)
        const target: Target = {
          connection: { ...config, replication: "logical" },
          options: { statusInterval: "100 millis" },
          setup: (mode) =>
            Effect.andThen(
              sql.query(`CREATE TABLE t_${mode} (id int4 PRIMARY KEY, m mood, ma mood[], d posint, da posint[], l label);
                CREATE PUBLICATION p_${mode} FOR TABLE t_${mode}`),
              Slot.create(`s_${mode}`).pipe(Effect.provideService(Connection, sql))
            ),
          insertFirst: (mode) =>
            sql.query(`INSERT INTO t_${mode} VALUES (1, 'happy', '{happy,NULL,sad}', 42, '{1,2}', 'hello world')`),
          // One transaction: a DDL-only one would arrive as an empty transaction before PostgreSQL 15.
          addLater: (mode) =>
            sql.query(`BEGIN; CREATE TYPE later_${mode} AS ENUM ('new', 'old');
              ALTER TABLE t_${mode} ADD COLUMN lm later_${mode}; INSERT INTO t_${mode} (id, lm) VALUES (2, 'new'); COMMIT`)
        }
        yield* scenario(target)
      })
    )
  }
)
