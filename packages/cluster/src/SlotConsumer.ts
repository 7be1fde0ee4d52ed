/**
 * One consumer per replication slot across the cluster: `layer` registers the slot as an effect/cluster singleton,
 * which runs on exactly one runner (the holder of its shard's lock) and moves to a live runner when its runner dies
 * or leaves. On its runner it opens the `Replication` service for the slot (waiting for the slot while a previous
 * owner's walsender still holds it: PostgreSQL lets one session stream a slot at a time, which backs up the lock)
 * and runs the consumer; the stream starts at the slot's confirmed position, so the at-least-once contract holds
 * across moves. When the singleton stops, the scope closes and the service sends its last status update before the
 * shard lock is released.
 *
 * effect/cluster never restarts a singleton whose effect fails or ends, so this one never does: a failed or ended
 * consumer is logged and started again after a backoff (500 ms doubling to 30 s, reset after a minute of running).
 * While it runs it reports the lag and position to the status table and metrics every `statusInterval`.
 * It does not choose where a slot runs: the shard assignment does.
 */
import { Connector } from "@pgcdc/connection"
import { Lsn, Replication, type ReplicationOptions, type ReplicationShape } from "@pgcdc/replication"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { type Sharding, Singleton } from "effect/cluster"
import * as SqlClient from "effect/sql/SqlClient"
import * as ClusterMetrics from "./ClusterMetrics.ts"
import * as SlotTable from "./internal/slotTable.ts"
import { ClusterRunner } from "./Runner.ts"

export interface SlotContext {
  readonly replication: ReplicationShape
  readonly slot: string
  /** This runner's address. */
  readonly runner: string
}

export interface SlotConsumerOptions<E, R> {
  readonly slot: string
  readonly publications: ReadonlyArray<string>
  /** Consumes the slot: runs until its scope closes (a move), committing what it processed. */
  readonly consume: (context: SlotContext) => Effect.Effect<void, E, R>
  /** The other Replication options (`waitForSlot` is set: every start may follow another owner). */
  readonly replication?: Omit<ReplicationOptions, "slot" | "publications" | "waitForSlot"> | undefined
  /** How often the lag goes to the status table and metrics. Default 5 seconds. */
  readonly statusInterval?: Duration.Input | undefined
}

const maxBackoff = Duration.seconds(30)
const stableAfter = Duration.minutes(1)

const backoff = (failures: number): Duration.Duration =>
  Duration.min(maxBackoff, Duration.millis(500 * 2 ** Math.min(failures - 1, 10)))

const report = (replication: ReplicationShape, slot: string, runner: ClusterRunner["Service"], every: Duration.Input) =>
  Effect.gen(function* () {
    const status = yield* replication.status
    yield* Metric.update(
      Metric.withAttributes(ClusterMetrics.lagBytes, { slot, runner: runner.address }),
      status.lagBytes
    )
    yield* SlotTable.heartbeat(runner.tablePrefix, slot, runner.address, status.lagBytes, Lsn.format(status.committed))
  }).pipe(
    Effect.provideService(SqlClient.SqlClient, runner.storage),
    Effect.catchCause((cause) => Effect.logWarning(`slot ${slot}: could not report its status`, cause)),
    Effect.repeat(Schedule.spaced(every))
  )

/** The singleton's body: runs the consumer on this runner until the singleton stops, starting it again on failure. */
const supervise = <E, R>(options: SlotConsumerOptions<E, R>) =>
  Effect.gen(function* () {
    const runner = yield* ClusterRunner
    const connector = yield* Connector
    const { slot } = options
    const labels = { slot, runner: runner.address }
    yield* Metric.update(Metric.withAttributes(ClusterMetrics.owned, labels), 1)
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Metric.update(Metric.withAttributes(ClusterMetrics.owned, labels), 0),
        Effect.logInfo(`slot ${slot}: stopped on ${runner.address}`)
      )
    )
    const moves = yield* SlotTable.started(runner.tablePrefix, slot, runner.address).pipe(
      Effect.provideService(SqlClient.SqlClient, runner.storage),
      Effect.catchCause((cause) => Effect.as(Effect.logWarning(`slot ${slot}: could not record its start`, cause), -1))
    )
    if (moves >= 0) yield* Metric.update(Metric.withAttributes(ClusterMetrics.moves, { slot }), moves)
    yield* Effect.logInfo(`slot ${slot}: starting on ${runner.address} (moves so far: ${moves})`)

    const once = Effect.scoped(
      Effect.gen(function* () {
        yield* Metric.update(Metric.withAttributes(ClusterMetrics.starts, labels), 1)
        const replication = yield* Replication.make({
          ...options.replication,
          slot,
          publications: options.publications,
          // A previous owner's walsender may still hold the slot (it exits once its session closes).
          waitForSlot: Schedule.spaced("250 millis")
        }).pipe(Effect.provideService(Connector, connector))
        yield* Effect.forkScoped(report(replication, slot, runner, options.statusInterval ?? Duration.seconds(5)))
        yield* options.consume({ replication, slot, runner: runner.address })
      })
    )
    let failures = 0
    for (;;) {
      const began = yield* Clock.currentTimeMillis
      const cause = yield* Effect.matchCause(once, { onFailure: (c) => c, onSuccess: () => undefined })
      const ran = (yield* Clock.currentTimeMillis) - began
      failures = ran >= Duration.toMillis(stableAfter) ? 1 : failures + 1
      const delay = backoff(failures)
      yield* Effect.logError(
        `slot ${slot}: the consumer ${cause === undefined ? "ended" : "failed"}; starting it again in ${Duration.format(delay)}`,
        ...(cause === undefined ? [] : [Cause.pretty(cause)])
      )
      yield* Effect.sleep(delay)
    }
  })

/**
 * The slot's consumer as a cluster singleton (named `pgcdc/slot/<slot>`): register it on every runner (the same
 * slots everywhere); it runs on one. Needs the runner (`Runner.layer`) and a `Connector` to the slot's server.
 */
export const layer = <E, R>(
  options: SlotConsumerOptions<E, R>
): Layer.Layer<never, never, Sharding.Sharding | ClusterRunner | Connector | Exclude<R, Scope.Scope>> =>
  Singleton.make(`pgcdc/slot/${options.slot}`, supervise(options))
