/**
 * What we would publish: each package's `publishConfig.exports` (the exports `pnpm pack` writes into the tarball)
 * names compiled JavaScript and declarations that the build produces, the workspace's `pgcdc-build` condition
 * loads the same files, and those files load under plain Node with type stripping turned off, i.e. without a single
 * `.ts` module (Node refuses to strip types under node_modules, so a published package must not need it).
 */
import { execFileSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))
const packages = ["protocol", "connection", "replication", "testing"] as const

interface Manifest {
  readonly name: string
  readonly files: ReadonlyArray<string>
  readonly exports: Record<string, Record<string, string>>
  readonly publishConfig: { readonly exports: Record<string, Record<string, string>> }
}

const manifest = (pkg: string): Manifest =>
  JSON.parse(readFileSync(path.join(root, "packages", pkg, "package.json"), "utf8")) as Manifest

describe("published packages", () => {
  beforeAll(() => {
    // Incremental: nearly free when the typecheck has already built everything (as .ci/run does first).
    execFileSync(path.join(root, "node_modules/.bin/tsc"), ["-b"], { cwd: root, stdio: "inherit" })
  }, 120_000)

  it.each(packages)("%s: the published exports are the built JavaScript and declarations", (pkg) => {
    const m = manifest(pkg)
    expect(m.files).toContain("build/src")
    const published = m.publishConfig.exports["."]!
    expect(published).toEqual({ types: "./build/src/index.d.ts", default: "./build/src/index.js" })
    for (const file of Object.values(published)) expect(existsSync(path.join(root, "packages", pkg, file))).toBe(true)
    // The condition the benchmarks use loads exactly what users would get.
    expect(m.exports["."]!["pgcdc-build"]).toBe(published.default)
    expect(m.exports["./*"]!["pgcdc-build"]).toBe(m.publishConfig.exports["./*"]!.default)
  })

  it("every package loads from its build under plain Node, with no .ts module", () => {
    const script = `
      const names = ${JSON.stringify(packages.map((p) => `@pgcdc/${p}`))}
      const out = {}
      for (const name of names) out[name] = Object.keys(await import(name)).sort()
      console.log(JSON.stringify(out))
    `
    const stdout = execFileSync(
      process.execPath,
      ["--no-experimental-strip-types", "--conditions=pgcdc-build", "--input-type=module", "-e", script],
      // The benchmarks package depends on all four.
      { cwd: path.join(root, "benchmarks"), encoding: "utf8" }
    )
    const exported = JSON.parse(stdout) as Record<string, ReadonlyArray<string>>
    expect(exported["@pgcdc/protocol"]).toEqual(expect.arrayContaining(["Lsn", "Framer", "decodePgoutput"]))
    expect(exported["@pgcdc/connection"]).toEqual(expect.arrayContaining(["Connection", "ConnectionConfig"]))
    expect(exported["@pgcdc/replication"]).toEqual(expect.arrayContaining(["Replication", "WalMessage"]))
    expect(exported["@pgcdc/testing"]).toEqual(expect.arrayContaining(["FakePostgres", "TestDatabase"]))
  })
})
