/**
 * The command line's contract as a terminal sees it, from the real executable (a child process, no server):
 * `--help` is the help on stdout and nothing on stderr; a usage error is one line on stderr and nothing on stdout
 * (no usage dumped, no "Help requested" or ERROR block, as effect/cli's defaults print); a failure is one line on
 * stderr. usage.test.ts checks the wording in-process, where what the runtime itself prints would not be seen.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { pgcdc } from "./support.ts"

// Nothing listens on port 1.
const nowhere = ["--url", "postgres://nobody@127.0.0.1:1/db"]

/** What effect/cli and the Effect runtime print on their own, which pgcdc must never show. */
const strays = /Help requested|ERROR|\n\s+at .+:\d+:\d+/

describe("the pgcdc executable", () => {
  it.effect("--help: the help on stdout, nothing on stderr, exit status 0", () =>
    Effect.gen(function* () {
      for (const args of [["--help"], ["tail", "--help"], ["check", "-h"], ["slot", "create", "--help"]]) {
        const ran = yield* pgcdc(args)
        assert.strictEqual(ran.code, 0, args.join(" "))
        assert.strictEqual(ran.stderr, "", args.join(" "))
        assert.match(ran.stdout, /^DESCRIPTION\n[\s\S]*\nUSAGE\n {2}pgcdc/, args.join(" "))
        assert.notMatch(ran.stdout, strays)
      }
    })
  )

  it.effect("a usage error: one line on stderr, nothing on stdout, exit status 2", () =>
    Effect.gen(function* () {
      for (const args of [
        ["tail", "-P", "p"],
        ["slot"],
        ["slot", "list", "--bogus"],
        ["tail", "-S", "s", "-P", "p", "-E", "x"]
      ]) {
        const ran = yield* pgcdc([...args, ...nowhere])
        assert.deepStrictEqual({ code: ran.code, stdout: ran.stdout }, { code: 2, stdout: "" }, args.join(" "))
        assert.match(ran.stderr, /^pgcdc[a-z ]*: [^\n]+\n$/, args.join(" "))
        assert.notMatch(ran.stderr, strays)
      }
    })
  )

  it.effect("a failure: one line on stderr naming the command, nothing on stdout, exit status 1", () =>
    Effect.gen(function* () {
      const ran = yield* pgcdc(["tail", "-S", "s", "-P", "p", ...nowhere])
      assert.deepStrictEqual({ code: ran.code, stdout: ran.stdout }, { code: 1, stdout: "" })
      assert.match(ran.stderr, /^pgcdc tail: Could not connect to 127\.0\.0\.1:1: [^\n]+\n$/)
    })
  )
})
