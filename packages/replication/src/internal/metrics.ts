/**
 * The Replication service's metrics (Effect `Metric`s, exported by whatever exporter the application installs:
 * Prometheus or OTLP through `effect/observability`). Public as `ReplicationMetrics`; the names are documented in the
 * package README.
 */
import * as Metric from "effect/Metric"

export const messagesTotal = Metric.counter("pgcdc_replication_messages_total", {
  description: "WAL messages decoded",
  incremental: true
})
export const bytesTotal = Metric.counter("pgcdc_replication_bytes_total", {
  description: "Bytes of CopyData received on the replication stream",
  incremental: true
})
export const lagGauge = Metric.gauge("pgcdc_replication_lag_bytes", {
  description: "Bytes of WAL the server holds beyond the reported flush position",
  bigint: true
})
export const reconnectsTotal = Metric.counter("pgcdc_replication_reconnects_total", {
  description: "Replication sessions restarted after a retryable failure",
  incremental: true
})
export const snapshotRowsTotal = Metric.counter("pgcdc_snapshot_rows_total", {
  description: "Rows of initial snapshots handed to the consumer",
  incremental: true
})
export const slotRetainedGauge = Metric.gauge("pgcdc_slot_retained_wal_bytes", {
  description: "Bytes of WAL the slot keeps on the server (current WAL position minus the slot's restart_lsn)",
  bigint: true
})
export const slotSafeWalSizeGauge = Metric.gauge("pgcdc_slot_safe_wal_size_bytes", {
  description: "Bytes of WAL that can still be written before the slot is in danger of losing WAL (-1: no limit)",
  bigint: true
})
export const heartbeatsTotal = Metric.counter("pgcdc_heartbeats_total", {
  description: "Heartbeat messages written",
  incremental: true
})
