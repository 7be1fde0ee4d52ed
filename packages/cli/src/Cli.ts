/**
 * The `pgcdc` command: its subcommands (tail, snapshot, backfill, slot, publication, check) and the flags they all
 * take (`--url`/`-d`, `--json`, `--verbose`; globalFlags.ts). `bin.ts` runs it with `Main.run`.
 *
 * It deliberately holds no behaviour: each subcommand lives in internal/commands/.
 */
import { Command } from "effect/cli"
import { backfill } from "./internal/commands/backfill.ts"
import { check } from "./internal/commands/check.ts"
import { publication } from "./internal/commands/publication.ts"
import { slot } from "./internal/commands/slot.ts"
import { snapshot } from "./internal/commands/snapshot.ts"
import { tail } from "./internal/commands/tail.ts"
import { Json, Url, Verbose } from "./internal/globalFlags.ts"

/** The version `pgcdc --version` prints (the package's). */
export const version = "0.1.0"

export const command = Command.make("pgcdc").pipe(
  Command.withDescription(
    "PostgreSQL logical replication from the command line: stream a slot as JSON lines, snapshot and backfill tables, manage slots and publications, check a server's setup"
  ),
  Command.withSubcommands([tail, snapshot, backfill, slot, publication, check]),
  Command.withGlobalFlags([Url, Json, Verbose])
)
