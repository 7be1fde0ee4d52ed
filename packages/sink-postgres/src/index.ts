/**
 * @pgcdc/sink-postgres: the exactly-once sink from a replication slot into a PostgreSQL database (`PostgresSink`),
 * the map of source tables to target tables (`TableMap`) and its error (`SinkError`).
 */
export * as PostgresSink from "./PostgresSink.ts"
export { isSinkError, SinkError, SinkErrorReason } from "./SinkError.ts"
export * as TableMap from "./TableMap.ts"
