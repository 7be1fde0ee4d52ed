/**
 * The mirror end to end against an embedded PostgreSQL 18: a few seconds of random writes, then the verdict must be
 * "equal"; plus the pieces that decide the verdict (applying unchanged TOAST, detecting differences).
 */
import { assert, describe, it } from "@effect/vitest"
import { Lsn, UnchangedToast } from "@pgcdc/protocol"
import type { Row, Table, WalMessage } from "@pgcdc/replication"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { connect } from "node:net"
import { differences } from "../../src/Compare.ts"
import { apply, makeState } from "../../src/Consumer.ts"
import { run } from "../../src/Mirror.ts"
import * as Screen from "../../src/Screen.ts"
import { main, node, runDemo } from "./runDemo.ts"

const capture = () => {
  const chunks: Array<string> = []
  const output: Screen.Output = { isTTY: false, write: (text) => void chunks.push(text) }
  return { screen: Screen.make(output), text: () => chunks.join("") }
}

describe("mirror", () => {
  it.live(
    "keeps the Map equal to the table under random writes on PostgreSQL 18",
    () =>
      Effect.gen(function* () {
        const out = capture()
        const verdict = yield* run(
          {
            durationSeconds: 3,
            rate: 300,
            tableSize: 200,
            keep: false,
            dropSlot: true,
            url: undefined,
            name: "pgcdc_mirror_test"
          },
          out.screen
        )
        const text = out.text()
        assert.deepStrictEqual(verdict.differences, [])
        assert.isTrue(verdict.equal)
        assert.isAbove(verdict.changes, 0, "the consumer applied changes")
        assert.isAbove(verdict.rows, 0)
        assert.match(text, /verdict: equal \(\d+ rows in table pgcdc_mirror_test and in the mirror\)/)
        // Not a TTY: the live status comes as plain lines without escape codes.
        assert.match(text, /changes\/s .* lag .* committed \d+\/[0-9A-F]+/)
        assert.notInclude(text, "\u001b[")
        assert.include(text, "dropped replication slot pgcdc_mirror_test")
        // What the writer wrote and what the consumer applied are counted alike, and the screen says why they differ.
        assert.strictEqual(verdict.rowsChanged, verdict.changes)
        assert.strictEqual(verdict.transactionsWithChanges, verdict.transactions)
        assert.isAbove(verdict.statementsWritten, verdict.rowsChanged, "some statements changed no row")
        assert.match(
          text,
          new RegExp(
            `writer stopped after ${verdict.statementsWritten} statements in \\d+ transactions; ${verdict.statementsWritten - verdict.rowsChanged} statements changed no row .* so the stream carries ${verdict.rowsChanged} changes in ${verdict.transactionsWithChanges} transactions`
          )
        )
        assert.include(text, "changed no row")
        assert.match(
          text,
          new RegExp(`consumer caught up: ${verdict.changes} changes in ${verdict.transactions} transactions applied`)
        )
      }),
    120_000
  )

  it.live("--help prints the usage with every default on stdout, and nothing else", () =>
    Effect.gen(function* () {
      const { code, stdout, stderr } = yield* runDemo(["--help"])
      assert.strictEqual(code, 0)
      assert.strictEqual(stderr, "")
      assert.match(stdout, /--duration integer\s+Seconds the writer writes before the comparison \(default 15\)/)
      assert.match(stdout, /--rate, -r integer\s+.*\(default 200\)/)
      assert.match(stdout, /--table-size, -n integer\s+.*\(default 1000\)/)
      assert.match(stdout, /--name string\s+.*\(default pgcdc_mirror\)/)
      // -d is the connection URL, as in the pgcdc command (and psql): never the duration.
      assert.match(stdout, /--url, -d /)
      assert.match(stdout, /--target postgres:\/\/\.\.\.\s+Mirror into this database instead of an in-memory Map/)
      assert.notMatch(stdout, /--duration, -d/)
    })
  )

  it.live("a failure is one line on stderr and exit status 1; a usage error exit status 2", () =>
    Effect.gen(function* () {
      // Nothing listens on port 1.
      const failed = yield* runDemo(["--url", "postgres://nobody@127.0.0.1:1/nodb"])
      assert.strictEqual(failed.code, 1, failed.stderr)
      assert.match(failed.stderr, /^demo: Could not connect to 127\.0\.0\.1:1: [^\n]*\n$/)
      assert.notMatch(failed.stdout, /ERROR|\n\s+at /)
      const usage = yield* runDemo(["--duration", "0"])
      assert.strictEqual(usage.code, 2, usage.stderr)
      assert.strictEqual(usage.stderr, "demo: --duration must be more than 0 seconds\n")
      assert.strictEqual(usage.stdout, "")
    })
  )

  it.live(
    "stops cleanly on SIGINT: committed position reported, embedded server stopped",
    () =>
      Effect.gen(function* () {
        const child = spawn(node, [main, "--duration", "600", "--table-size", "50"], {
          stdio: ["ignore", "pipe", "pipe"]
        })
        let output = ""
        child.stderr.on("data", (chunk: Buffer) => {
          output += chunk.toString()
        })
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
        // Interrupt once the writer and consumer are running (the first live status line), unless it exits first.
        const running = new Promise<void>((resolve) => {
          child.stdout.on("data", (chunk: Buffer) => {
            output += chunk.toString()
            if (/changes\/s/.test(output)) resolve()
          })
        })
        const early = yield* Effect.promise(() => Promise.race([running, exited.then((code) => ({ code }))]))
        assert.isUndefined(early, `the mirror exited before running: ${output}`)
        child.kill("SIGINT")
        const code = yield* Effect.promise(() => exited)
        assert.strictEqual(code, 130, output)
        assert.match(output, /interrupted: committed position \d+\/[0-9A-F]+ reported to the server/)
        assert.include(output, "stopping the embedded server and removing its data")
        const port = Number(/server: postgres@127\.0\.0\.1:(\d+)\//.exec(output)?.[1])
        const refused = yield* Effect.promise(
          () =>
            new Promise<boolean>((resolve) => {
              const socket = connect(port, "127.0.0.1")
              socket.on("connect", () => {
                socket.destroy()
                resolve(false)
              })
              socket.on("error", () => resolve(true))
            })
        )
        assert.isTrue(refused, `the embedded server on port ${port} still accepts connections`)
        // Its directory (data, socket, log) is gone too, not left as an empty folder after every Ctrl-C.
        const dataDir = /data in (\S+)\)/.exec(output)?.[1]
        assert.isDefined(dataDir, output)
        assert.isFalse(existsSync(dataDir ?? ""), `${dataDir} is left behind`)
      }),
    120_000
  )

  const table: Table = {
    relationId: 1,
    schema: "public",
    name: "t",
    replicaIdentity: "d",
    columns: []
  }
  const at = (n: number) => ({ walStart: Lsn.unsafeMake(BigInt(n)), walEnd: Lsn.unsafeMake(BigInt(n)) })

  it("keeps the old value of a column that arrives as unchanged TOAST", () => {
    const big = "x".repeat(5000)
    const state = makeState(new Map<number, Row>([[1, { id: 1, v: "a", big }]]))
    const update: WalMessage = {
      _tag: "Update",
      xid: undefined,
      table,
      key: undefined,
      old: undefined,
      new: { id: 1, v: "b", big: UnchangedToast },
      ...at(10)
    }
    apply(state, update)
    assert.deepStrictEqual(state.rows.get(1), { id: 1, v: "b", big })
    assert.deepStrictEqual(state.anomalies, [])
  })

  it("reports an unchanged TOAST value it cannot resolve instead of storing the marker", () => {
    const state = makeState(new Map())
    apply(state, {
      _tag: "Update",
      xid: undefined,
      table,
      key: undefined,
      old: undefined,
      new: { id: 7, big: UnchangedToast },
      ...at(10)
    })
    assert.strictEqual(state.anomalies.length, 1)
    assert.match(state.anomalies[0] ?? "", /row 7: big arrived unchanged/)
  })

  it("returns the Commit's end LSN to commit, and nothing for other messages", () => {
    const state = makeState(new Map())
    const insert: WalMessage = { _tag: "Insert", xid: undefined, table, new: { id: 1 }, ...at(20) }
    assert.strictEqual(apply(state, insert), undefined)
    const commit: WalMessage = {
      _tag: "Commit",
      flags: 0,
      commitLsn: Lsn.unsafeMake(30n),
      endLsn: Lsn.unsafeMake(40n),
      commitTime: 0n,
      ...at(40)
    }
    assert.strictEqual(apply(state, commit), Lsn.unsafeMake(40n))
    assert.strictEqual(state.applied, Lsn.unsafeMake(40n))
  })

  it("applies the snapshot's rows, and returns its consistent point to commit at SnapshotComplete", () => {
    const state = makeState()
    assert.strictEqual(apply(state, { _tag: "Read", table, new: { id: 5, v: "a" }, ...at(8) }), undefined)
    assert.deepStrictEqual(state.rows.get(5), { id: 5, v: "a" })
    const complete: WalMessage = {
      _tag: "SnapshotComplete",
      consistentPoint: Lsn.unsafeMake(8n),
      tables: 1,
      rows: 1,
      ...at(8)
    }
    assert.strictEqual(apply(state, complete), Lsn.unsafeMake(8n))
    assert.strictEqual(state.snapshotPoint, Lsn.unsafeMake(8n))
    assert.strictEqual(state.snapshotRows, 1)
  })

  it("finds missing rows, extra rows and values that lost precision", () => {
    const tableRows = new Map<number, Row>([
      [1, { id: 1, qty: 9007199254740993n }],
      [2, { id: 2, qty: 1n }]
    ])
    const mirror = new Map<number, Row>([
      [1, { id: 1, qty: 9007199254740992n }],
      [3, { id: 3, qty: 1n }]
    ])
    assert.deepStrictEqual(differences(tableRows, mirror), [
      "row 1: qty is 9007199254740993n in the table, 9007199254740992n in the mirror",
      "row 2: in the table, missing from the mirror",
      "row 3: in the mirror, not in the table"
    ])
    assert.deepStrictEqual(differences(tableRows, new Map(tableRows)), [])
  })
})
