/**
 * How the command fails: `UsageError` for inputs it refuses before doing anything (exit status 2), `CommandError`
 * for its own failures (exit status 1), and `Reported` for an ending whose output is already written (a failure
 * printed as its one line, or `check`'s findings), carrying the exit status to end with.
 *
 * `describe` turns any failure (these, the libraries' errors, a defect) into the one line that stderr gets: the
 * message, then the server's detail and hint when there are some, newlines folded. It deliberately prints nothing:
 * `Main.ts` does.
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as ExitCode from "./exitCode.ts"

/** An input the command refuses before it does anything: exit status 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A failure of the command itself (not of the libraries): exit status 1. */
export class CommandError extends Data.TaggedError("CommandError")<{ readonly message: string }> {}

/** The ending is on the screen already; exit with `exitCode`. */
export class Reported extends Data.TaggedError("Reported")<{ readonly exitCode: number }> {}

const field = (error: object, name: string): string | undefined => {
  const value = (error as Record<string, unknown>)[name]
  return typeof value === "string" && value !== "" ? value : undefined
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ").trim()

export interface Described {
  readonly message: string
  /** The error's tag (and reason, for the libraries' errors), for `--json`. */
  readonly kind: string
  /** SQLSTATE, when a server error is behind it. */
  readonly code: string | undefined
  readonly exitCode: number
}

/** The failure of `cause` as one line's parts (the first failure or defect; interruptions aside). */
export const describe = (cause: Cause.Cause<unknown>): Described => {
  const error = Cause.squash(cause)
  if (typeof error !== "object" || error === null) {
    return { message: oneLine(String(error)), kind: "Defect", code: undefined, exitCode: ExitCode.error }
  }
  const message = field(error, "message") ?? String(error)
  const detail = field(error, "detail")
  const hint = field(error, "hint")
  const parts = [message]
  if (detail !== undefined && !message.includes(detail)) parts.push(`(${detail})`)
  if (hint !== undefined && !message.includes(hint)) parts.push(`Hint: ${hint}`)
  const tag = field(error, "_tag") ?? (error instanceof Error ? error.name : "Error")
  const reason = (error as { readonly reason?: unknown }).reason
  const reasonTag =
    typeof reason === "string"
      ? reason
      : typeof reason === "object" && reason !== null
        ? field(reason, "_tag")
        : undefined
  return {
    message: oneLine(parts.join(" ")),
    kind: reasonTag === undefined ? tag : `${tag}.${reasonTag}`,
    code: field(error, "code"),
    exitCode: error instanceof UsageError ? ExitCode.usage : ExitCode.error
  }
}
