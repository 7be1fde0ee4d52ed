/**
 * The verifier on journals written by hand: a correct history passes, and each way a consumer or the library can
 * break the contract is reported, with the seed.
 */
import { assert, describe, it } from "@effect/vitest"
import { formatLsn, type JournalChange, type JournalEntry } from "../src/Journal.ts"
import { type VerifyInput, verify, walsenderTimeoutMessage } from "../src/Verifier.ts"

const lsn = (seq: number) => formatLsn(0x1000000n + BigInt(seq) * 0x100n)

/** Transaction `seq` sets row `seq % 5` to (seq, "n<seq>") and logs seq. */
const entry = (run: number, seq: number, at = seq * 100): JournalEntry => ({
  run,
  lsn: lsn(seq),
  xid: 700 + seq,
  seq,
  at,
  changes: [
    { table: "chaos_log", op: "I", row: { seq: { int8: String(seq) } } },
    { table: "chaos_items", op: "I", row: { id: seq % 5, val: seq, note: `n${seq}` } }
  ]
})

const itemsAfter = (last: number): Array<readonly [string, string, string]> => {
  const rows = new Map<number, number>()
  for (let seq = 1; seq <= last; seq++) rows.set(seq % 5, seq)
  return [...rows.entries()].sort((a, b) => a[0] - b[0]).map(([id, seq]) => [String(id), String(seq), `n${seq}`])
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Ten transactions; run 1 journals 1..6 and is killed at 650 ms with 4 confirmed; run 2 resends 5, 6 and goes on. */
const good = (): VerifyInput => ({
  seed: 99,
  entries: [...range(1, 6).map((s) => entry(1, s)), ...range(5, 10).map((s) => entry(2, s, 2000 + s))],
  badLines: [],
  runs: [
    { run: 1, endedBy: "kill", exitCode: null, exitSignal: "SIGKILL", logTail: "" },
    { run: 2, endedBy: "stop", exitCode: 0, exitSignal: null, logTail: "" }
  ],
  kills: [{ killedRun: 1, killedAt: 650, confirmedAtKill: lsn(4) }],
  stalls: [],
  reconnects: [],
  items: itemsAfter(10),
  logged: range(1, 10),
  acknowledged: range(1, 10),
  serverLog: "LOG:  database system is ready to accept connections\n",
  caughtUp: true,
  serverCrashes: [],
  finalConfirmed: lsn(10),
  flushDelayMs: 1000,
  slackMs: 300
})

const violationsOf = (input: VerifyInput) => {
  const verdict = verify(input)
  for (const v of verdict.violations) assert.isTrue(v.startsWith("seed 99: "), v)
  return verdict.violations.join("\n")
}

describe("Verifier", () => {
  it("passes a correct history and counts the duplicates of the kill", () => {
    const verdict = verify(good())
    assert.deepStrictEqual(verdict.violations, [])
    assert.isTrue(verdict.ok)
    assert.strictEqual(verdict.figures.transactions, 10)
    assert.strictEqual(verdict.figures.duplicates, 2)
    assert.deepStrictEqual(verdict.figures.kills, [
      {
        killedRun: 1,
        duplicates: 2,
        journaledByKilled: 2,
        oldestRepeatedMs: 150,
        journaledInFlushDelay: 6,
        beyondConfirmed: 2,
        afterServerCrash: false
      }
    ])
  })

  it("reports a committed transaction missing from the journal", () => {
    const input = good()
    const text = violationsOf({ ...input, entries: input.entries.filter((e) => e.seq !== 8) })
    assert.include(text, "1 committed transactions never reached the journal: seq 8")
  })

  it("reports a process that skipped a transaction another one journaled", () => {
    const input = good()
    const entries = input.entries.filter((e) => !(e.run === 2 && e.seq === 6))
    assert.include(
      violationsOf({ ...input, entries }),
      "consumer run 2 skipped transactions between its first and last: seq 6"
    )
  })

  it("reports an acknowledged commit the server does not have", () => {
    assert.include(
      violationsOf({ ...good(), acknowledged: [...range(1, 10), 11] }),
      "commits the server acknowledged are missing from chaos_log (the server lost them): seq 11"
    )
  })

  it("reports a transaction handed out after a newer one within a process", () => {
    const input = good()
    const entries = [...input.entries]
    const i = entries.findIndex((e) => e.run === 2 && e.seq === 8)
    ;[entries[i], entries[i + 1]] = [entries[i + 1]!, entries[i]!]
    assert.include(violationsOf({ ...input, entries }), "consumer run 2 was handed transaction")
  })

  it("reports duplicates after a run that was not killed", () => {
    const input = good()
    const runs = [{ ...input.runs[0]!, endedBy: "stop" as const, exitCode: 0 }, input.runs[1]!]
    assert.include(
      violationsOf({ ...input, runs, kills: [] }),
      "consumer run 2 repeated 2 transactions though run 1 was not killed"
    )
  })

  it("reports repeats older than flushDelay before the kill, and below the confirmed position", () => {
    const input = good()
    assert.include(
      violationsOf({ ...input, kills: [{ ...input.kills[0]!, killedAt: 5000 }] }),
      "after the kill of run 1, 2 transactions it had committed more than flushDelay (1000 ms) + 300 ms before the kill came again"
    )
    assert.include(
      violationsOf({ ...input, kills: [{ ...input.kills[0]!, confirmedAtKill: lsn(5) }] }),
      "the slot resent transactions at or below its confirmed position"
    )
  })

  it("a server crash after the repeated work, with no session since, lifts the flushDelay bound (PostgreSQL's checkpoint)", () => {
    const input = good()
    const late = { ...input, kills: [{ ...input.kills[0]!, killedAt: 5000 }] }
    const crashed = { ...late, serverCrashes: [{ from: 2000, to: 2300 }] }
    const verdict = verify(crashed)
    assert.deepStrictEqual(verdict.violations, [])
    assert.isTrue(verdict.figures.kills[0]!.afterServerCrash)
    // A crash before the repeated work was journaled, or a session in time after it, does not excuse it.
    assert.include(violationsOf({ ...late, serverCrashes: [{ from: 100, to: 300 }] }), "more than flushDelay")
    assert.include(violationsOf({ ...crashed, reconnects: [{ run: 1, at: 2500 }] }), "more than flushDelay")
  })

  it("reports a consumer that never caught up", () => {
    assert.include(violationsOf({ ...good(), caughtUp: false }), "stopped making progress before it had journaled")
  })

  it("replays unchanged TOAST values and key changes, and reports a replay that differs from the table", () => {
    const input = good()
    const changes: Array<JournalChange> = [
      { table: "chaos_log", op: "I", row: { seq: { int8: "11" } } },
      // Row 0 (seq 10's) moves to id 7 with a new val; its note is TOASTed and unchanged.
      { table: "chaos_items", op: "U", key: { id: 0 }, row: { id: 7, val: 77, note: { toast: "unchanged" } } }
    ]
    const moved: JournalEntry = { run: 2, lsn: lsn(11), xid: 711, seq: 11, at: 3000, changes }
    const items = itemsAfter(10).filter(([id]) => id !== "0")
    items.push(["7", "77", "n10"])
    const after = { ...input, entries: [...input.entries, moved], logged: range(1, 11), finalConfirmed: lsn(11) }
    assert.deepStrictEqual(verify({ ...after, items }).violations, [])
    const wrong = items.map((r) => (r[0] === "7" ? (["7", "77", "other"] as const) : r))
    assert.include(violationsOf({ ...after, items: wrong }), "replaying the journal does not give chaos_items: id 7")
  })

  it("a key move with an unchanged TOAST value applied again after a kill is no problem; applied once without its row is", () => {
    const input = good()
    const move = (run: number, at: number): JournalEntry => ({
      run,
      lsn: lsn(11),
      xid: 711,
      seq: 11,
      at,
      changes: [
        { table: "chaos_log", op: "I", row: { seq: { int8: "11" } } },
        { table: "chaos_items", op: "U", key: { id: 0 }, row: { id: 7, val: 77, note: { toast: "unchanged" } } }
      ]
    })
    const drop: JournalEntry = {
      run: 3,
      lsn: lsn(12),
      xid: 712,
      seq: 12,
      at: 5000,
      changes: [
        { table: "chaos_log", op: "I", row: { seq: { int8: "12" } } },
        { table: "chaos_items", op: "D", key: { id: 7 } }
      ]
    }
    // Run 2 moves row 0 to 7 and is killed at once; run 3 gets the move again (row 0 is gone by then), then deletes 7.
    const entries = [...input.entries, move(2, 3000), move(3, 4000), drop]
    const runs = [
      input.runs[0]!,
      { ...input.runs[1]!, endedBy: "kill" as const, exitCode: null },
      { run: 3, endedBy: "stop" as const, exitCode: 0, exitSignal: null, logTail: "" }
    ]
    const kills = [...input.kills, { killedRun: 2, killedAt: 3100, confirmedAtKill: lsn(10) }]
    const items = itemsAfter(10).filter(([id]) => id !== "0")
    const after = { ...input, entries, runs, kills, items, logged: range(1, 12), finalConfirmed: lsn(12) }
    assert.deepStrictEqual(verify(after).violations, [])
    // The move applied once, to a replay that never had row 0 (seq 1 wrote row 1): the journal missed something.
    assert.include(violationsOf({ ...after, entries: [entry(1, 1), move(1, 100)] }), "for a row the replay lacks")
  })

  it("reports walsender timeouts in the server log and a session lost during a stall", () => {
    const input = good()
    assert.include(
      violationsOf({ ...input, serverLog: `2026-12-06 LOG:  ${walsenderTimeoutMessage}\n` }),
      "the server log has 1 walsender timeouts"
    )
    assert.include(
      violationsOf({ ...input, stalls: [{ run: 2, from: 3000, to: 7000 }], reconnects: [{ run: 2, at: 6900 }] }),
      "consumer run 2 lost its session while it stalled"
    )
  })

  it("reports a consumer that ended by itself, one that did not stop cleanly, and a final commit the slot lacks", () => {
    const input = good()
    const crashed = { ...input.runs[0]!, endedBy: "crash" as const, exitCode: 2, logTail: "the stream failed" }
    assert.include(
      violationsOf({ ...input, runs: [crashed, input.runs[1]!], kills: [] }),
      "consumer run 1 ended by itself (exit code 2, signal SIGKILL): the stream failed"
    )
    const unclean = { ...input.runs[1]!, exitCode: 1 }
    assert.include(
      violationsOf({ ...input, runs: [input.runs[0]!, unclean] }),
      "the last consumer run 2 did not stop cleanly"
    )
    assert.include(violationsOf({ ...input, finalConfirmed: lsn(9) }), "before the last commit")
  })

  it("reports torn or foreign journal lines and transactions without a sequence number", () => {
    const input = good()
    assert.include(
      violationsOf({ ...input, badLines: [{ line: 3, text: '{"run":1,"ls' }] }),
      "the journal has lines that are not entries: line 3"
    )
    const entries = input.entries.map((e) => (e.seq === 3 ? { ...e, seq: null } : e))
    assert.include(violationsOf({ ...input, entries }), "transactions without a writer sequence number")
  })
})
