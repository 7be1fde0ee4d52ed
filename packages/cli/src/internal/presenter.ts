/**
 * What effect/cli prints for help, the version and a wrong invocation, the pgcdc way: help goes to stdout only when
 * asked for (`--help`), and then nothing else is printed; a wrong invocation (an unknown flag, a missing argument,
 * a command without its subcommand) is one line on stderr naming the command and pointing at its `--help`. The exit
 * status (2) is decided in `Main.ts` from the `ShowHelp` failure effect/cli ends with.
 *
 * It deliberately writes through `Output`, so tests see what a terminal would.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import { type CliError, CliOutput } from "effect/cli"
import * as Output from "./output.ts"

const colors = (): boolean => process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/** The first line of an effect/cli error message (some carry suggestions on further lines). */
const errorText = (e: CliError.CliError): string => e.message.split("\n")[0]?.trim() ?? e._tag

const subcommandNames = (event: CliOutput.Presenter.InvalidInvocation | CliOutput.Presenter.Help): string =>
  (event.helpDoc.subcommands ?? []).flatMap((group) => group.commands.map((c) => c.name)).join(", ")

export const usageLine = (event: CliOutput.Presenter.InvalidInvocation | CliOutput.Presenter.Help): string => {
  const path = event.commandPath.join(" ")
  const problem =
    event._tag === "InvalidInvocation"
      ? event.errors.map(errorText).join("; ")
      : `name a subcommand (${subcommandNames(event)})`
  return `${path}: ${problem}; see ${path} --help`
}

export const presenter: CliOutput.Presenter = {
  present: (event) =>
    Effect.gen(function* () {
      const formatter = CliOutput.defaultFormatter({ colors: colors() })
      switch (event._tag) {
        case "Help":
          if (event.reason === "Requested")
            return yield* Effect.ignore(Output.out(formatter.formatHelpDoc(event.helpDoc)))
          return yield* Output.err(usageLine(event))
        case "InvalidInvocation":
          return yield* Output.err(usageLine(event))
        case "Version":
          return yield* Effect.ignore(Output.out(`${event.name} ${event.version}`))
      }
    })
}

export const layer: Layer.Layer<never> = CliOutput.layerPresenter(presenter)
