/**
 * A stream transformation driven by a mutable, single-owner state machine that may throw a typed error: the
 * outputs produced before the failing input are emitted, and the stream fails right after them (without waiting
 * for more input, which on an idle replication stream could take forever).
 *
 * Internal to the transaction and typed-row views; it deliberately offers no effects inside the step.
 */
import * as Stream from "effect/Stream"

export const statefulMap = <A, E, R, S, B, E2>(
  self: Stream.Stream<A, E, R>,
  make: () => S,
  step: (state: S, input: A, out: Array<B>) => void,
  isError: (u: unknown) => u is E2
): Stream.Stream<B, E | E2, R> =>
  Stream.suspend(() => {
    const state = make()
    // One element per upstream chunk, so that a chunk maps to its outputs followed, if need be, by the failure.
    return self.pipe(
      Stream.chunks,
      Stream.flatMap((chunk): Stream.Stream<B, E2> => {
        const out: Array<B> = []
        for (const input of chunk) {
          try {
            step(state, input, out)
          } catch (e) {
            if (!isError(e)) throw e
            return out.length === 0 ? Stream.fail(e) : Stream.concat(Stream.fromArray(out), Stream.fail(e))
          }
        }
        return Stream.fromArray(out)
      })
    )
  })
