/**
 * The flags every pgcdc subcommand accepts, anywhere on the line (`pgcdc --json slot list` and
 * `pgcdc slot list --json` are the same): `--url`/`-d` (where to connect), `--json` (machine output) and
 * `--verbose` (the full cause of a failure). Handlers read them as services (`yield* Json`).
 *
 * Short flags mean one thing across the command and the examples: `-d` is always the connection URL (as the `-d`
 * of psql and pg_recvlogical takes a connection string), `-S` a slot, `-P` publications, `-I`/`-E` start and end
 * LSNs (pg_recvlogical's), `-t` a table, `-h` help and `-v` the version.
 */
import { Flag, GlobalFlag } from "effect/cli"

export const Url = GlobalFlag.Setting("url")({
  flag: Flag.String("url").pipe(
    Flag.withAlias("d"),
    Flag.withMetavar("postgres://..."),
    Flag.withDescription(
      "The server (a libpq URL); default $PGCDC_URL, then the libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, ...)"
    ),
    Flag.optional
  )
})

export const Json = GlobalFlag.Setting("json")({
  flag: Flag.Boolean("json").pipe(
    Flag.withDescription("Machine output: JSON on stdout, and a failure as one JSON object on stderr"),
    Flag.withDefault(false)
  )
})

export const Verbose = GlobalFlag.Setting("verbose")({
  flag: Flag.Boolean("verbose").pipe(
    Flag.withDescription("On a failure, print its full cause (stack traces included) instead of one line"),
    Flag.withDefault(false)
  )
})
