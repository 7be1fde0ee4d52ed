/**
 * Regenerates the golden frontend/backend wire fixtures under packages/protocol/test/fixtures/wire/ from real
 * PostgreSQL servers (14 and 18, embedded, started by @pgcdc/testing).
 *
 * Each scenario opens a raw socket, writes hand-built client messages and records every byte in both directions:
 * one line per socket write or read, `C <hex>` for client bytes and `S <hex>` for server bytes, in order. Scenarios:
 * - `session`: trusted Unix-socket session: startup, simple queries that produce rows, NULLs, non-ASCII text, an
 *   error with position, a failed transaction, an empty query, a notice, LISTEN/NOTIFY, COPY TO STDOUT (text and
 *   binary), COPY FROM STDIN, Terminate.
 * - `replication`: a walsender session (`replication=database`): IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT,
 *   START_REPLICATION (CopyBothResponse, XLogData), CopyDone from both sides.
 * - `sasl`: a TCP connection, which the test server authenticates with SCRAM: the AuthenticationSASL request.
 *
 * Run: /work/main/node_modules/.bin/node scripts/capture-wire-fixtures.ts [major ...]
 *
 * It deliberately uses neither the framer nor the codecs of @pgcdc/protocol (the golden tests check those against
 * these bytes); the little framing it needs to know when a reply is complete is written out here.
 */
import { TestDatabase, type TestDatabaseInfo } from "@pgcdc/testing"
import { Effect } from "effect"
import { mkdir, writeFile } from "node:fs/promises"
import * as net from "node:net"
import * as path from "node:path"

const fixturesDir = path.join(import.meta.dirname, "..", "packages", "protocol", "test", "fixtures", "wire")

const enc = new TextEncoder()
const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}
const cstr = (s: string) => Buffer.concat([Buffer.from(enc.encode(s)), Buffer.of(0)])
const typed = (type: string, ...body: ReadonlyArray<Uint8Array>) => {
  const b = Buffer.concat(body)
  return Buffer.concat([Buffer.from(type), int32(b.length + 4), b])
}
const startup = (params: ReadonlyArray<readonly [string, string]>) => {
  const b = Buffer.concat([int32(196608), ...params.flatMap(([k, v]) => [cstr(k), cstr(v)]), Buffer.of(0)])
  return Buffer.concat([int32(b.length + 4), b])
}
const query = (sql: string) => typed("Q", cstr(sql))

/** A recorded session: writes and reads in order, plus enough framing to wait for a given server message. */
class Session {
  readonly lines: Array<string> = []
  private pending = Buffer.alloc(0)
  private frames: Array<{ type: string; body: Buffer }> = []
  private waiter: (() => void) | undefined
  readonly socket: net.Socket
  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      this.lines.push(`S ${chunk.toString("hex")}`)
      this.pending = Buffer.concat([this.pending, chunk])
      while (this.pending.length >= 5 && this.pending.length >= 1 + this.pending.readInt32BE(1)) {
        const len = this.pending.readInt32BE(1)
        this.frames.push({ type: String.fromCharCode(this.pending[0]!), body: this.pending.subarray(5, 1 + len) })
        this.pending = this.pending.subarray(1 + len)
      }
      this.waiter?.()
    })
  }

  static open(options: net.NetConnectOpts): Promise<Session> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(options, () => resolve(new Session(socket)))
      socket.once("error", reject)
    })
  }

  send(bytes: Buffer): void {
    this.lines.push(`C ${bytes.toString("hex")}`)
    this.socket.write(bytes)
  }

  /** Waits until a server message matching `f` arrived; returns the messages received up to and including it. */
  async until(f: (type: string, body: Buffer) => boolean): Promise<Array<{ type: string; body: Buffer }>> {
    for (;;) {
      const i = this.frames.findIndex((m) => f(m.type, m.body))
      if (i >= 0) return this.frames.splice(0, i + 1)
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("timed out waiting for the server")), 10_000)
        this.waiter = () => {
          clearTimeout(timer)
          resolve()
        }
      })
    }
  }

  readyForQuery = () => this.until((t) => t === "Z")

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once("close", () => resolve())
      this.socket.end()
    })
  }

  text(major: number, name: string): string {
    return `${[`# ${name} from PostgreSQL ${major}`, ...this.lines].join("\n")}\n`
  }
}

