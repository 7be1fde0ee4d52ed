/**
 * The command line's contract, without a server: help on stdout only when asked and then nothing else; a wrong
 * invocation or a bad value is one line on stderr and exit status 2, found before any connection is attempted (the
 * URL given names a port where nothing listens, which would be exit status 1); short flags mean one thing
 * everywhere.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { runCli } from "./support.ts"

// Nothing listens on port 1: reaching the server would fail with exit status 1, not 2.
const nowhere = ["--url", "postgres://nobody@127.0.0.1:1/db"]

const commandPaths = [
  [],
  ["tail"],
  ["snapshot"],
  ["backfill"],
  ["check"],
  ["slot"],
  ["slot", "list"],
  ["slot", "inspect"],
  ["slot", "create"],
  ["slot", "drop"],
  ["publication"],
  ["publication", "list"],
  ["publication", "create"],
  ["publication", "drop"]
]

describe("usage", () => {
  it.effect("--help prints the help on stdout and nothing else, with exit status 0, for every command", () =>
    Effect.gen(function* () {
      for (const path of commandPaths) {
        const ran = yield* runCli([...path, "--help"])
        assert.strictEqual(ran.code, 0, path.join(" "))
        assert.strictEqual(ran.stderr, "", path.join(" "))
        assert.include(ran.stdout, `USAGE\n  pgcdc${path.map((p) => ` ${p}`).join("")} `)
      }
    })
  )

  it.effect("a wrong invocation is one line on stderr naming the command and its --help, exit status 2", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [[], "pgcdc: name a subcommand (tail, snapshot, backfill, slot, publication, check); see pgcdc --help\n"],
        [["slot"], "pgcdc slot: name a subcommand (list, inspect, create, drop); see pgcdc slot --help\n"],
        [["tail"], "pgcdc tail: Missing required flag: --slot; see pgcdc tail --help\n"],
        [["slot", "drop"], "pgcdc slot drop: Missing required argument: name; see pgcdc slot drop --help\n"],
        [
          ["slot", "list", "--bogus"],
          "pgcdc slot list: Unrecognized flag: --bogus in command pgcdc slot list; see pgcdc slot list --help\n"
        ]
      ]
      for (const [args, line] of cases) {
        const ran = yield* runCli(args)
        assert.deepStrictEqual(ran, { code: 2, stdout: "", stderr: line })
      }
    })
  )

  it.effect("bad values are usage errors found before connecting", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["tail", "-S", "s", "-P", "p", "--end", "yesterday"], 'pgcdc tail: --end "yesterday" is not an LSN'],
        [["tail", "-S", "Bad-Name", "-P", "p"], 'pgcdc tail: --slot "Bad-Name" is not a replication slot name'],
        [["tail", "-S", "s", "-P", " , "], "pgcdc tail: Name at least one publication (--publication)"],
        [["check", "--max-lag", "lots"], 'pgcdc check: --max-lag "lots" is not a size'],
        [["snapshot", "-P", "p", "--sessions", "0"], "pgcdc snapshot: --sessions must be a whole number above 0"],
        [["backfill", "orders", "--chunk-size", "-5"], "pgcdc backfill: --chunk-size must be a whole number above 0"],
        [
          ["publication", "create", "p"],
          "pgcdc publication create: Say what to publish: --table (-t), --schema or --all-tables"
        ],
        [
          ["publication", "create", "p", "-t", "a", "--publish", "insert,upsert"],
          'pgcdc publication create: --publish "upsert"'
        ]
      ]
      for (const [args, start] of cases) {
        const ran = yield* runCli([...args, ...nowhere])
        assert.strictEqual(ran.code, 2, `${args.join(" ")}: ${ran.stderr}`)
        assert.strictEqual(ran.stdout, "")
        assert.isTrue(ran.stderr.startsWith(start), ran.stderr)
        assert.strictEqual(ran.stderr.split("\n").length, 2, ran.stderr)
      }
      const badUrl = yield* runCli(["slot", "list", "--url", "mysql://x"])
      assert.deepStrictEqual(badUrl, {
        code: 2,
        stdout: "",
        stderr: "pgcdc slot list: --url: The connection URL must start with postgres:// or postgresql://\n"
      })
    })
  )

  it.effect("a failure is one line, a JSON object with --json, and the full cause with --verbose; exit status 1", () =>
    Effect.gen(function* () {
      const plain = yield* runCli(["slot", "list", ...nowhere])
      assert.strictEqual(plain.code, 1)
      assert.match(plain.stderr, /^pgcdc slot list: Could not connect to 127\.0\.0\.1:1: [^\n]+\n$/)
      const json = yield* runCli(["slot", "list", "--json", ...nowhere])
      assert.strictEqual(json.code, 1)
      const error = (JSON.parse(json.stderr) as { error: Record<string, unknown> }).error
      assert.deepStrictEqual(
        { command: error.command, kind: error.kind, exitCode: error.exitCode },
        { command: "pgcdc slot list", kind: "ConnectionError.Open", exitCode: 1 }
      )
      const verbose = yield* runCli(["--verbose", "slot", "list", ...nowhere])
      assert.strictEqual(verbose.code, 1)
      const [line, ...cause] = verbose.stderr.trimEnd().split("\n")
      assert.strictEqual(line, plain.stderr.trimEnd())
      assert.match(cause.join("\n"), /ConnectionError[\s\S]*\n\s+at /)
    })
  )

  it.effect("the same short flag means the same long flag in every command", () =>
    Effect.gen(function* () {
      const meaning = new Map<string, string>()
      for (const path of commandPaths) {
        const { stdout } = yield* runCli([...path, "--help"])
        for (const [, long, short] of stdout.matchAll(/--([a-z-]+), -([A-Za-z])\b/g)) {
          const known = meaning.get(short!)
          assert.isTrue(known === undefined || known === long, `-${short} is --${known} and --${long}`)
          meaning.set(short!, long!)
        }
      }
      assert.deepStrictEqual(Object.fromEntries([...meaning].sort()), {
        E: "end",
        I: "start",
        P: "publication",
        S: "slot",
        d: "url",
        h: "help",
        t: "table",
        v: "version"
      })
    })
  )
})
