/**
 * What importing `@pgcdc/protocol` loads. Start-up cost is mostly Effect's module graph: `effect/Schema` (and
 * `effect/Config`, which loads it) brings about 145 of Effect's modules (crypto, http, net, JSON Schema...),
 * `effect/DateTime` and `effect/Effect` about 65 (the runtime core); the codecs need 22 and none of those, so the
 * main entry must not load them (users of the Schemas import `@pgcdc/protocol/schema`). A module-list assertion, not
 * a timing one.
 *
 * Each import runs in a fresh Node (the one running vitest, which strips the types of the source entry) with a
 * synchronous, in-thread load hook that records every URL it loads.
 */
import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"

const loadedBy = (entry: URL): ReadonlyArray<string> => {
  const script = `
    import { registerHooks } from "node:module"
    const urls = []
    registerHooks({ load: (url, context, next) => { urls.push(url); return next(url, context) } })
    await import(${JSON.stringify(entry.href)})
    console.log(JSON.stringify(urls))
  `
  const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })
  return JSON.parse(stdout) as ReadonlyArray<string>
}

const effectModule = (url: string): string | undefined => /\/effect\/dist\/(.+)\.js$/.exec(url)?.[1]

// Schema and Config: the bulk of the cost. DateTime and Effect: the runtime core, which pure codecs never run.
const heavy = ["Schema", "Config", "DateTime", "Effect"]

describe("entry points", () => {
  it("@pgcdc/protocol loads neither effect/Schema, effect/Config, effect/DateTime nor effect/Effect", () => {
    const entry = new URL("../src/index.ts", import.meta.url)
    const urls = loadedBy(entry)
    // The hook saw the entry and the Effect modules it does need, so an empty list below is not a blind spot.
    expect(urls).toContain(entry.href)
    const effect = urls.map(effectModule).filter((name) => name !== undefined)
    expect(effect).toContain("Result")
    expect(effect.filter((name) => heavy.includes(name))).toEqual([])
  })

  it("@pgcdc/protocol/schema does load effect/Schema (the check above sees it when it is there)", () => {
    const effect = loadedBy(new URL("../src/schema/index.ts", import.meta.url)).map(effectModule)
    expect(effect).toContain("Schema")
  })
})
