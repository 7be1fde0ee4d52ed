/**
 * Regenerates the golden pgoutput fixtures under packages/protocol/test/fixtures/pg<major>/ from real PostgreSQL
 * servers (14 to 18, embedded, started by @pgcdc/testing).
 *
 * Each scenario creates its own logical slot, runs SQL, then reads the slot through the SQL interface
 * (`pg_logical_slot_get_binary_changes`) with the scenario's pgoutput options, and writes one file: `#` header lines
 * with the options the decoder needs, then one message per line as `<lsn> <hex bytes>`.
 *
 * Run: /work/main/node_modules/.bin/node scripts/capture-pgoutput-fixtures.ts [major ...]
 *
 * It deliberately does not decode anything: the golden tests in packages/protocol do, against these bytes.
 */
import { TestDatabase } from "@pgcdc/testing"
import { Effect } from "effect"
import { mkdir, writeFile } from "node:fs/promises"
import * as path from "node:path"
import pg from "pg"

interface Scenario {
  readonly name: string
  readonly minMajor: number
  readonly protoVersion: (major: number) => number
  readonly streaming?: "on" | "parallel"
  readonly binary?: boolean
  readonly twoPhase?: boolean
  readonly sql: ReadonlyArray<string>
}

const fixturesDir = path.join(import.meta.dirname, "..", "packages", "protocol", "test", "fixtures")

/** Schema shared by all scenarios: an enum and a domain (Type messages), TOAST, replica identity FULL, truncate. */
const setup = [
  `CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
  `CREATE DOMAIN posint AS integer CHECK (VALUE > 0)`,
  `CREATE TABLE items (id integer PRIMARY KEY, name text, big text, feeling mood, qty posint, payload bytea,
     at timestamptz, price numeric(10,2))`,
  // EXTERNAL storage keeps large values out of line uncompressed, so an UPDATE that does not touch them sends 'u'.
  `ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL`,
  `CREATE TABLE full_rows (id integer, note text)`,
  `ALTER TABLE full_rows REPLICA IDENTITY FULL`,
  `CREATE TABLE trunc_a (id serial PRIMARY KEY)`,
  `CREATE TABLE trunc_b (id serial PRIMARY KEY, a integer REFERENCES trunc_a (id))`,
  `CREATE TABLE bulk (id integer PRIMARY KEY, body text, feeling mood)`,
  `CREATE PUBLICATION pub FOR ALL TABLES`,
  `SELECT pg_replication_origin_create('upstream')`
]

/** Enough rows to pass logical_decoding_work_mem=64kB several times over. */
const bulkInsert = (from: number, to: number) =>
  `INSERT INTO bulk SELECT g, md5(g::text), 'ok' FROM generate_series(${from}, ${to}) g`

const scenarios: ReadonlyArray<Scenario> = [
  {
    name: "dml",
    minMajor: 14,
    protoVersion: () => 1,
    sql: [
      `INSERT INTO items VALUES (1, 'alpha', repeat('x', 5000), 'happy', 7, '\\x00ff', '2024-02-29 12:34:56.789012+00', 12.50)`,
      `INSERT INTO items (id, name) VALUES (2, 'béta ✓')`,
      // Touches neither `big` nor the key: `big` arrives as unchanged TOAST, no key tuple.
      `UPDATE items SET name = 'alpha2' WHERE id = 1`,
      // Changes the key: the old key arrives as a 'K' tuple.
      `UPDATE items SET id = 3 WHERE id = 2`,
      `DELETE FROM items WHERE id = 3`,
      `INSERT INTO full_rows VALUES (1, 'one'), (2, NULL)`,
      `UPDATE full_rows SET note = 'uno' WHERE id = 1`,
      `DELETE FROM full_rows WHERE id = 2`,
      `INSERT INTO trunc_a DEFAULT VALUES`,
      `INSERT INTO trunc_b (a) VALUES (1)`,
      `TRUNCATE trunc_a, trunc_b RESTART IDENTITY CASCADE`,
      `TRUNCATE full_rows`
    ]
  },
  {
    name: "messages",
    minMajor: 14,
    protoVersion: () => 1,
    sql: [
      `SELECT pg_logical_emit_message(true, 'txn-prefix', 'transactional content')`,
      `SELECT pg_logical_emit_message(false, 'plain-prefix', '\\x00ff10'::bytea)`,
      `BEGIN; INSERT INTO items (id, name) VALUES (10, 'with message');
       SELECT pg_logical_emit_message(true, 'in-txn', 'inside'); COMMIT`
    ]
  },
  {
    name: "origin",
    minMajor: 14,
    protoVersion: () => 1,
    sql: [
      `SELECT pg_replication_origin_session_setup('upstream');
       BEGIN; SELECT pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-01 00:00:00+00');
       INSERT INTO items (id, name) VALUES (20, 'from upstream'); COMMIT;
       SELECT pg_replication_origin_session_reset()`
    ]
  },
  {
    name: "binary",
    minMajor: 14,
    protoVersion: () => 1,
    binary: true,
    sql: [
      `INSERT INTO items VALUES (30, 'bin', 'small', 'sad', 5, '\\xdeadbeef', '2000-01-01 00:00:00+00', -1.25)`,
      `UPDATE items SET qty = 6 WHERE id = 30`
    ]
  },
  {
    name: "streamed",
    minMajor: 14,
    protoVersion: (major) => (major >= 16 ? 4 : 2),
    streaming: "on",
    sql: [
      // Committed: Relation, Type and a transactional Message inside the stream, with the xid.
      `BEGIN; SELECT pg_logical_emit_message(true, 'streamed', 'first'); ${bulkInsert(1, 400)};
       TRUNCATE trunc_a CASCADE; COMMIT`,
      // A subtransaction rolled back after its changes were streamed (StreamAbort with the subtransaction's xid),
      // then the transaction commits.
      `BEGIN; ${bulkInsert(1001, 1400)}; SAVEPOINT s1; ${bulkInsert(1401, 1800)}; ROLLBACK TO s1;
       ${bulkInsert(1801, 1900)}; COMMIT`,
      // A whole streamed transaction aborted. PostgreSQL 18 sees the abort in the clog before streaming when the
      // SQL interface decodes after the fact, and skips the transaction; 14-17 stream it, then send StreamAbort.
      `BEGIN; ${bulkInsert(3001, 3400)}; ROLLBACK`
    ]
  },
  {
    name: "streamed-parallel",
    minMajor: 16,
    protoVersion: () => 4,
    streaming: "parallel",
    sql: [
      `BEGIN; ${bulkInsert(10001, 10400)}; COMMIT`,
      `BEGIN; ${bulkInsert(11001, 11400)}; SAVEPOINT s1; ${bulkInsert(11401, 11800)}; ROLLBACK TO s1;
       ${bulkInsert(11801, 11900)}; COMMIT`
    ]
  },
  {
    name: "two-phase",
    minMajor: 15,
    protoVersion: () => 3,
    twoPhase: true,
    sql: [
      `BEGIN; INSERT INTO items (id, name) VALUES (40, 'prepared'); PREPARE TRANSACTION 'gid-commit'`,
      `COMMIT PREPARED 'gid-commit'`,
      `BEGIN; INSERT INTO items (id, name) VALUES (41, 'rolled back'); PREPARE TRANSACTION 'gid-rollback'`,
      `ROLLBACK PREPARED 'gid-rollback'`
    ]
  },
  {
    name: "two-phase-streamed",
    minMajor: 15,
    protoVersion: (major) => (major >= 16 ? 4 : 3),
    streaming: "on",
    twoPhase: true,
    sql: [`BEGIN; ${bulkInsert(20001, 20400)}; PREPARE TRANSACTION 'gid-streamed'`, `COMMIT PREPARED 'gid-streamed'`]
  }
]

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex")

const capture = async (client: pg.Client, major: number, scenario: Scenario): Promise<string> => {
  const slot = `fx_${scenario.name.replace(/-/g, "_")}`
  await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput', false, $2)`, [
    slot,
    scenario.twoPhase === true
  ])
  for (const statement of scenario.sql) {
    await client.query(statement)
  }
  // Abort records are not flushed at ROLLBACK, and the SQL interface decodes only flushed WAL: a checkpoint
  // flushes everything before it (and pgoutput sends nothing for it).
  await client.query("CHECKPOINT")
  const protoVersion = scenario.protoVersion(major)
  const options: Array<string> = ["proto_version", String(protoVersion), "publication_names", "pub", "messages", "true"]
  if (scenario.streaming !== undefined) options.push("streaming", scenario.streaming)
  if (scenario.binary === true) options.push("binary", "true")
  if (scenario.twoPhase === true) options.push("two_phase", "true")
  const placeholders = options.map((_, i) => `$${i + 2}`).join(", ")
  const result = await client.query<{ lsn: string; data: Buffer }>(
    `SELECT lsn::text AS lsn, data FROM pg_logical_slot_get_binary_changes($1, NULL, NULL, ${placeholders})`,
    [slot, ...options]
  )
  await client.query(`SELECT pg_drop_replication_slot($1)`, [slot])
  const header = [
    `# pgoutput fixture "${scenario.name}" captured from PostgreSQL ${major} by scripts/capture-pgoutput-fixtures.ts`,
    `# proto_version=${protoVersion} streaming=${scenario.streaming ?? "off"} binary=${scenario.binary === true} two_phase=${scenario.twoPhase === true}`
  ]
  const lines = result.rows.map((row) => `${row.lsn} ${hex(row.data)}`)
  return `${[...header, ...lines].join("\n")}\n`
}

