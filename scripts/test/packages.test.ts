/**
 * What we would publish: each package's `publishConfig.exports` (the exports `pnpm pack` writes into the tarball)
 * names compiled JavaScript and declarations that the build produces, the workspace's `pgcdc-build` condition
 * loads the same files, and those files load under plain Node with type stripping turned off, i.e. without a single
 * `.ts` module (Node refuses to strip types under node_modules, so a published package must not need it).
 *
 * And what each package asks its users to install: runtime dependencies and peers are exactly the packages its
 * `src` imports, `effect` is a peer (one copy in the user's app) whose range starts at the version the workspace
 * tests with, and every Effect package in the workspace is at that one version. (install.test.ts then installs the
 * packed tarballs from the registry and runs them.)
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { optionalPeers } from "@pgcdc/testing/internal/OptionalPeers"
import { beforeAll, describe, expect, it } from "vitest"
import { withBuildLock } from "./support/buildLock.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const packages = ["protocol", "connection", "replication", "testing", "sink-postgres", "cluster", "cli"] as const

/**
 * Entry points besides the main one: the parts that load Effect Schema or Config (about 80 modules, over 100 ms of
 * CPU at every process start), which a consumer opts into by importing them: protocol's Schemas of the messages,
 * connection's Config readers, replication's typed rows.
 */
const subpaths: Readonly<Record<string, ReadonlyArray<string>>> = {
  protocol: ["./schema"],
  connection: ["./config"],
  replication: ["./rows"]
}
/** The entry points a consumer of the replication stream imports, which must not load those modules. */
const lightEntries = ["@pgcdc/protocol", "@pgcdc/connection", "@pgcdc/replication"] as const

type Specs = Readonly<Record<string, string>>

interface Manifest {
  readonly name: string
  readonly version?: string
  readonly files: ReadonlyArray<string>
  readonly exports: Record<string, Record<string, string>>
  readonly publishConfig: { readonly exports: Record<string, Record<string, string> | null> }
  readonly dependencies?: Specs
  readonly peerDependencies?: Specs
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>
  readonly devDependencies?: Specs
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(path.join(root, dir, "package.json"), "utf8")) as Manifest
const manifest = (pkg: string): Manifest => readManifest(path.join("packages", pkg))

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(full)
    return entry.name.endsWith(".ts") ? [full] : []
  })

/** The npm packages a package's src imports (statically, dynamically or for types), builtins and relatives aside. */
const importedPackages = (pkg: string): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const file of sourceFiles(path.join(root, "packages", pkg, "src"))) {
    // Doc comments show usage examples with import lines; they are not imports.
    const code = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "")
    for (const [, specifier] of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)"([^"]+)"/g)) {
      if (specifier === undefined || specifier.startsWith(".") || specifier.startsWith("node:")) continue
      const parts = specifier.split("/")
      names.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!)
    }
  }
  return [...names].sort()
}

