/**
 * `copyOut` (COPY ... TO STDOUT) against real PostgreSQL 14 and 18: every awkward value comes out, once decoded by
 * `@pgcdc/protocol`'s COPY text decoder, as exactly the text `SELECT col::text` gives; an error in the middle of the
 * copy fails the stream with its SQLSTATE; stopping early, interrupting the consumer or closing the scope cancels the
 * COPY on the server; statements that are not COPY TO STDOUT fail clearly; the session stays usable after each of
 * them; and a consumer that does not pull stops the server (backpressure), the rows all arriving once it pulls again.
 */
import { assert, layer } from "@effect/vitest"
import { unsafeDecodeCopyTextRow } from "@pgcdc/protocol"
import { TestDatabase } from "@pgcdc/testing"
import { Effect, Exit, Fiber, Pull, Redacted, Schedule, Scope, Stream } from "effect"
import { Connection, type ConnectionConfig, type ConnectionShape, type CopyDataFrames } from "../../src/index.ts"

const configOf = (db: TestDatabase["Service"]): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database: db.database,
  applicationName: "pgcdc-copyout-test"
})

/** Polls until `check` holds: the server's state changes asynchronously to anything the client can observe. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>) =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet" as const))),
    Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 })
  )

/** Every payload of the reads, decoded as COPY text rows of `columns` fields. */
const decodeRows = (reads: Iterable<CopyDataFrames>, columns: number) => {
  const rows: Array<Array<string | null>> = []
  for (const f of reads) {
    for (let i = 0; i < f.buffers.length; i++)
      rows.push(unsafeDecodeCopyTextRow(f.buffers[i]!, columns, f.starts[i], f.ends[i]))
  }
  return rows
}

const payloadBytes = (f: CopyDataFrames) => {
  let n = 0
  for (let i = 0; i < f.buffers.length; i++) n += f.ends[i]! - f.starts[i]!
  return n
}

const usable = (conn: ConnectionShape) =>
  Effect.gen(function* () {
    const r = yield* conn.query("SELECT 'usable'")
    assert.deepStrictEqual(r[0]!.rows, [["usable"]])
  })

/** Whether the session's backend is in pg_sleep. */
const sleeping = (observer: ConnectionShape, pid: number) =>
  Effect.map(
    observer.query(`SELECT wait_event FROM pg_stat_activity WHERE pid = ${pid}`),
    (r) => r[0]!.rows[0]?.[0] === "PgSleep"
  )

const stateOf = (observer: ConnectionShape, pid: number) =>
  Effect.map(
    observer.query(`SELECT state FROM pg_stat_activity WHERE pid = ${pid}`),
    (r) => r[0]!.rows[0]?.[0] ?? "gone"
  )

const columns = [
  "id int PRIMARY KEY",
  "t text",
  "t2 text",
  "b bytea",
  "arr text[]",
  "j json",
  "jb jsonb",
  "n numeric",
  "ts timestamp",
  "tstz timestamptz",
  "d date",
  "f8 float8",
  "iv interval",
  "bl boolean",
  "ia int[]",
  "p point",
  "c char(5)"
]

/** Values chosen for what COPY escapes (tab, newline, CR, backslash, other control characters, \N as text), types
 * whose text has quotes and backslashes of its own (arrays, json, bytea), and the extremes of numbers and time. */
