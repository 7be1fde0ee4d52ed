/**
 * Entry point: `node src/main.ts [flags]` (the root `pnpm demo` runs it with no flags). SIGINT and SIGTERM
 * interrupt the program through `NodeRuntime.runMain`, which runs every finalizer before the process exits; a
 * verdict of "not equal" or any failure exits with status 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { Command } from "effect/cli"
import { command } from "./Cli.ts"
import * as Screen from "./Screen.ts"

Command.run(command(Screen.make(Screen.stdout)), { version: "0.0.0" }).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain
)
