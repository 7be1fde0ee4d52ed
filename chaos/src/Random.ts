/**
 * A small seeded pseudo-random generator, so that everything the chaos test decides by chance (the fault schedule,
 * the writer's transactions) is a pure function of the seed and reproduces exactly.
 *
 * `Random.make(seed, stream)` gives an independent sequence per named stream (the schedule, transaction 17 of the
 * writer...), so adding a draw to one never shifts the others. The generator is sfc32 seeded through a string hash;
 * it is not cryptographic and does not try to be.
 *
 * It does not read the clock or `Math.random`: a draw depends on the seed, the stream name and the draws before it.
 */

/** A 32-bit hash of a string (cyrb53's mixing, truncated), to turn a seed and a stream name into generator state. */
const hash32 = (text: string, salt: number): number => {
  let h1 = 0xdeadbeef ^ salt
  let h2 = 0x41c6ce57 ^ salt
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 2654435761)
    h2 = Math.imul(h2 ^ c, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return (h1 ^ h2) >>> 0
}

export interface Random {
  /** A float in [0, 1). */
  readonly next: () => number
  /** An integer in [min, max], both included. */
  readonly int: (min: number, max: number) => number
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
  /** One element of a non-empty array. */
  readonly pick: <A>(items: ReadonlyArray<A>) => A
  /** A new array with the elements in random order (Fisher-Yates). */
  readonly shuffle: <A>(items: ReadonlyArray<A>) => Array<A>
}

export const make = (seed: number, stream: string): Random => {
  const key = `${seed}/${stream}`
  let a = hash32(key, 1)
  let b = hash32(key, 2)
  let c = hash32(key, 3)
  let d = hash32(key, 4)
  const next = (): number => {
    // sfc32
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    let t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    t = (t + d) | 0
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  // The first draws of sfc32 are still correlated with the seed: discard a few.
  for (let i = 0; i < 12; i++) next()
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1))
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(0, items.length - 1)]!,
    shuffle: (items) => {
      const out = [...items]
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i)
        const x = out[i]!
        out[i] = out[j]!
        out[j] = x
      }
      return out
    }
  }
}
