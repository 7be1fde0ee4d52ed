/**
 * How Effect code drives the fake server, which is plain synchronous state: every entry point runs it under the
 * caller's `Clock` (so `TestClock` controls keepalives and timeouts), waits subscribe to its changes instead of
 * polling, and each session gets a fiber that sleeps until its next deadline and then ticks it.
 *
 * It holds no server state and none of the service's methods (FakePostgres.ts builds those on it).
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { FakePostgresError } from "./FakePostgresShape.ts"
import type { FakeServer } from "./FakeServer.ts"
import type { Attach, Step } from "./MemoryTransport.ts"
import type { Session } from "./Session.ts"

/** The Effect entry points into one fake server. */
export interface ServerDriver {
  /** Runs `f` on the server under the caller's clock. */
  readonly step: Step
  /** `step` for what may throw: the error becomes a `FakePostgresError`. */
  readonly stepTry: <A>(f: () => A) => Effect.Effect<A, FakePostgresError>
  /** Waits until `check` returns a value (checked now and at every change of the server). */
  readonly until: <A>(check: () => A | undefined) => Effect.Effect<A>
  /** A transport's connection as a session, with its timers, ended with the scope. */
  readonly attach: Attach
  /** Runs `f` on every open session. */
  readonly everySession: (f: (s: Session) => void) => Effect.Effect<void>
}

const wrap = <A>(f: () => A): Effect.Effect<A, FakePostgresError> =>
  Effect.try({
    try: f,
    catch: (e) => new FakePostgresError({ message: e instanceof Error ? e.message : String(e) })
  })

export const makeDriver = (server: FakeServer): ServerDriver => {
  // Every entry point runs the server under the caller's clock.
  const step: Step = (f) =>
    Effect.clockWith((c) =>
      Effect.sync(() => {
        server.clock = c
        return f()
      })
    )
  const stepTry = <A>(f: () => A): Effect.Effect<A, FakePostgresError> =>
    Effect.clockWith((c) =>
      wrap(() => {
        server.clock = c
        return f()
      })
    )

  const until = <A>(check: () => A | undefined): Effect.Effect<A> =>
    Effect.callback<A>((resume) => {
      const now = check()
      if (now !== undefined) return resume(Effect.succeed(now))
      const unsubscribe = server.subscribe(() => {
        const value = check()
        if (value !== undefined) {
          unsubscribe()
          resume(Effect.succeed(value))
        }
      })
      return Effect.sync(unsubscribe)
    })

  /** A session's timers: sleep until its next deadline or until the server changes, then tick. */
  const timers = (session: Session): Effect.Effect<void> =>
    Effect.gen(function* () {
      const wake = yield* Queue.sliding<void>(1)
      const unsubscribe = server.subscribe(() => Queue.offerUnsafe(wake, undefined))
      yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
      while (!session.closed) {
        const deadline = session.nextDeadline()
        const now = yield* Clock.currentTimeMillis
        if (deadline === undefined) yield* Queue.take(wake)
        else if (deadline > now)
          yield* Effect.raceFirst(Effect.sleep(Duration.millis(deadline - now)), Queue.take(wake))
        yield* step(() => session.tick())
      }
    }).pipe(Effect.scoped)

  const attach: Attach = (host) =>
    Effect.gen(function* () {
      const session = yield* step(() => server.connect(host))
      yield* Effect.forkScoped(timers(session))
      yield* Effect.addFinalizer(() => step(() => session.transportClosed()))
      return session
    })
  const everySession = (f: (s: Session) => void): Effect.Effect<void> =>
    step(() => {
      for (const session of [...server.sessions]) f(session)
    })
  return { step, stepTry, until, attach, everySession }
}
