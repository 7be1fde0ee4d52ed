/**
 * The observed program: a pgcdc consumer (an initial snapshot, then the stream, committing each transaction) of a
 * table a writer keeps changing, with its metrics served for Prometheus and, when a collector is given, its spans
 * and metrics pushed over OTLP (Telemetry.ts). It runs until interrupted, or for `durationSeconds`.
 *
 * The server is `url` or an embedded PostgreSQL 18 (removed at the end). It prints where the metrics are, then a line
 * every few seconds with what the consumer has done; everything else is what the exporters show.
 */
import { Main } from "@pgcdc/cli"
import { Connection, ConnectionConfig, Connector } from "@pgcdc/connection"
import { Lsn, Replication, Transactions } from "@pgcdc/replication"
import { TestDatabase } from "@pgcdc/testing"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as HttpServer from "effect/http/HttpServer"
import { otlp, prometheus } from "./Telemetry.ts"
import * as Workload from "./Workload.ts"

export interface ObservedOptions {
  readonly url: string | undefined
  /** Where Prometheus scrapes: `http://<host>:<port>/metrics`; port 0 picks a free one (printed). */
  readonly host: string
  readonly port: number
  /** An OTLP/HTTP collector's base URL (`http://localhost:4318`), or none. */
  readonly otlp: string | undefined
  /** Writer transactions per second. */
  readonly rate: number
  /** Stop after this many seconds; 0 runs until interrupted. */
  readonly durationSeconds: number
  readonly print: (line: string) => Effect.Effect<void>
}

const serverConfig = (url: string | undefined) =>
  Effect.gen(function* () {
    if (url !== undefined) {
      const parsed = ConnectionConfig.fromUrl(url)
      if (Result.isFailure(parsed)) return yield* new Main.UsageError({ message: `--url: ${parsed.failure.message}` })
      return parsed.success
    }
    return TestDatabase.config(yield* TestDatabase.make({ major: 18 }))
  })

const observe = (options: ObservedOptions) =>
  Effect.gen(function* () {
    const address = (yield* HttpServer.HttpServer).address
    const port = address._tag === "UnixPathAddress" ? options.port : address.port
    yield* options.print(`metrics: http://${options.host}:${port}/metrics`)
    if (options.otlp !== undefined) yield* options.print(`spans and metrics: OTLP to ${options.otlp}`)
    const config = yield* serverConfig(options.url)
    const sql = yield* Connection.make(config)
    yield* Workload.prepare(sql)
    const replication = yield* Replication.make({
      slot: "pgcdc_observed",
      publications: [Workload.publication],
      snapshot: "when_needed",
      statusInterval: "1 second"
    }).pipe(Effect.provideService(Connector, Connector.make({ ...config, replication: "logical" })))
    let transactions = 0
    yield* replication.stream.pipe(
      Stream.runForEach((message) =>
        Effect.andThen(
          Transactions.acknowledge(replication, message),
          Effect.sync(() => {
            if (message._tag === "Commit") transactions++
          })
        )
      ),
      Effect.forkScoped
    )
    yield* Workload.write(yield* Connection.make(config), options.rate).pipe(Effect.forkScoped)
    const report = Effect.flatMap(replication.status, (s) =>
      options.print(`${transactions} transactions consumed, committed ${Lsn.format(s.committed)}`)
    )
    yield* Effect.repeat(report, Schedule.spaced("5 seconds")).pipe(Effect.forkScoped)
    yield* options.durationSeconds > 0 ? Effect.sleep(Duration.seconds(options.durationSeconds)) : Effect.never
  }).pipe(Effect.scoped)

/** Runs the observed consumer with its exporters installed. */
export const run = (options: ObservedOptions) =>
  observe(options).pipe(
    Effect.provide(
      options.otlp === undefined
        ? prometheus(options.host, options.port)
        : Layer.merge(prometheus(options.host, options.port), otlp(options.otlp))
    )
  )
