/**
 * @pgcdc/cluster: replication slot consumers run across several processes by effect/cluster: the runner
 * (`Runner.layer`, `ClusterOptions`), one consumer per slot (`SlotConsumer.layer`), where each slot runs
 * (`ClusterStatus`) and per-slot metrics (`ClusterMetrics`). See docs/cluster.md.
 */
export * as ClusterMetrics from "./ClusterMetrics.ts"
export * as ClusterOptions from "./ClusterOptions.ts"
export * as ClusterStatus from "./ClusterStatus.ts"
export { ClusterRunner } from "./Runner.ts"
export * as Runner from "./Runner.ts"
export * as SlotConsumer from "./SlotConsumer.ts"
