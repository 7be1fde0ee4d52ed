/**
 * Runs an effect/cli command as a well-behaved process, the way `pgcdc` and the repository's examples run:
 *
 * - stdout carries results only: help when `--help` asks for it, the version, and what the command prints;
 * - a failure is one line on stderr (`pgcdc slot drop: ...`), or one JSON object with `--json`; `--verbose` adds
 *   its full cause;
 * - log lines (the libraries' warnings: a reconnect, a server notice) go to stderr too, one line each
 *   (`pgcdc: warning: ...`), never between the results on stdout;
 * - the exit status says how it ended: 0 done, 1 an error, 2 a usage error, 3 problems found (`check`), 130
 *   interrupted (SIGINT, SIGTERM), after every finalizer has run (sessions closed, last positions reported).
 *
 * `handler` wraps a command's handler so that its failures are reported this way; `run` parses `process.argv` and
 * exits. It deliberately has no flags of its own beyond effect/cli's `--help`, `--version` and `--completions`:
 * commands add `Json`, `Verbose` and `Url` with `Command.withGlobalFlags`.
 */
import * as NodeChildProcessSpawner from "@effect/platform-node-shared/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import * as NodeRuntime from "@effect/platform-node-shared/NodeRuntime"
import * as NodeStdio from "@effect/platform-node-shared/NodeStdio"
import * as NodeTerminal from "@effect/platform-node-shared/NodeTerminal"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import { CliConfig, CliError, Command, GlobalFlag } from "effect/cli"
import * as ExitCode from "./internal/exitCode.ts"
import { CommandError, describe, Reported, UsageError } from "./internal/failure.ts"
import { Json, Url, Verbose } from "./internal/globalFlags.ts"
import * as Output from "./internal/output.ts"
import * as Presenter from "./internal/presenter.ts"

export { CommandError, ExitCode, Json, Reported, Url, UsageError, Verbose }

/** Writes the failure of `cause` as the command's one line (or JSON object), and `--verbose`'s full cause. */
const report = (name: string, cause: Cause.Cause<unknown>): Effect.Effect<never, Reported> =>
  Effect.gen(function* () {
    const json = Option.getOrElse(yield* Effect.serviceOption(Json), () => false)
    const verbose = Option.getOrElse(yield* Effect.serviceOption(Verbose), () => false)
    const failure = describe(cause)
    yield* Output.err(
      json
        ? JSON.stringify({
            error: {
              command: name,
              message: failure.message,
              kind: failure.kind,
              ...(failure.code === undefined ? {} : { code: failure.code }),
              exitCode: failure.exitCode
            }
          })
        : `${name}: ${failure.message}`
    )
    if (verbose) yield* Output.err(Cause.pretty(cause))
    return yield* new Reported({ exitCode: failure.exitCode })
  })

/**
 * A command handler whose failures are reported (see the module comment) under `name` (e.g. "pgcdc slot drop"):
 * it then fails with `Reported`, which `run` turns into the exit status. An ending already `Reported` passes
 * through; interruption stays interruption.
 */
export const handler =
  <A, E, R>(name: string, body: (input: A) => Effect.Effect<void, E, R>) =>
  (input: A): Effect.Effect<void, Reported, R> =>
    Effect.catchCause(body(input), (cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
      const error = Cause.squash(cause)
      return error instanceof Reported ? Effect.fail(error) : report(name, cause)
    })

/** The exit status of a run; a failure that nobody reported yet (outside any handler) is reported here. */
export const exitCode = (exit: Exit.Exit<unknown, unknown>, name: string): Effect.Effect<number> => {
  if (Exit.isSuccess(exit)) return Effect.succeed(ExitCode.ok)
  if (Cause.hasInterruptsOnly(exit.cause)) return Effect.succeed(ExitCode.interrupted)
  const error = Cause.squash(exit.cause)
  if (error instanceof Reported) return Effect.succeed(error.exitCode)
  // effect/cli's own: the presenter has written the usage line (or the help that was asked for).
  if (CliError.isCliError(error)) return Effect.succeed(ExitCode.usage)
  return report(name, exit.cause).pipe(Effect.catch((reported) => Effect.succeed(reported.exitCode)))
}

/** What a command may need from the platform: Node's stdio, terminal, file system and paths. */
export const platformLayer = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, NodeTerminal.layer)
)

/** The built-in flags: no interactive wizard, no --log-level (the libraries' logs go to stderr anyway). */
const cliConfig = CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version, GlobalFlag.Completions] })

const text = (message: unknown): string =>
  (Array.isArray(message) ? message : [message])
    .map((part) => (typeof part === "string" ? part : part instanceof Error ? part.message : String(part)))
    .join(" ")
    .replace(/\s*\n\s*/g, " ")

/** Log lines as one line each on stderr, named for the command: `pgcdc: warning: ...`. */
export const stderrLogger = (name: string): Logger.Logger<unknown, void> =>
  Logger.make(({ logLevel, message }) => {
    process.stderr.write(`${name}: ${logLevel.toLowerCase()}: ${text(message)}\n`)
  })

/** Runs `command` with `args` and succeeds with the exit status. */
export const runArgs = <Name extends string, Input, E, R extends Command.Environment>(
  command: Command.Command<Name, Input, {}, E, R>,
  args: ReadonlyArray<string>,
  options: { readonly version: string }
): Effect.Effect<number, never, Command.Environment> =>
  Command.runWith(command, { version: options.version })(args).pipe(
    Effect.provide(Layer.mergeAll(cliConfig, Presenter.layer, Logger.layer([stderrLogger(command.name)]))),
    Effect.exit,
    Effect.flatMap((exit) => exitCode(exit, command.name))
  )

/** Runs `command` with the process's arguments, then exits with its status. */
export const run = <Name extends string, Input, E, R extends Command.Environment>(
  command: Command.Command<Name, Input, {}, E, R>,
  options: { readonly version: string }
): void => {
  // A closed pipe (`| head`) fails the write in progress; without a listener Node would throw instead.
  process.stdout.on("error", () => {})
  const program = Effect.flatMap(
    Effect.sync(() => process.argv.slice(2)),
    (args) => runArgs(command, args, options)
  ).pipe(Effect.provide(platformLayer))
  NodeRuntime.runMain(program, {
    disableErrorReporting: true,
    teardown: (exit, onExit) =>
      onExit(
        Exit.isSuccess(exit)
          ? Number(exit.value)
          : Cause.hasInterruptsOnly(exit.cause)
            ? ExitCode.interrupted
            : ExitCode.error
      )
  })
}