const captureMajor = (major: 14 | 15 | 16 | 17 | 18) =>
  Effect.scoped(
    Effect.gen(function* () {
      const info = yield* TestDatabase.make({ major, settings: { logical_decoding_work_mem: "64kB" } })
      yield* Effect.promise(async () => {
        const client = new pg.Client({
          host: info.host,
          port: info.port,
          user: info.user,
          password: info.password,
          database: info.database
        })
        await client.connect()
        try {
          await client.query("SET TIME ZONE 'UTC'")
          // The test servers run with synchronous_commit=off, and the SQL interface decodes only up to the flushed
          // WAL position: without this, recent commits would be missing from the capture.
          await client.query("SET synchronous_commit = on")
          for (const statement of setup) await client.query(statement)
          const dir = path.join(fixturesDir, `pg${major}`)
          await mkdir(dir, { recursive: true })
          for (const scenario of scenarios) {
            if (major < scenario.minMajor) continue
            const text = await capture(client, major, scenario)
            await writeFile(path.join(dir, `${scenario.name}.hex`), text)
            console.log(`pg${major}/${scenario.name}.hex: ${text.split("\n").length - 3} messages`)
          }
        } finally {
          await client.end()
        }
      })
    })
  )

const requested = process.argv.slice(2).map(Number)
const majors = (requested.length > 0 ? requested : [14, 15, 16, 17, 18]) as ReadonlyArray<14 | 15 | 16 | 17 | 18>

await Effect.runPromise(Effect.forEach(majors, captureMajor, { discard: true }))
