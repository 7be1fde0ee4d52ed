/**
 * A stream transformation driven by a mutable, single-owner state machine that may throw a typed error: the
 * outputs produced before the failing input are still emitted, then the stream fails with that error.
 *
 * Internal to the transaction and typed-row views; it deliberately offers no effects inside the step.
 */
import { Effect, Stream } from "effect"

export const statefulMap = <A, E, R, S, B, E2>(
  self: Stream.Stream<A, E, R>,
  make: () => S,
  step: (state: S, input: A, out: Array<B>) => void,
  isError: (u: unknown) => u is E2
): Stream.Stream<B, E | E2, R> =>
  Stream.suspend(() => {
    const state = make()
    let failed: E2 | undefined
    const mapped = self.pipe(
      Stream.mapAccumArrayEffect(
        () => state,
        (s, chunk): Effect.Effect<readonly [S, ReadonlyArray<B>], E2> => {
          if (failed !== undefined) return Effect.fail(failed)
          const out: Array<B> = []
          for (const input of chunk) {
            try {
              step(s, input, out)
            } catch (e) {
              if (!isError(e)) throw e
              // Deliver what completed before the bad input, then fail on the next pull.
              if (out.length === 0) return Effect.fail(e)
              failed = e
              return Effect.succeed([s, out] as const)
            }
          }
          return Effect.succeed([s, out] as const)
        }
      )
    )
    return Stream.concat(
      mapped,
      Stream.suspend(() => (failed === undefined ? Stream.empty : Stream.fail(failed)))
    )
  })
