/**
 * One `tsc -b` of the workspace at a time across test files: packages.test.ts builds the packages, install.test.ts
 * packs them (each `prepack` builds), and vitest may run the two files at once; two builds writing the same `build`
 * folders and `.tsbuildinfo` files can leave a broken one. A directory is the lock (mkdir is atomic); one left by a
 * killed run is taken over after ten minutes.
 */
import { mkdir, rm, stat } from "node:fs/promises"
import path from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const lock = path.join(root, "build", "tsc-build.lock")
const stale = 10 * 60 * 1000

const isCode = (error: unknown, code: string) => error instanceof Error && "code" in error && error.code === code

export const withBuildLock = async <A>(body: () => Promise<A>): Promise<A> => {
  await mkdir(path.dirname(lock), { recursive: true })
  for (;;) {
    try {
      await mkdir(lock)
      break
    } catch (error) {
      if (!isCode(error, "EEXIST")) throw error
      const since = await stat(lock).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0
      )
      if (since > stale) await rm(lock, { recursive: true, force: true })
      else await sleep(200)
    }
  }
  try {
    return await body()
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}