const unix = (info: TestDatabaseInfo): net.NetConnectOpts => ({
  path: path.join(info.socketDir!, `.s.PGSQL.${info.port}`)
})

const session = async (info: TestDatabaseInfo): Promise<Session> => {
  const s = await Session.open(unix(info))
  s.send(
    startup([
      ["user", info.user],
      ["database", info.database],
      ["application_name", "pgcdc-fixture"]
    ])
  )
  await s.readyForQuery()
  for (const sql of [
    "CREATE TABLE IF NOT EXISTS fx_copy (a integer, b text); CREATE PUBLICATION fx_pub FOR TABLE fx_copy",
    "SELECT 1::int4 AS a, NULL::text AS b, 'żółw ✓'::text AS c, 12.50::numeric(10,2) AS d",
    "SELECT * FROM no_such_table",
    "",
    "DO $$BEGIN RAISE NOTICE 'hello %', 42; END$$",
    "LISTEN fx_channel; NOTIFY fx_channel, 'payload ✓'",
    "COPY (SELECT g, 'x' || g FROM generate_series(1, 3) g) TO STDOUT",
    "COPY (SELECT 1::int4, NULL::text) TO STDOUT (FORMAT binary)",
    "BEGIN; SELECT 1/0",
    "ROLLBACK"
  ]) {
    s.send(query(sql))
    await s.readyForQuery()
  }
  s.send(query("COPY fx_copy FROM STDIN"))
  await s.until((t) => t === "G")
  s.send(typed("d", enc.encode("1\tone\n2\t\\N\n")))
  s.send(typed("c"))
  await s.readyForQuery()
  s.send(typed("X"))
  await s.close()
  return s
}

const replication = async (info: TestDatabaseInfo): Promise<Session> => {
  const s = await Session.open(unix(info))
  s.send(
    startup([
      ["user", info.user],
      ["database", info.database],
      ["replication", "database"]
    ])
  )
  await s.readyForQuery()
  for (const sql of ["IDENTIFY_SYSTEM", "CREATE_REPLICATION_SLOT fx_slot TEMPORARY LOGICAL pgoutput"]) {
    s.send(query(sql))
    await s.readyForQuery()
  }
  // A change after the slot exists, committed through a second (unrecorded) session.
  const other = await Session.open(unix(info))
  other.send(
    startup([
      ["user", info.user],
      ["database", info.database]
    ])
  )
  await other.readyForQuery()
  other.send(query("INSERT INTO fx_copy VALUES (3, 'three')"))
  await other.readyForQuery()
  other.send(typed("X"))
  await other.close()
  s.send(query(`START_REPLICATION SLOT fx_slot LOGICAL 0/0 (proto_version '1', publication_names 'fx_pub')`))
  await s.until((t) => t === "W")
  // XLogData ('w') carrying a pgoutput Commit ('C' after the 25-byte XLogData header).
  await s.until((t, body) => t === "d" && body[0] === 0x77 && body[25] === 0x43)
  s.send(typed("c"))
  await s.readyForQuery()
  s.send(typed("X"))
  await s.close()
  return s
}

const sasl = async (info: TestDatabaseInfo): Promise<Session> => {
  const s = await Session.open({ host: info.host, port: info.port })
  s.send(
    startup([
      ["user", info.user],
      ["database", info.database]
    ])
  )
  await s.until((t) => t === "R")
  await s.close()
  return s
}

const captureMajor = (major: 14 | 15 | 16 | 17 | 18) =>
  Effect.scoped(
    Effect.gen(function* () {
      const info = yield* TestDatabase.make({ major })
      yield* Effect.promise(async () => {
        const dir = path.join(fixturesDir, `pg${major}`)
        await mkdir(dir, { recursive: true })
        for (const [name, run] of [
          ["session", session],
          ["replication", replication],
          ["sasl", sasl]
        ] as const) {
          const s = await run(info)
          await writeFile(path.join(dir, `${name}.hex`), s.text(major, name))
          console.log(`wire/pg${major}/${name}.hex: ${s.lines.length} socket writes and reads`)
        }
      })
    })
  )

const requested = process.argv.slice(2).map(Number)
const majors = (requested.length > 0 ? requested : [14, 18]) as ReadonlyArray<14 | 15 | 16 | 17 | 18>

await Effect.runPromise(Effect.forEach(majors, captureMajor, { discard: true }))
