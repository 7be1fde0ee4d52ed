/**
 * PostgreSQL in a Docker container through Testcontainers, used when a Docker engine answers.
 *
 * Loaded lazily by the provider (importing Testcontainers costs time, and most machines of ours have no Docker
 * engine). Settings become `-c` flags, pg_hba.conf lines and TLS files are copied into the container. The container
 * is stopped and removed when the scope closes.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { readFile } from "node:fs/promises"
import { GenericContainer, Wait } from "testcontainers"
import { baseSettings, type TestDatabaseInfo, type TestDatabaseOptions } from "./TestDatabase.ts"
import { TestDatabaseError } from "./TestDatabaseError.ts"
import { probeServer } from "./ServerProbe.ts"

export const startContainer = (
  options: TestDatabaseOptions,
  credentials: { readonly user: string; readonly password: string; readonly database: string }
): Effect.Effect<TestDatabaseInfo, TestDatabaseError, Scope.Scope> =>
  Effect.gen(function* () {
    const major = options.major ?? 18
    const settings: Record<string, string> = { ...baseSettings, ...options.settings }
    const command = Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`])
    const files: Array<{ content: string; target: string; mode: number }> = []
    if (options.hba !== undefined) {
      files.push({ content: `${options.hba.join("\n")}\n`, target: "/etc/pgcdc/pg_hba.conf", mode: 0o644 })
      command.push("-c", "hba_file=/etc/pgcdc/pg_hba.conf")
    }
    if (options.ssl !== undefined) {
      const ssl = options.ssl
      const read = (file: string) =>
        Effect.tryPromise({
          try: () => readFile(file, "utf8"),
          catch: (cause) => new TestDatabaseError({ message: `cannot read ${file}`, cause })
        })
      files.push({ content: yield* read(ssl.certFile), target: "/etc/pgcdc/server.crt", mode: 0o644 })
      files.push({ content: yield* read(ssl.keyFile), target: "/etc/pgcdc/server.key", mode: 0o600 })
      command.push(
        "-c",
        "ssl=on",
        "-c",
        "ssl_cert_file=/etc/pgcdc/server.crt",
        "-c",
        "ssl_key_file=/etc/pgcdc/server.key"
      )
      if (ssl.caFile !== undefined) {
        files.push({ content: yield* read(ssl.caFile), target: "/etc/pgcdc/root.crt", mode: 0o644 })
        command.push("-c", "ssl_ca_file=/etc/pgcdc/root.crt")
      }
    }
    const container = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: () =>
          new GenericContainer(`postgres:${major}`)
            .withEnvironment({
              POSTGRES_USER: credentials.user,
              POSTGRES_PASSWORD: credentials.password,
              POSTGRES_DB: credentials.database
            })
            // The image's entrypoint chowns nothing under /etc/pgcdc, so files are copied as the postgres user (999).
            .withCopyContentToContainer(files.map((f) => ({ ...f, uid: 999, gid: 999 })))
            .withCommand(["postgres", ...command])
            .withExposedPorts(5432)
            .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
            .start(),
        catch: (cause) => new TestDatabaseError({ message: `could not start the postgres:${major} container`, cause })
      }),
      (started) =>
        Effect.promise(() =>
          started.stop().then(
            () => undefined,
            () => undefined
          )
        )
    )
    const host = container.getHost()
    const port = container.getMappedPort(5432)
    const probe = yield* probeServer({ host, port, ...credentials })
    const info: TestDatabaseInfo = {
      host,
      port,
      ...credentials,
      url: `postgres://${credentials.user}:${credentials.password}@${host}:${port}/${credentials.database}`,
      major: Math.floor(probe.serverVersionNum / 10000),
      serverVersionNum: probe.serverVersionNum,
      socketDir: undefined,
      dataDir: undefined,
      pid: undefined,
      source: "testcontainers",
      control: undefined
    }
    return info
  })
