/**
 * Flags several subcommands share, defined once so that a flag means the same thing (and has the same short form)
 * everywhere: `--slot`/`-S` and `--publication`/`-P`, as pg_recvlogical names them; and `switchFlag`, an on/off
 * flag that is off unless given.
 */
import { Flag } from "effect/cli"

export const slotFlag = Flag.String("slot").pipe(
  Flag.withAlias("S"),
  Flag.withDescription("The logical replication slot (plugin pgoutput)")
)

export const publicationFlag = Flag.String("publication").pipe(
  Flag.withAlias("P"),
  Flag.withDescription("Publication(s) to stream, comma-separated (they must exist)")
)

/** An on/off flag, off unless given. */
export const switchFlag = (name: string, description: string): Flag.Flag<boolean> =>
  Flag.Boolean(name).pipe(Flag.withDescription(description), Flag.withDefault(false))