const awkwardRows = [
  "(1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
  `(2, '', '', '\\x', '{}', '""', '{}', 0, 'infinity', '-infinity', 'infinity', 'NaN', '0', false, '{}', '(0,0)', '')`,
  `(3, E'tab\\there\\nnewline\\rcr\\\\backslash \\\\N end', E'\\\\N', '\\x00ff5c0a090d4e',
    ARRAY['a"b', E'c\\\\d', NULL, '', 'NULL', 'x,y', E'tab\\t', E'nl\\n', '{}'],
    '{"a": "q\\"\\\\\\n\\u0000 \\t", "b": [1, 2.50, 1e400]}', '{"k": "v\\n\\t\\"\\\\", "n": 1.50, "z": null}',
    'NaN', '2024-02-29 23:59:59.999999', '1999-12-31 23:59:59.123456+05:30', '4713-01-01 BC', '-0',
    '1 year 2 mons -3 days 04:05:06.789', true, '{-1,NULL,2147483647}', '(1.5,-2)', E'a\\\\b')`,
  `(4, 'Grüße 😀 𝄞 ' || chr(160) || ' 中文 ﻿', 'N', '\\x5c4e', ARRAY['\\N', E'\\\\N', 'é'], '[]', '[]',
    '123456789012345678901234567890.000000000000000000001', '294276-12-31 23:59:59.999999',
    '4714-11-24 00:00:00+00 BC', '5874897-12-31', 1e308, '-178000000 years', true, NULL, NULL, 'N')`,
  `(5, 'a' || chr(11) || chr(1) || chr(8) || chr(12) || chr(127) || chr(31) || 'z', E'\\\\', '\\x0b0c08', '{""}',
    '"\\\\."', '"\\u00e9\\ud83d\\ude00"', '-0.000000000000000000000000000001', '-infinity', 'infinity', '-infinity',
    '-1.7976931348623157e308', '-00:00:00.000001', NULL, '{}', '(-0,1e-300)', E'\\t')`,
  `(6, repeat(E'é\\t\\\\\\n', 50000), repeat('x', 300000), decode(repeat('00ff5c', 100000), 'hex'),
    array_fill('q"\\'::text, ARRAY[1000]), NULL, NULL, 'Infinity', NULL, NULL, NULL, 5e-324, NULL, NULL, NULL, NULL, NULL)`
]

