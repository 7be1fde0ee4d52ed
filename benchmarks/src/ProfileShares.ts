/**
 * Where a V8 CPU profile (`node --cpu-prof`, a `.cpuprofile` file) spent its time, by category: each sample goes to
 * the first category (in the given order) that matches any frame of its stack, so a category counts its callees
 * (JSON.parse inside a column reader counts as that reader). Shares are of the busy samples (idle excluded) minus
 * the categories the caller leaves out (start-up, say). Pure: the caller reads the files.
 */

/** The parts of the `.cpuprofile` format this reads. */
export interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
    readonly children?: ReadonlyArray<number> | undefined
  }>
  readonly samples: ReadonlyArray<number>
  /** Microseconds since the previous sample, one per sample. */
  readonly timeDeltas: ReadonlyArray<number>
}

export interface Category {
  readonly name: string
  /** Tested against each frame as `functionName url:line` (line from 1). */
  readonly frame: RegExp
}

export interface Share {
  readonly name: string
  readonly ms: number
  /** Of the busy time that is not left out. */
  readonly share: number
}

const IDLE = "(idle)"

/** The shares, largest first; "other" holds samples no category matched. */
export const profileShares = (
  profile: CpuProfile,
  categories: ReadonlyArray<Category>,
  leaveOut: ReadonlyArray<string> = []
): { readonly busyMs: number; readonly shares: ReadonlyArray<Share> } => {
  const parent = new Map<number, number>()
  const frame = new Map<number, string>()
  for (const node of profile.nodes) {
    const f = node.callFrame
    frame.set(node.id, `${f.functionName} ${f.url}:${f.lineNumber + 1}`)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const byCategory = new Map<string, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const leaf = profile.samples[i]!
    const us = profile.timeDeltas[i] ?? 0
    let name = frame.get(leaf)?.startsWith(IDLE) ? IDLE : "other"
    if (name !== IDLE) {
      const stack: Array<string> = []
      for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) stack.push(frame.get(id) ?? "")
      name = categories.find((c) => stack.some((f) => c.frame.test(f)))?.name ?? "other"
    }
    byCategory.set(name, (byCategory.get(name) ?? 0) + us)
  }
  byCategory.delete(IDLE)
  for (const name of leaveOut) byCategory.delete(name)
  const busyUs = [...byCategory.values()].reduce((a, b) => a + b, 0)
  const shares = [...byCategory]
    .map(([name, us]) => ({ name, ms: us / 1000, share: busyUs > 0 ? us / busyUs : Number.NaN }))
    .sort((a, b) => b.ms - a.ms)
  return { busyMs: busyUs / 1000, shares }
}

/** The name of the `const NAME =` declaration at or above `line` (from 0) of a module's text, if any. */
export const enclosingConst = (text: string, line: number): string | undefined => {
  const lines = text.split("\n")
  for (let i = Math.min(line, lines.length - 1); i >= 0; i--) {
    const m = /^(?:export )?const (\w+)\b/.exec(lines[i]!)
    if (m !== null) return m[1]
  }
  return undefined
}

/**
 * The profile with every anonymous function of the modules whose URL matches `modules` named `<const> closure` after
 * the top-level `const` that encloses it (`const json = (...) => (r, n) => ...` gives "json closure"), so closures
 * made by factories can be told apart without depending on line numbers. `source` reads a module's text by URL.
 */
export const nameClosures = (
  profile: CpuProfile,
  modules: RegExp,
  source: (url: string) => string | undefined
): CpuProfile => ({
  ...profile,
  nodes: profile.nodes.map((node) => {
    const f = node.callFrame
    if (f.functionName !== "" || !modules.test(f.url)) return node
    const text = source(f.url)
    const name = text === undefined ? undefined : enclosingConst(text, f.lineNumber)
    return name === undefined ? node : { ...node, callFrame: { ...f, functionName: `${name} closure` } }
  })
})
