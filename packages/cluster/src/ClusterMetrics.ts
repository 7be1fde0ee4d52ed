/**
 * The metrics of the slots this runner runs, as Effect `Metric`s labelled with `slot` (and `runner` where it tells
 * who): whether this runner owns the slot now, the consumer's lag, starts here, and the slot's moves between runners
 * (from the status table, so the same count on every runner that has run it). Exported by whatever exporter the
 * application installs (Prometheus or OTLP through effect/observability).
 */
import * as Metric from "effect/Metric"

export const owned = Metric.gauge("pgcdc_cluster_slot_owned", {
  description: "1 while this runner runs the slot's consumer, 0 otherwise (labels: slot, runner)"
})
export const lagBytes = Metric.gauge("pgcdc_cluster_slot_lag_bytes", {
  description: "WAL bytes between the server's end and what the slot's consumer committed (labels: slot, runner)",
  bigint: true
})
export const starts = Metric.counter("pgcdc_cluster_slot_starts_total", {
  description: "Starts of the slot's consumer on this runner, retries after a failure included (labels: slot, runner)",
  incremental: true
})
export const moves = Metric.gauge("pgcdc_cluster_slot_moves", {
  description:
    "Times the slot's consumer moved to another runner, cluster-wide, as of its last start here (label: slot)"
})
