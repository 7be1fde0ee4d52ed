/**
 * The service with an initial snapshot: read the snapshot (while the walsender session that exported it stays idle),
 * then run what follows (the sessions, streaming from the temporary slot at the consistent point); alongside, once the
 * consumer confirms the snapshot, make the slot permanent and let the sessions move to it. If either fails, the
 * service fails with it.
 *
 * It deliberately knows nothing of sessions: `afterwards` and `madePermanent` come from the service.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import { Lsn } from "@pgcdc/protocol"
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import type * as Semaphore from "effect/Semaphore"
import { type ReplicationError, replicationError } from "../../ReplicationError.ts"
import type { Received } from "../received.ts"
import { readSnapshot } from "./snapshotReader.ts"
import { makePermanent, type TemporarySlot } from "./temporarySlot.ts"

// What the service needs of the snapshot machinery, from this one module (it loads it only for a snapshot).
export { createTemporarySlot } from "./temporarySlot.ts"

/** Pages of a table read by one COPY (256 MB): a larger table is shared by the sessions in ranges this size. */
export const pagesPerChunk = 32768

export interface SnapshotThenOptions {
  readonly temporary: TemporarySlot
  readonly slot: string
  readonly publications: ReadonlyArray<string>
  readonly backfillSchema: string
  readonly sessions: number
  readonly connectSql: Effect.Effect<ConnectionShape, ReplicationError, Scope.Scope>
  readonly slice: number
  readonly permits: Semaphore.Semaphore
  readonly queue: Queue.Queue<Received, ReplicationError | Cause.Done>
  /** Completes when the consumer has committed SnapshotComplete. */
  readonly confirmed: Effect.Effect<void>
  /** The permanent slot exists. */
  readonly madePermanent: Effect.Effect<unknown>
  /** What runs once the snapshot is read. */
  readonly afterwards: Effect.Effect<never, ReplicationError>
}

export const snapshotThen = (options: SnapshotThenOptions): Effect.Effect<never, ReplicationError> => {
  const read = readSnapshot({
    snapshotName: options.temporary.snapshotName,
    consistentPoint: options.temporary.consistentPoint,
    publications: options.publications,
    backfillSchema: options.backfillSchema,
    sessions: options.sessions,
    pagesPerChunk,
    connect: options.connectSql,
    slice: options.slice,
    permits: options.permits,
    queue: options.queue
  })
  const permanent = Effect.gen(function* () {
    yield* options.confirmed
    yield* Effect.scoped(
      Effect.flatMap(options.connectSql, (sql) => makePermanent(sql, options.temporary.name, options.slot))
    )
    yield* Effect.logDebug(
      `Snapshot confirmed: replication slot "${options.slot}" created at its consistent point ${Lsn.format(options.temporary.consistentPoint)}`
    )
    yield* options.madePermanent
  })
  return Effect.all([Effect.andThen(read, options.afterwards), permanent], {
    concurrency: "unbounded",
    discard: true
  }).pipe(Effect.andThen(Effect.never))
}

/** Sessions end before the snapshot was confirmed, with its temporary slot: the snapshot cannot be kept. */
export const temporarySlotLost = (temporary: string, slot: string): ReplicationError =>
  replicationError("Snapshot", {
    message: `The session holding the snapshot's temporary slot ${temporary} ended before the snapshot was confirmed (committed), so slot "${slot}" was not created. Start again: the snapshot is taken again (snapshot "initial" or "when_needed").`
  })
