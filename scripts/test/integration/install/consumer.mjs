/**
 * A pgcdc consumer as a user writes it, in plain JavaScript, run by install.test.ts inside a fresh npm project that
 * installed the packed tarballs from the registry: it starts an embedded PostgreSQL 18 with @pgcdc/testing, creates
 * a table, a publication and a slot, inserts rows, reads them from Replication's stream, commits, and checks that
 * the server received the commit. It prints one JSON line with `verdict` and exits 0 only when everything matched.
 */
import { Connection, Connector } from "@pgcdc/connection"
import { Lsn, Replication, WalMessage } from "@pgcdc/replication"
import { TestDatabase } from "@pgcdc/testing"
import { Effect, Layer, Redacted, Stream } from "effect"

const expected = [
  { id: 1, name: "one" },
  { id: 2, name: "two" },
  { id: 3, name: "three" }
]

const program = Effect.gen(function* () {
  const db = yield* TestDatabase.make({ major: 18 })
  const config = {
    host: db.host,
    port: db.port,
    user: db.user,
    password: Redacted.make(db.password),
    database: db.database,
    sslmode: "disable"
  }
  const sql = yield* Connection.make(config)
  yield* sql.query("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)")
  yield* sql.query("CREATE PUBLICATION items_pub FOR TABLE items")
  yield* sql.query("SELECT pg_create_logical_replication_slot('items_slot', 'pgoutput')")
  yield* sql.query("INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')")

  // The consumer: every row of the first transaction, then commit its LSN once they are "processed".
  const consume = Effect.gen(function* () {
    const replication = yield* Replication
    const rows = []
    let committed
    yield* replication.stream.pipe(
      Stream.takeUntil((message) => message._tag === "Commit"),
      Stream.runForEach((message) => {
        if (message._tag === "Insert") rows.push({ ...message.new })
        if (message._tag !== "Commit") return Effect.void
        committed = WalMessage.lsnToConfirm(message)
        return replication.commit(committed)
      })
    )
    return { rows, committed }
  })
  const { rows, committed } = yield* consume.pipe(
    Effect.provide(
      Replication.layer({ slot: "items_slot", publications: ["items_pub"] }).pipe(
        Layer.provide(Connector.layer({ ...config, replication: "logical" }))
      )
    )
  )

  // The service sends the committed position when it stops: the slot must now be at (or past) the commit.
  const [slot] = yield* sql.query("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'items_slot'")
  const confirmed = Lsn.unsafeParse(slot.rows[0][0])
  const ok = JSON.stringify(rows) === JSON.stringify(expected) && committed !== undefined && confirmed >= committed
  return {
    verdict: ok ? "ok" : "mismatch",
    node: process.versions.node,
    postgres: db.serverVersionNum,
    rows,
    committed: committed === undefined ? null : Lsn.format(committed),
    confirmed: Lsn.format(confirmed)
  }
})

Effect.runPromise(Effect.scoped(program)).then(
  (report) => {
    console.log(JSON.stringify(report))
    if (report.verdict !== "ok") process.exitCode = 1
  },
  (error) => {
    console.error("consumer failed:", error)
    process.exitCode = 1
  }
)
