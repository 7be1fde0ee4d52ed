/**
 * Waiting for the consumer to commit a position: a backfill goes on to its next chunk only once the consumer has
 * committed the transaction that handed the last one out. `commit` releases the waiters it passes (only when it moved
 * the position, and only when someone waits: the commit path stays one Ref update otherwise).
 *
 * No lost wake-up: a waiter joins the list before it reads the committed position, and `commit` moves the position
 * before it reads the list; whichever runs second sees the other.
 */
import type { Lsn } from "@pgcdc/protocol"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"

interface Waiter {
  readonly lsn: Lsn.Lsn
  readonly done: Deferred.Deferred<void>
}

export interface CommitWaiters {
  /** Completes once the committed position is at or past `lsn`. */
  readonly wait: (lsn: Lsn.Lsn) => Effect.Effect<void>
  /** The committed position is now `committed`. */
  readonly release: (committed: Lsn.Lsn) => Effect.Effect<void>
  /** Whether anyone waits (read synchronously: `commit` calls `release` only then). */
  readonly waiting: () => boolean
}

export const makeCommitWaiters = (committed: Effect.Effect<Lsn.Lsn>): Effect.Effect<CommitWaiters> =>
  Effect.map(Ref.make<ReadonlyArray<Waiter>>([]), (waiters) => {
    const remove = (w: Waiter) => Ref.update(waiters, (list) => list.filter((x) => x !== w))
    const wait = (lsn: Lsn.Lsn) =>
      Effect.suspend(() => {
        const w: Waiter = { lsn, done: Deferred.makeUnsafe<void>() }
        return Ref.update(waiters, (list) => [...list, w]).pipe(
          Effect.andThen(committed),
          Effect.flatMap((now) => (now >= lsn ? Effect.void : Deferred.await(w.done))),
          Effect.ensuring(remove(w))
        )
      })
    const release = (position: Lsn.Lsn) =>
      Effect.flatMap(Ref.get(waiters), (list) =>
        list.length === 0
          ? Effect.void
          : Effect.forEach(list, (w) => (w.lsn <= position ? Deferred.succeed(w.done, undefined) : Effect.void), {
              discard: true
            })
      )
    return { wait, release, waiting: () => waiters.ref.current.length > 0 }
  })
