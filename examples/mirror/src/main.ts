/**
 * Entry point: `node src/main.ts [flags]` (the root `pnpm demo` runs it with no flags). `Main.run` (from
 * `@pgcdc/cli`) turns SIGINT and SIGTERM into interruption, so every finalizer runs before the process exits (status
 * 130); a verdict of "not equal" or any failure is one line on stderr and exit status 1, a usage error 2.
 */
import { Main } from "@pgcdc/cli"
import { command } from "./Cli.ts"
import * as Screen from "./Screen.ts"

Main.run(command(Screen.make(Screen.stdout)), { version: "0.0.0" })
