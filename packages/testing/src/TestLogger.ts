/**
 * A test's log lines, kept instead of printed. `make()` gives a layer that replaces the loggers of the effect it is
 * provided to (and of every fiber that effect forks, the Replication service's included) with one that records each
 * line, and the lines recorded: a test whose scenario makes pgcdc warn (a server restart, a terminated walsender, a
 * server NOTICE) asserts the warnings it expects instead of printing them among the test results, where they would
 * look like trouble in a green run.
 *
 * It deliberately filters nothing: every line is kept, at every level the effect logs at. `provide` prints what was
 * kept when the test fails, where those lines help find why.
 */
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"

export interface Entry {
  readonly level: LogLevel.LogLevel
  /** The message's parts as one line of text (errors by their message). */
  readonly message: string
}

export interface TestLogger {
  /** Provide it to the test's effect: its log lines go to `entries`, and nowhere else. */
  readonly layer: Layer.Layer<never>
  readonly entries: ReadonlyArray<Entry>
  /** The messages logged at `level` ("Warn", "Info", ...), or every message. */
  readonly messages: (level?: LogLevel.LogLevel) => ReadonlyArray<string>
}

const text = (message: unknown): string =>
  (Array.isArray(message) ? message : [message])
    .map((part) => (typeof part === "string" ? part : part instanceof Error ? part.message : String(part)))
    .join(" ")

export const make = (): TestLogger => {
  const entries: Array<Entry> = []
  const logger = Logger.make(({ logLevel, message }) => {
    entries.push({ level: logLevel, message: text(message) })
  })
  return {
    layer: Logger.layer([logger]),
    entries,
    messages: (level) => entries.filter((e) => level === undefined || e.level === level).map((e) => e.message)
  }
}

/**
 * Provides `logger` to `effect` (its lines are kept, not printed) and, if `effect` fails (an assertion included),
 * writes what was kept to stderr before the failure is reported.
 */
export const provide =
  (logger: TestLogger) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    effect.pipe(
      Effect.tapCause(() =>
        Effect.sync(() => {
          const lines = logger.entries.map((e) => `${e.level.toUpperCase()}: ${e.message}\n`).join("")
          process.stderr.write(`Log lines kept by TestLogger (${logger.entries.length}):\n${lines}`)
        })
      ),
      Effect.provide(logger.layer)
    )

/**
 * The warning the Replication service logs each time it restarts a session, naming the cause and the delay
 * ("Replication session ended: <cause>; reconnecting in 100 ms"): what a test of a restart or a dropped connection
 * expects to find, and the only warning it should find.
 */
export const reconnectWarning =
  /^Replication session (ended|could not start): .+; (reconnecting|retrying) in [\d.]+ (ms|s|min \d+ s)$/

/** The warnings other than reconnects: what a test that tolerates reconnects must not find. */
export const unexpectedWarnings = (logger: TestLogger): ReadonlyArray<string> =>
  logger.messages("Warn").filter((m) => !reconnectWarning.test(m))
