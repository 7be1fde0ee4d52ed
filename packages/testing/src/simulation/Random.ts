/**
 * The simulation's own seeded pseudo-random numbers, so that a seed alone reproduces a run (no `Math.random`, no
 * clock). A 32-bit Weyl sequence (a counter stepped by an odd constant) put through an avalanching integer mix:
 * small, fast, and good enough to choose workloads and crash points; it is not for cryptography.
 *
 * `fork(label)` derives an independent stream, so adding draws to one concern (say, crash points) does not shift
 * the values another concern (the workload) sees.
 */

const GOLDEN = 0x9e3779b9

/** Scrambles 32 bits so that nearby inputs give unrelated outputs. */
const mix = (x: number): number => {
  let z = x >>> 0
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
  return (z ^ (z >>> 16)) >>> 0
}

const hashText = (seed: number, text: string): number => {
  let h = mix(seed ^ 0x5bd1e995)
  for (let i = 0; i < text.length; i++) h = mix(h ^ text.charCodeAt(i))
  return h
}

export class Random {
  private state: number
  /** The seed this stream started from. */
  readonly seed: number

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`)
    this.seed = seed
    // Fold the high bits in too, so that seeds above 2^32 differ.
    this.state = mix((seed >>> 0) ^ mix(Math.floor(seed / 0x1_0000_0000) >>> 0))
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    this.state = (this.state + GOLDEN) >>> 0
    return mix(this.state)
  }

  /** A uniform number in [0, 1). */
  float(): number {
    return this.uint32() / 0x1_0000_0000
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p
  }

  pick<A>(items: ReadonlyArray<A>): A {
    if (items.length === 0) throw new RangeError("pick from an empty list")
    return items[this.int(items.length)]!
  }

  /** A signed 64-bit integer, as a bigint. */
  int64(): bigint {
    return BigInt.asIntN(64, (BigInt(this.uint32()) << 32n) | BigInt(this.uint32()))
  }

  /** An independent stream for one concern, determined by this stream's seed and the label. */
  fork(label: string): Random {
    return new Random(hashText(this.seed >>> 0, label))
  }
}
