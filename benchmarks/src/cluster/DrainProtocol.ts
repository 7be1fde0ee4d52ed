/**
 * The conversation between the cluster benchmark's driver and its consumer processes, and the one consumer function
 * both variants run (`consumeSlot`), so they differ only in what places the consumers: four processes of one slot
 * each, or effect/cluster across three runners.
 *
 * A consumer tells the driver when it is ready (its slot's Replication service is open; it waits at the gate), and
 * when it stops (its slot moved away). The driver opens the gate of every process at once ("Go") when the placement
 * is settled: what follows is the drain alone. The consumer then commits every transaction, as an application that
 * acknowledges each one would. By default it does nothing with the rows (the benchmark measures the library, not a
 * target database); with `targetDatabase` it is the exactly-once sink instead.
 */
import { type ReplicationShape, WalMessage } from "@pgcdc/replication"
import { PostgresSink } from "@pgcdc/sink-postgres"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"

/** What the driver passes a consumer process (JSON, first argument). */
export interface DrainConfig {
  readonly host: string
  readonly port: number
  readonly user: string
  readonly password: string
  /** Each slot, its publication, and the database they are in. */
  readonly slots: ReadonlyArray<{ readonly slot: string; readonly publication: string; readonly database: string }>
  /** How soon a commit reaches the server (Replication `flushDelay`), in ms: the same in both variants. */
  readonly flushDelayMs: number
  /**
   * Apply every transaction to this database with @pgcdc/sink-postgres (exactly once) instead of the no-op consumer
   * (`--consumer sink`): the same server, a database of its own per run.
   */
  readonly targetDatabase?: string | undefined
  /** Cluster runners only. */
  readonly cluster?:
    | {
        readonly port: number
        readonly storageUrl: string
        readonly tablePrefix: string
      }
    | undefined
}

/** What a consumer process tells the driver. */
export type ChildMessage =
  /** A runner's layer is built (it is a member of the cluster); a single-slot process sends it at once. */
  | { readonly _tag: "Up" }
  | { readonly _tag: "Ready"; readonly slot: string }
  | { readonly _tag: "Left"; readonly slot: string }
  | { readonly _tag: "Failure"; readonly message: string }

export type DriverMessage = { readonly _tag: "Go" }

export const send = (message: ChildMessage): void => {
  process.send?.(message)
}

/** Opened by the driver's "Go" (or at once when started by hand, without a driver). */
const gate: Promise<void> = new Promise((resolve) => {
  if (process.send === undefined) resolve()
  process.on("message", (message: DriverMessage) => {
    if (message._tag === "Go") resolve()
  })
})

export const readDrainConfig = (): DrainConfig => {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error("usage: <consumer>.ts '<DrainConfig as JSON>' (started by benchCluster)")
  return JSON.parse(raw) as DrainConfig
}

/** Commits every transaction of the stream, one message at a time (a plain function per message, as BENCHMARKS.md advises). */
const noop = (replication: ReplicationShape) =>
  Stream.runForEach(replication.stream, (message) =>
    message._tag === "Commit" ? replication.commit(WalMessage.lsnToConfirm(message)) : Effect.void
  )

const sink = (replication: ReplicationShape, slot: string, config: DrainConfig, database: string) =>
  PostgresSink.run(replication, {
    id: slot,
    target: {
      host: config.host,
      port: config.port,
      user: config.user,
      password: Redacted.make(config.password),
      database,
      sslmode: "disable"
    }
  })

/**
 * The consumer both variants run: ready, wait for the gate, then consume (no-op or sink). Runs until the process is
 * killed or its scope closes (a move), telling the driver when it stops.
 */
export const consumeSlot = (
  replication: ReplicationShape,
  slot: string,
  config: DrainConfig
): Effect.Effect<void, unknown> =>
  Effect.sync(() => send({ _tag: "Ready", slot })).pipe(
    Effect.andThen(Effect.promise(() => gate)),
    Effect.andThen(
      config.targetDatabase === undefined ? noop(replication) : sink(replication, slot, config, config.targetDatabase)
    ),
    Effect.ensuring(Effect.sync(() => send({ _tag: "Left", slot })))
  )

/** Reports a failure to the driver and exits with status 1. */
export const failChild = (error: unknown): never => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
  send({ _tag: "Failure", message })
  setTimeout(() => process.exit(1), 100)
  return undefined as never
}
