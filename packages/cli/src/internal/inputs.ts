/**
 * The checks of a command's inputs that need no server: names, LSNs, lists and sizes, each failing with a
 * `UsageError` that names the flag. Commands run them all before they connect, so a mistake on the command line never
 * leaves anything half done.
 *
 * It deliberately accepts what PostgreSQL accepts and no more (slot names: lower-case letters, digits and
 * underscores, at most 63 bytes), so that a name refused here would have been refused by the server anyway.
 */
import { Lsn } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { UsageError } from "./failure.ts"

/** "X/Y" → Lsn. */
export const lsn = (text: string, flag: string): Effect.Effect<Lsn.Lsn, UsageError> => {
  const parsed = Lsn.parse(text)
  return Result.isSuccess(parsed)
    ? Effect.succeed(parsed.success)
    : Effect.fail(
        new UsageError({ message: `${flag} "${text}" is not an LSN: write it as PostgreSQL does, e.g. 0/16B3748` })
      )
}

export const optionalLsn = (
  text: Option.Option<string>,
  flag: string
): Effect.Effect<Lsn.Lsn | undefined, UsageError> =>
  Option.isSome(text) ? lsn(text.value, flag) : Effect.succeed(undefined)

/** A replication slot name as PostgreSQL allows it. */
export const slotName = (name: string, what = "The slot name"): Effect.Effect<string, UsageError> =>
  /^[a-z0-9_]{1,63}$/.test(name)
    ? Effect.succeed(name)
    : Effect.fail(
        new UsageError({
          message: `${what} "${name}" is not a replication slot name: use lower-case letters, digits and underscores (at most 63)`
        })
      )

/** "a,b, c" and repeated flags → ["a", "b", "c"], without empty items or repeats. */
export const list = (values: ReadonlyArray<string>): ReadonlyArray<string> => [
  ...new Set(
    values
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => v !== "")
  )
]

/** A non-empty list. */
export const nonEmptyList = (
  values: ReadonlyArray<string>,
  flag: string,
  what: string
): Effect.Effect<ReadonlyArray<string>, UsageError> => {
  const items = list(values)
  return items.length > 0
    ? Effect.succeed(items)
    : Effect.fail(new UsageError({ message: `Name at least one ${what} (${flag})` }))
}

const units: Readonly<Record<string, bigint>> = {
  "": 1n,
  b: 1n,
  kb: 1024n,
  mb: 1024n ** 2n,
  gb: 1024n ** 3n,
  tb: 1024n ** 4n
}

/** "512MB", "1GB", "1048576" → bytes (PostgreSQL's units: 1kB = 1024 bytes). */
export const size = (text: string, flag: string): Effect.Effect<bigint, UsageError> => {
  const match = /^\s*(\d+)\s*([kmgt]?b)?\s*$/i.exec(text)
  const unit = units[(match?.[2] ?? "").toLowerCase()]
  return match === null || unit === undefined
    ? Effect.fail(
        new UsageError({ message: `${flag} "${text}" is not a size: write e.g. 512MB, 1GB or a number of bytes` })
      )
    : Effect.succeed(BigInt(match[1] ?? "0") * unit)
}

/** A positive whole number. */
export const positive = (n: number, flag: string): Effect.Effect<number, UsageError> =>
  Number.isInteger(n) && n > 0
    ? Effect.succeed(n)
    : Effect.fail(new UsageError({ message: `${flag} must be a whole number above 0, not ${n}` }))