/** Every name each package exports (values; types are checked by the typecheck of the examples and tests). */
const publicApi: Readonly<Record<string, ReadonlyArray<string>>> = {
  "@pgcdc/protocol": [
    "AuthenticationCode",
    "Backend",
    "BackendType",
    "CopyTextCursor",
    "Framer",
    "Frontend",
    "FrontendType",
    "Lsn",
    "Pgoutput",
    "ProtocolError",
    "Reader",
    "StartupCode",
    "Timestamp",
    "UnchangedToast",
    "Writer",
    "decodeBackend",
    "decodeCopyTextRow",
    "decodeDataRowRaw",
    "decodeFrontend",
    "decodePasswordMessage",
    "decodePgoutput",
    "decodeReplication",
    "decodeReplicationFrontend",
    "decodeSASLInitialResponse",
    "decodeSASLResponse",
    "decodeStartup",
    "defaultMaxMessageSize",
    "defaultMaxStartupMessageSize",
    "encodeBackend",
    "encodeBackendToBytes",
    "encodeDataRowRaw",
    "encodeFrontend",
    "encodeFrontendToBytes",
    "encodePgoutput",
    "encodePgoutputToBytes",
    "encodeReplication",
    "encodeReplicationToBytes",
    "isProtocolError",
    "readTextValue",
    "readTupleData",
    "readXLogDataPositions",
    "startupParameter",
    "unsafeDecodeBackend",
    "unsafeDecodeBackendBody",
    "unsafeDecodeCopyTextRow",
    "unsafeDecodeDataRowRawBody",
    "unsafeDecodeFrontend",
    "unsafeDecodeFrontendBody",
    "unsafeDecodePgoutput",
    "unsafeDecodeReplication",
    "unsafeDecodeReplicationFrontend",
    "unsafeDecodeRowChange",
    "unsafeDecodeStartup",
    "unsafeDecodeXLogDataHeader",
    "writeTupleData",
    "xlogDataHeaderLength"
  ],
  "@pgcdc/protocol/schema": [
    "BackendMessageFromBytes",
    "BackendMessageJson",
    "BackendMessageSchema",
    "BackendReplicationFromBytes",
    "BackendReplicationMessageSchema",
    "BackendSchema",
    "BeginPrepareSchema",
    "BeginSchema",
    "BinaryValueSchema",
    "CommitPreparedSchema",
    "CommitSchema",
    "DeleteSchema",
    "FrontendMessageJson",
    "FrontendMessageSchema",
    "FrontendReplicationFromBytes",
    "FrontendReplicationMessageSchema",
    "FrontendSchema",
    "HotStandbyFeedbackSchema",
    "InsertSchema",
    "LsnFromString",
    "LsnSchema",
    "MessageSchema",
    "OriginSchema",
    "PgoutputFromBytes",
    "PgoutputMessageSchema",
    "PrepareSchema",
    "PrimaryKeepaliveSchema",
    "RelationColumnSchema",
    "RelationSchema",
    "ReplicaIdentitySchema",
    "RollbackPreparedSchema",
    "StandbyStatusUpdateSchema",
    "StartupPhaseMessageFromBytes",
    "StreamAbortSchema",
    "StreamCommitSchema",
    "StreamPrepareSchema",
    "StreamStartSchema",
    "StreamStopSchema",
    "TimestampFromString",
    "TimestampSchema",
    "TruncateSchema",
    "TupleDataSchema",
    "TupleValueSchema",
    "TypeSchema",
    "TypedFrontendMessageFromBytes",
    "UnchangedToastSchema",
    "UpdateSchema",
    "XLogDataSchema",
    "timestampFromDateTime",
    "timestampToDateTimeLossy"
  ],
  "@pgcdc/connection": [
    "Connection",
    "ConnectionConfig",
    "ConnectionError",
    "Connector",
    "ReplicationCommands",
    "isConnectionError",
    "isRetryableSqlState",
    "majorOf",
    "parseServerVersion"
  ],
  "@pgcdc/replication": [
    "Json",
    "Lsn",
    "Numeric",
    "PgDate",
    "PgInterval",
    "PgTime",
    "PgTimestamp",
    "Publication",
    "Replication",
    "ReplicationError",
    "ReplicationErrorReason",
    "ReplicationMetrics",
    "Slot",
    "Timestamp",
    "Transactions",
    "TypeOid",
    "UnchangedToast",
    "ValueError",
    "WalMessage",
    "arrayElementOid",
    "arrayOidOf",
    "builtinTypes",
    "decodeBinary",
    "decodeText",
    "encodeBinary",
    "encodeText",
    "isReplicationError",
    "toNested"
  ],
  "@pgcdc/connection/config": ["fromEnv", "urlConfig"],
  "@pgcdc/replication/rows": [
    "PgSchema",
    "RowDecodeError",
    "RowDecodeErrorReason",
    "changes",
    "completeFromOld",
    "decodeAll",
    "isComplete",
    "make",
    "showValue"
  ],
  "@pgcdc/cli": ["JsonLine", "Main", "command", "version"],
  "@pgcdc/cluster": ["ClusterMetrics", "ClusterOptions", "ClusterRunner", "ClusterStatus", "Runner", "SlotConsumer"],
  "@pgcdc/sink-postgres": ["PostgresSink", "SinkError", "SinkErrorReason", "TableMap", "isSinkError"],
  "@pgcdc/testing": [
    "BackendError",
    "Change",
    "Conformance",
    "ConformanceError",
    "Consumers",
    "Crash",
    "FakeBackend",
    "FakePostgres",
    "FakePostgresError",
    "FakeServer",
    "FakeSession",
    "PostgresBackend",
    "Random",
    "Simulation",
    "SimulationFailure",
    "SimulationTables",
    "TestDatabase",
    "TestDatabaseError",
    "TestLogger",
    "UnexpectedMessage",
    "baseSettings",
    "connectScriptedClient",
    "corruptFrame",
    "fakeConnectionConfig",
    "fakeConnectionLayer",
    "fakeConnectorLayer",
    "fakeTcpConnectionConfig",
    "fakeTcpConnectionLayer",
    "fakeTcpConnectorLayer",
    "fakeTlsCa",
    "fakeTlsCertificate",
    "fakeTlsKey",
    "freePort",
    "majors",
    "observe",
    "simulationTables",
    "snapshotOf"
  ]
}

