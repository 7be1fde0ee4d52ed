/**
 * How a runner joins the cluster: the address its peers reach it at, where the cluster keeps its state (a PostgreSQL
 * database: runners, shard locks, messages, and pgcdc's slot status table, all named `<tablePrefix>_...`), and the
 * sharding timings. pgcdc's defaults bound a takeover after a runner's crash to about 15 seconds (docs/cluster.md):
 *
 * - `shardLockExpiration` 10 s: a runner whose heartbeat is older is no longer a member, so its shards go to the
 *   others; it is also the idle timeout of each runner's lock session, which frees a frozen or partitioned runner's
 *   locks (effect/cluster's default is 35 s);
 * - `shardLockRefreshInterval` 3 s: heartbeats and lock refreshes (at most a third of the expiration);
 * - `refreshAssignmentsInterval` 2 s: how soon the others notice a departure and recompute;
 * - `runnerHealthCheckInterval` 10 s: the pings that may mark an unreachable runner unhealthy sooner;
 * - `shardsPerGroup` 32: a handful of slots needs few shards, and fewer shards means fewer lock operations on a move
 *   (with effect/cluster's 300, a mass release under a slow storage link was seen to drop locks still in use);
 * - `runnerJoinDebounce` 5 s: a runner that joins waits until no other has joined for this long before shards move
 *   to it, so a burst of starts (a cold start, a surge deploy) moves each slot once; departures move at once.
 *
 * `config` reads the same through Effect `Config` (`PGCDC_RUNNER_HOST`, `PGCDC_RUNNER_PORT`, ...). It does not read
 * the variables effect/cluster's own `layerFromEnv` reads (HOST, PORT, ...): the runner layer is built without it.
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"

export interface Address {
  readonly host: string
  readonly port: number
}

export interface Timings {
  readonly shardLockExpiration: Duration.Duration
  readonly shardLockRefreshInterval: Duration.Duration
  readonly refreshAssignmentsInterval: Duration.Duration
  readonly runnerHealthCheckInterval: Duration.Duration
  readonly runnerJoinDebounce: Duration.Duration
  readonly shardsPerGroup: number
}

export interface ClusterOptions {
  /** Where the other runners reach this one (must be reachable from every runner). */
  readonly runnerAddress: Address
  /** Where this runner listens; default `runnerAddress` (use host 0.0.0.0 behind NAT or in a container). */
  readonly listenAddress?: Address | undefined
  /** The cluster's storage database (a PostgreSQL URL); any database every runner reaches. */
  readonly storageUrl: Redacted.Redacted<string>
  /** Prefix of the storage tables. Default "pgcdc_cluster". */
  readonly tablePrefix?: string | undefined
  /** Sharding timings; each defaults to pgcdc's value (`defaults`). */
  readonly timings?: Partial<Timings> | undefined
}

export const defaults: Timings = {
  shardLockExpiration: Duration.seconds(10),
  shardLockRefreshInterval: Duration.seconds(3),
  refreshAssignmentsInterval: Duration.seconds(2),
  runnerHealthCheckInterval: Duration.seconds(10),
  runnerJoinDebounce: Duration.seconds(5),
  shardsPerGroup: 32
}

export const defaultPrefix = "pgcdc_cluster"

const optional = <A>(config: Config.Config<A>) => Config.map(Config.option(config), Option.getOrUndefined)

/**
 * The options from Effect `Config`: `PGCDC_RUNNER_HOST` (default localhost), `PGCDC_RUNNER_PORT` (default 34431),
 * `PGCDC_LISTEN_HOST` / `PGCDC_LISTEN_PORT`, `PGCDC_CLUSTER_STORAGE_URL` (required), `PGCDC_CLUSTER_TABLE_PREFIX`,
 * and the timings as durations ("10 seconds"): `PGCDC_SHARD_LOCK_EXPIRATION`, `PGCDC_SHARD_LOCK_REFRESH_INTERVAL`,
 * `PGCDC_REFRESH_ASSIGNMENTS_INTERVAL`, `PGCDC_RUNNER_HEALTH_CHECK_INTERVAL`, `PGCDC_RUNNER_JOIN_DEBOUNCE`, and
 * `PGCDC_SHARDS_PER_GROUP`.
 */
export const config: Config.Config<ClusterOptions> = Config.map(
  Config.all({
    host: Config.withDefault(Config.String("PGCDC_RUNNER_HOST"), "localhost"),
    port: Config.withDefault(Config.Port("PGCDC_RUNNER_PORT"), 34431),
    listenHost: optional(Config.String("PGCDC_LISTEN_HOST")),
    listenPort: optional(Config.Port("PGCDC_LISTEN_PORT")),
    storageUrl: Config.Redacted("PGCDC_CLUSTER_STORAGE_URL"),
    tablePrefix: optional(Config.String("PGCDC_CLUSTER_TABLE_PREFIX")),
    shardLockExpiration: optional(Config.Duration("PGCDC_SHARD_LOCK_EXPIRATION")),
    shardLockRefreshInterval: optional(Config.Duration("PGCDC_SHARD_LOCK_REFRESH_INTERVAL")),
    refreshAssignmentsInterval: optional(Config.Duration("PGCDC_REFRESH_ASSIGNMENTS_INTERVAL")),
    runnerHealthCheckInterval: optional(Config.Duration("PGCDC_RUNNER_HEALTH_CHECK_INTERVAL")),
    runnerJoinDebounce: optional(Config.Duration("PGCDC_RUNNER_JOIN_DEBOUNCE")),
    shardsPerGroup: optional(Config.Int("PGCDC_SHARDS_PER_GROUP"))
  }),
  (c): ClusterOptions => {
    const timings: { -readonly [K in keyof Timings]?: Timings[K] } = {}
    if (c.shardLockExpiration !== undefined) timings.shardLockExpiration = c.shardLockExpiration
    if (c.shardLockRefreshInterval !== undefined) timings.shardLockRefreshInterval = c.shardLockRefreshInterval
    if (c.refreshAssignmentsInterval !== undefined) timings.refreshAssignmentsInterval = c.refreshAssignmentsInterval
    if (c.runnerHealthCheckInterval !== undefined) timings.runnerHealthCheckInterval = c.runnerHealthCheckInterval
    if (c.runnerJoinDebounce !== undefined) timings.runnerJoinDebounce = c.runnerJoinDebounce
    if (c.shardsPerGroup !== undefined) timings.shardsPerGroup = c.shardsPerGroup
    return {
      runnerAddress: { host: c.host, port: c.port },
      listenAddress:
        c.listenHost === undefined && c.listenPort === undefined
          ? undefined
          : { host: c.listenHost ?? c.host, port: c.listenPort ?? c.port },
      storageUrl: c.storageUrl,
      tablePrefix: c.tablePrefix,
      timings
    }
  }
)

/** The timings in force: the options over pgcdc's defaults. */
export const timingsOf = (options: ClusterOptions): Timings => ({ ...defaults, ...options.timings })
