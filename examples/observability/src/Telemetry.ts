/**
 * Where the consumer's telemetry goes, with Effect's own observability modules and nothing pgcdc-specific: pgcdc
 * records its metrics (`pgcdc_replication_*`, `pgcdc_snapshot_rows_total`) and spans (`Replication.session`,
 * `Slot.*`, `Publication.*`, `Connection.*`) through `effect/Metric` and the current `Tracer`, so an application only
 * installs exporters.
 *
 * - `prometheus`: an HTTP endpoint serving every metric in Prometheus' text format (`PrometheusMetrics.layerHttp`)
 *   on a Node HTTP server, for Prometheus to scrape.
 * - `otlp`: spans and metrics pushed to an OpenTelemetry collector (`OtlpTracer`, `OtlpMetrics`) over HTTP/JSON, every
 *   second, and once more when the program stops.
 *
 * It deliberately defines no metric of its own.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Layer from "effect/Layer"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpRouter from "effect/http/HttpRouter"
import * as OtlpMetrics from "effect/observability/OtlpMetrics"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { createServer } from "node:http"

/** GET /metrics on `host:port` (port 0: any free port; the `HttpServer` service says which). */
export const prometheus = (host: string, port: number) =>
  HttpRouter.serve(PrometheusMetrics.layerHttp({ path: "/metrics" }), {
    disableLogger: true,
    disableListenLog: true
  }).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { host, port })))

const resource = { serviceName: "pgcdc-observability-example" }

/** Spans to `<baseUrl>/v1/traces` and metrics to `<baseUrl>/v1/metrics` (an OTLP/HTTP collector, e.g. port 4318). */
export const otlp = (baseUrl: string) =>
  Layer.mergeAll(
    OtlpTracer.layer({ url: `${baseUrl}/v1/traces`, resource, exportInterval: "1 second" }),
    OtlpMetrics.layer({ url: `${baseUrl}/v1/metrics`, resource, exportInterval: "1 second" })
  ).pipe(Layer.provide(Layer.merge(OtlpSerialization.layerJson, FetchHttpClient.layer)))