const keys = (specs: Specs | undefined): ReadonlyArray<string> => Object.keys(specs ?? {}).sort()

describe("published packages", () => {
  beforeAll(async () => {
    // Incremental: nearly free when the typecheck has already built everything (as .ci/run does first).
    await withBuildLock(async () =>
      execFileSync(path.join(root, "node_modules/.bin/tsc"), ["-b"], { cwd: root, stdio: "inherit" })
    )
  }, 300_000)

  it.each(packages)("%s: the published exports are the built JavaScript and declarations", (pkg) => {
    const m = manifest(pkg)
    expect(m.files).toContain("build/src")
    const published = m.publishConfig.exports["."]!
    expect(published).toEqual({ types: "./build/src/index.d.ts", default: "./build/src/index.js" })
    for (const file of Object.values(published)) expect(existsSync(path.join(root, "packages", pkg, file))).toBe(true)
    // The condition the benchmarks use loads exactly what users would get.
    expect(m.exports["."]!["pgcdc-build"]).toBe(published.default)
    // Nothing but the entry points is published: internals (reachable inside the workspace, for benchmarks) are not.
    const extra = subpaths[pkg] ?? []
    expect(Object.keys(m.publishConfig.exports).sort()).toEqual([".", ...extra, "./internal/*"].sort())
    expect(m.publishConfig.exports["./internal/*"]).toBeNull()
    for (const entry of extra) {
      const file = entry.slice(2)
      const built = m.publishConfig.exports[entry]!
      expect(built.default).toMatch(new RegExp(`^\\./build/src/(${file}/index|[A-Za-z]+)\\.js$`))
      expect(built.types).toBe(built.default!.replace(/\.js$/, ".d.ts"))
      for (const f of Object.values(built)) expect(existsSync(path.join(root, "packages", pkg, f))).toBe(true)
      expect(m.exports[entry]!["pgcdc-build"]).toBe(built.default)
    }
  })

  it("the stream's entry points load neither effect/Schema nor effect/Config (start-up cost)", () => {
    // A resolve hook, run in-thread (module.registerHooks) so that no line is lost at exit, prints every module.
    const script = `
      import { registerHooks } from "node:module"
      registerHooks({ resolve(s, c, next) { const r = next(s, c); process.stderr.write(r.url + "\\n"); return r } })
      for (const name of ${JSON.stringify(lightEntries)}) await import(name)
    `
    const run = spawnSync(
      process.execPath,
      ["--no-experimental-strip-types", "--conditions=pgcdc-build", "--input-type=module", "-e", script],
      { cwd: root, encoding: "utf8" }
    )
    expect(run.status).toBe(0)
    const effectModules = [...new Set(run.stderr.split("\n"))].filter((url) => url.includes("/effect/dist/"))
    // Guard against a hook that printed nothing: Effect itself must be there.
    expect(effectModules.some((url) => url.endsWith("/effect/dist/Effect.js"))).toBe(true)
    expect(effectModules.filter((url) => /\/effect\/dist\/(Schema|Config)[A-Za-z]*\.js$/.test(url))).toEqual([])
  })

  it("every package loads from its build under plain Node, with no .ts module", () => {
    const script = `
      const names = ${JSON.stringify(Object.keys(publicApi))}
      const out = {}
      for (const name of names) out[name] = Object.keys(await import(name)).sort()
      console.log(JSON.stringify(out))
    `
    const stdout = execFileSync(
      process.execPath,
      ["--no-experimental-strip-types", "--conditions=pgcdc-build", "--input-type=module", "-e", script],
      // The workspace root depends on all of them.
      { cwd: root, encoding: "utf8" }
    )
    const exported = JSON.parse(stdout) as Record<string, ReadonlyArray<string>>
    // The public API of each package, name by name: a change to it must be deliberate (edit this list with it).
    expect(exported).toEqual(publicApi)
  })

  it("@pgcdc/cli: its bin is the built bin.js, which runs under plain Node", () => {
    const m = readManifest("packages/cli") as Manifest & { readonly bin?: Readonly<Record<string, string>> }
    expect(m.bin).toEqual({ pgcdc: "./build/src/bin.js" })
    const bin = path.join(root, "packages/cli/build/src/bin.js")
    expect(readFileSync(bin, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true)
    const stdout = execFileSync(
      process.execPath,
      ["--no-experimental-strip-types", "--conditions=pgcdc-build", bin, "--version"],
      {
        cwd: path.join(root, "packages/cli"),
        encoding: "utf8"
      }
    )
    expect(stdout).toBe(`pgcdc ${readManifest("packages/cli").version}\n`)
  })

  const workspaceDirs = [
    ".",
    ...packages.map((p) => `packages/${p}`),
    "examples/mirror",
    "examples/observability",
    "benchmarks"
  ]
  const effectVersion = readManifest(".").devDependencies!.effect!

  it.each(packages)("%s: dependencies and peers are exactly what src imports; effect is a peer", (pkg) => {
    const m = manifest(pkg)
    expect([...new Set([...keys(m.dependencies), ...keys(m.peerDependencies)])].sort()).toEqual(importedPackages(pkg))
    expect(m.dependencies?.effect).toBeUndefined()
    expect(m.peerDependencies?.effect).toBe(`^${effectVersion}`)
    expect(m.devDependencies?.effect).toBe(effectVersion)
  })

  it("every Effect package in the workspace is at one version", () => {
    expect(effectVersion).toMatch(/^\d+\.\d+\.\d+$/)
    const found: Array<string> = []
    for (const dir of workspaceDirs) {
      const m = readManifest(dir)
      for (const specs of [m.dependencies, m.devDependencies]) {
        for (const [name, spec] of Object.entries(specs ?? {})) {
          if (name === "effect" || name.startsWith("@effect/")) found.push(`${dir}: ${name}@${spec}`)
        }
      }
    }
    expect(found.filter((entry) => !entry.endsWith(`@${effectVersion}`))).toEqual([])
  })

  it("@pgcdc/testing: embedded PostgreSQL and Testcontainers are optional peers, tested at the versions it names", () => {
    const m = manifest("testing")
    for (const [name, peer] of Object.entries(optionalPeers)) {
      expect(m.dependencies?.[name], name).toBeUndefined()
      expect(m.peerDependencies?.[name], name).toBe(peer.range)
      expect(m.peerDependenciesMeta?.[name]?.optional, name).toBe(true)
      // The workspace installs them, so its own tests get all five majors.
      const dev = m.devDependencies?.[name]
      expect(dev === peer.range || `^${dev}` === peer.range, `${name}: devDependency ${dev}, peer ${peer.range}`).toBe(
        true
      )
      expect(peer.install).toBe(`${name}@${dev}`)
    }
    expect(keys(m.peerDependencies)).toEqual(["effect", ...Object.keys(optionalPeers)].sort())
  })
})