for (const major of [14, 18] as const) {
  layer(TestDatabase.layer({ major }), { excludeTestServices: true, timeout: "60 seconds" })(
    `copyOut on PostgreSQL ${major}`,
    (it) => {
      it.effect("gives per column exactly the text the type's output function gives, awkward values included", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          yield* conn.query(`CREATE TEMP TABLE awkward (${columns.join(", ")})`)
          yield* conn.query(`INSERT INTO awkward VALUES ${awkwardRows.join(", ")}`)
          const names = columns.map((c) => c.split(" ")[0]!)
          // The simple query protocol returns each value as its type's output function prints it, which is what
          // pgoutput sends. `col::text` is the same text for most types, but not all: bool::text is 'true' where the
          // output is 't', and char(n)::text drops the padding; those two are compared both ways below.
          const expected = (yield* conn.query(`SELECT ${names.join(", ")} FROM awkward ORDER BY id`))[0]!.rows
          const casts = (yield* conn.query(
            `SELECT ${names.map((n) => `${n}::text`).join(", ")} FROM awkward ORDER BY id`
          ))[0]!.rows

          const copy = yield* conn.copyOut("COPY (SELECT * FROM awkward ORDER BY id) TO STDOUT")
          assert.strictEqual(copy.format, "text")
          assert.strictEqual(copy.columnCount, names.length)
          const reads = yield* Stream.runCollect(copy.frames)
          const rows = decodeRows(reads, copy.columnCount)
          assert.strictEqual(rows.length, awkwardRows.length)
          for (let r = 0; r < rows.length; r++) {
            for (let c = 0; c < names.length; c++) {
              assert.strictEqual(rows[r]![c], expected[r]![c], `row ${r + 1}, column ${names[c]}`)
              if (names[c] !== "bl" && names[c] !== "c") {
                assert.strictEqual(rows[r]![c], casts[r]![c], `row ${r + 1}, column ${names[c]}::text`)
              }
            }
          }
          assert.deepStrictEqual(
            rows.map((r) => r[names.indexOf("bl")]),
            [null, "f", "t", "t", null, null]
          )
          assert.deepStrictEqual(
            casts.map((r) => r[names.indexOf("bl")]),
            [null, "false", "true", "true", null, null]
          )
          assert.strictEqual(rows[2]![names.indexOf("c")], "a\\b  ")
          assert.strictEqual(casts[2]![names.indexOf("c")], "a\\b")
          // The values that matter most are really there (not, say, both sides empty).
          assert.strictEqual(rows[2]![1], "tab\there\nnewline\rcr\\backslash \\N end")
          assert.strictEqual(rows[2]![2], "\\N")
          assert.isNull(rows[0]![1])
          assert.strictEqual(rows[1]![1], "")
          assert.strictEqual(rows[5]![1]!.length, 4 * 50000)
          assert.strictEqual(yield* copy.rowCount, awkwardRows.length)
          // The copy has ended, so the session is free again inside the same scope.
          yield* usable(conn)
        })
      )

      it.effect("an error in the middle of the copy fails the stream with its SQLSTATE; the session stays usable", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          const copy = yield* conn.copyOut("COPY (SELECT 1/(i-3) FROM generate_series(1,5) i) TO STDOUT")
          const received: Array<Array<string | null>> = []
          const error = yield* Effect.flip(
            copy.frames.pipe(Stream.runForEach((f) => Effect.sync(() => received.push(...decodeRows([f], 1)))))
          )
          assert.strictEqual(error.reason, "Server")
          assert.strictEqual(error.code, "22012")
          assert.include(error.message, "division by zero")
          // The rows computed before the error arrived, in order.
          assert.deepStrictEqual(received, [["0"], ["-1"]])
          assert.strictEqual((yield* Effect.flip(copy.rowCount)).code, "22012")
          yield* usable(conn)
        })
      )

      it.effect("stopping early (take 1 of 100,000 rows) cancels the COPY and leaves the session usable", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          const observer = yield* Connection.make(configOf(db))
          const copy = yield* conn.copyOut(
            "COPY (SELECT i, repeat('x', 200) FROM generate_series(1, 100000) i) TO STDOUT"
          )
          const first = yield* copy.frames.pipe(Stream.take(1), Stream.runCollect)
          assert.strictEqual(first.length, 1)
          assert.deepStrictEqual(decodeRows(first, 2)[0], ["1", "x".repeat(200)])
          // The stream has stopped: the server is idle and the session answers, inside the copy's own scope.
          assert.strictEqual(yield* stateOf(observer, conn.backendKey!.processId), "idle")
          yield* usable(conn)
          // Cancelled, not read to its end: the server stopped at the CancelRequest (it is acted on as soon as the
          // server's blocked write goes through, long before the 20 MB are sent).
          assert.strictEqual((yield* Effect.flip(copy.rowCount)).code, "57014")
        })
      )

      it.effect("closing the scope before reading anything cancels the COPY; the session stays usable", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          const scope = yield* Scope.make()
          const copy = yield* conn
            .copyOut("COPY (SELECT i, repeat('y', 200) FROM generate_series(1, 1000000) i) TO STDOUT")
            .pipe(Scope.provide(scope))
          yield* Scope.close(scope, Exit.void)
          yield* usable(conn)
          assert.strictEqual((yield* Effect.flip(copy.rowCount)).code, "57014")
        })
      )

      it.effect("interrupting a consumer that waits on the server cancels the query there", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          const observer = yield* Connection.make(configOf(db))
          const pid = conn.backendKey!.processId
          const scope = yield* Scope.make()
          // 999 rows (about 100 kB: the server buffers 8 kB before it flushes), then a row that takes 30 s.
          const copy = yield* conn
            .copyOut(
              "COPY (SELECT i, CASE WHEN i = 1000 THEN (SELECT count(*) FROM pg_sleep(30 + 0 * i))::text ELSE repeat('z', 100) END FROM generate_series(1, 1000) i) TO STDOUT"
            )
            .pipe(Scope.provide(scope))
          let rows = 0
          const reading = yield* Effect.forkChild(
            Stream.runForEach(copy.frames, (f) => Effect.sync(() => (rows += f.buffers.length)))
          )
          yield* eventually(Effect.map(sleeping(observer, pid), (asleep) => asleep && rows > 0))
          // Without the CancelRequest the server would sleep 30 s, past the 10 s after which the session is given up.
          yield* Fiber.interrupt(reading)
          assert.strictEqual(yield* stateOf(observer, pid), "idle")
          yield* usable(conn)
          assert.strictEqual((yield* Effect.flip(copy.rowCount)).code, "57014")
          yield* Scope.close(scope, Exit.void)
          yield* usable(conn)
        })
      )

      it.effect("interrupting copyOut() while the server has not answered cancels the query there", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          const observer = yield* Connection.make(configOf(db))
          const pid = conn.backendKey!.processId
          // The server buffers CopyOutResponse with the first rows: nothing reaches the client during the sleep.
          const starting = yield* Effect.forkChild(
            Effect.scoped(conn.copyOut("COPY (SELECT count(*) FROM pg_sleep(30)) TO STDOUT"))
          )
          yield* eventually(sleeping(observer, pid))
          yield* Fiber.interrupt(starting)
          assert.strictEqual(yield* stateOf(observer, pid), "idle")
          yield* usable(conn)
        })
      )

      it.effect("a statement that is not COPY TO STDOUT is a clear error and the session stays usable", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          yield* conn.query("CREATE TEMP TABLE target (a int)")

          const select = yield* Effect.flip(conn.copyOut("SELECT 1"))
          assert.strictEqual(select.reason, "Protocol")
          assert.include(select.message, "copyOut() needs a COPY ... TO STDOUT statement")
          assert.include(select.message, "RowDescription")
          yield* usable(conn)

          const copyIn = yield* Effect.flip(conn.copyOut("COPY target FROM STDIN"))
          assert.include(copyIn.message, "CopyInResponse")
          yield* usable(conn)
          assert.deepStrictEqual((yield* conn.query("SELECT count(*) FROM target"))[0]!.rows, [["0"]])

          const empty = yield* Effect.flip(conn.copyOut(""))
          assert.include(empty.message, "EmptyQueryResponse")
          yield* usable(conn)

          const syntax = yield* Effect.flip(conn.copyOut("COPY (SELEC 1) TO STDOUT"))
          assert.strictEqual(syntax.reason, "Server")
          assert.strictEqual(syntax.code, "42601")
          yield* usable(conn)

          const before = yield* Effect.flip(conn.copyOut("SELECT 1; COPY (SELECT 2) TO STDOUT"))
          assert.include(before.message, "RowDescription")
          yield* usable(conn)

          const after = yield* conn.copyOut("COPY (SELECT 2) TO STDOUT; SELECT 3")
          const error = yield* Effect.flip(Stream.runDrain(after.frames))
          assert.strictEqual(error.reason, "Protocol")
          assert.include(error.message, "a single COPY ... TO STDOUT statement")
          yield* usable(conn)
        })
      )

      it.effect("a consumer that does not pull stops the server; pulling again brings every row", () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const conn = yield* Connection.make(configOf(db))
          const observer = yield* Connection.make(configOf(db))
          const pid = conn.backendKey!.processId
          const rows = 128_000
          const width = 1000
          // Each row is "<i>\t<width x's>\n".
          let total = 0
          for (let i = 1; i <= rows; i++) total += String(i).length + 2 + width
          const copy = yield* conn.copyOut(
            `COPY (SELECT i, repeat('x', ${width}) FROM generate_series(1, ${rows}) i) TO STDOUT`
          )
          const pull = yield* Stream.toPull(copy.frames)
          let pulled = payloadBytes((yield* pull)[0]!)
          let reads = 1

          // Stop pulling. The server must end up blocked writing to us, its progress no longer moving. Polled,
          // because "nothing happens" has no event.
          let last = -1
          const progress = Effect.map(
            observer.query(
              `SELECT a.wait_event, p.bytes_processed FROM pg_stat_activity a JOIN pg_stat_progress_copy p USING (pid) WHERE pid = ${pid}`
            ),
            (r) => ({ waitEvent: r[0]!.rows[0]?.[0], sent: Number(r[0]!.rows[0]?.[1] ?? -1) })
          )
          let sent = 0
          yield* eventually(
            Effect.map(progress, (p) => {
              const stalled = p.waitEvent === "ClientWrite" && p.sent === last
              last = p.sent
              sent = p.sent
              return stalled
            })
          )
          assert.isBelow(sent, total / 2, "the server sent more than the socket buffers can hold: nobody pulled it")
          assert.isBelow(pulled, sent)

          // Pulling again drains everything, nothing lost, many rows per read.
          for (;;) {
            const batch = yield* pull.pipe(Pull.catchDone(() => Effect.succeed(undefined)))
            if (batch === undefined) break
            for (const f of batch) {
              pulled += payloadBytes(f)
              reads++
            }
          }
          assert.strictEqual(pulled, total)
          assert.strictEqual(yield* copy.rowCount, rows)
          assert.isBelow(reads, rows / 10, "a read carries many rows, not one Effect per row")
          yield* usable(conn)
        })
      )
    }
  )
}
