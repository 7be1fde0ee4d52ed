/**
 * The observability example as users run it (a child process with an embedded PostgreSQL 18): Prometheus scrapes
 * its /metrics and finds pgcdc's metrics with their types, counting what the consumer did; an OTLP collector (a
 * small HTTP server in this test that keeps what it is sent) receives pgcdc's spans and metrics, the
 * `Replication.session` span included once Ctrl-C ends the session.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import { spawn } from "node:child_process"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"

const node = path.resolve(import.meta.dirname, "../../../../node_modules/.bin/node")
const main = path.resolve(import.meta.dirname, "../../src/main.ts")

/** An OTLP/HTTP collector that keeps every JSON body by path. */
const collector = Effect.acquireRelease(
  Effect.promise(
    () =>
      new Promise<{ server: Server; received: Map<string, Array<unknown>>; url: string }>((resolve) => {
        const received = new Map<string, Array<unknown>>()
        const server = createServer((request, response) => {
          let body = ""
          request.on("data", (chunk: Buffer) => {
            body += chunk.toString()
          })
          request.on("end", () => {
            const list = received.get(request.url ?? "") ?? []
            list.push(JSON.parse(body))
            received.set(request.url ?? "", list)
            response.writeHead(200, { "content-type": "application/json" }).end("{}")
          })
        })
        server.listen(0, "127.0.0.1", () =>
          resolve({ server, received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })
        )
      })
  ),
  ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
)

interface OtlpSpans {
  readonly resourceSpans: ReadonlyArray<{
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<{ readonly name: string }> }>
  }>
}
interface OtlpMetrics {
  readonly resourceMetrics: ReadonlyArray<{
    readonly scopeMetrics: ReadonlyArray<{ readonly metrics: ReadonlyArray<{ readonly name: string }> }>
  }>
}

const spanNames = (bodies: ReadonlyArray<unknown>): Set<string> =>
  new Set(
    (bodies as ReadonlyArray<OtlpSpans>).flatMap((b) =>
      b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans.map((span) => span.name)))
    )
  )
const metricNames = (bodies: ReadonlyArray<unknown>): Set<string> =>
  new Set(
    (bodies as ReadonlyArray<OtlpMetrics>).flatMap((b) =>
      b.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.name)))
    )
  )

/** The value of a sample line `name value` in Prometheus' text format. */
const sample = (text: string, name: string): number | undefined => {
  const match = new RegExp(`^${name} (\\S+)$`, "m").exec(text)
  return match === null ? undefined : Number(match[1])
}

/** Retries `check` until it holds, polling what the program exports (no fixed wait). */
const until = <A>(check: Effect.Effect<A | undefined>, what: string) =>
  Effect.flatMap(check, (a) => (a === undefined ? Effect.fail(new Error(`not yet: ${what}`)) : Effect.succeed(a))).pipe(
    Effect.retry({ schedule: Schedule.spaced("200 millis"), times: 200 })
  )

describe("observability example", () => {
  it.live(
    "Prometheus finds pgcdc's metrics; an OTLP collector receives its spans and metrics",
    () =>
      Effect.gen(function* () {
        const otlp = yield* collector
        const child = spawn(node, [main, "--port", "0", "--rate", "20", "--otlp", otlp.url], {
          stdio: ["ignore", "pipe", "pipe"]
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString()
        })
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString()
        })
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
        const metricsUrl = yield* until(
          Effect.sync(() => /^metrics: (\S+)$/m.exec(stdout)?.[1]),
          "the example prints where its metrics are"
        )

        // Scraped as Prometheus does, until the consumer has streamed changes after its snapshot and reported its
        // position once (the lag gauge is set by each status update).
        const scrape = Effect.promise(() => fetch(metricsUrl).then((r) => r.text()))
        const text = yield* until(
          Effect.map(scrape, (t) =>
            (sample(t, "pgcdc_replication_messages_total") ?? 0) > 0 &&
            sample(t, "pgcdc_replication_lag_bytes") !== undefined
              ? t
              : undefined
          ),
          "pgcdc_replication_messages_total > 0 and a pgcdc_replication_lag_bytes"
        )
        assert.match(text, /^# TYPE pgcdc_replication_messages_total counter$/m)
        assert.match(text, /^# TYPE pgcdc_replication_bytes_total counter$/m)
        assert.match(text, /^# TYPE pgcdc_replication_lag_bytes gauge$/m)
        assert.match(text, /^# TYPE pgcdc_snapshot_rows_total counter$/m)
        assert.isAbove(sample(text, "pgcdc_replication_bytes_total") ?? 0, 0)
        // The table is seeded with 100 rows, which the initial snapshot hands out.
        assert.isAtLeast(sample(text, "pgcdc_snapshot_rows_total") ?? 0, 100)
        assert.isAtLeast(sample(text, "pgcdc_replication_lag_bytes") ?? -1, 0)

        // Pushed over OTLP: the metrics, and the spans of what has finished (the preflight's catalogue reads).
        yield* until(
          Effect.sync(() =>
            metricNames(otlp.received.get("/v1/metrics") ?? []).has("pgcdc_replication_messages_total")
              ? true
              : undefined
          ),
          "pgcdc_replication_messages_total over OTLP"
        )
        yield* until(
          Effect.sync(() =>
            spanNames(otlp.received.get("/v1/traces") ?? []).has("Publication.exists") ? true : undefined
          ),
          "the Publication.exists span over OTLP"
        )
        // Ctrl-C ends the replication session, and the exporter sends its span before the process exits.
        child.kill("SIGINT")
        assert.strictEqual(yield* Effect.promise(() => exited), 130, stderr)
        const spans = spanNames(otlp.received.get("/v1/traces") ?? [])
        for (const name of ["Replication.session", "Slot.inspect", "Connection.make", "Connection.query"]) {
          assert.isTrue(spans.has(name), `${name} not among the spans received: ${[...spans].join(", ")}`)
        }
      }).pipe(Effect.scoped),
    90_000
  )
})
