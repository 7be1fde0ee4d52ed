/**
 * The mirror into another database (`--target URL`): instead of the in-memory Map, `@pgcdc/sink-postgres` applies
 * the slot to a table of the same name in the target database, each source transaction exactly once (in one target
 * transaction with the sink's progress row in `pgcdc_sink_progress`), and the comparison reads that table back.
 *
 * This module opens the target (the URL is parsed by Server.ts, as `--url` is), refuses the source database itself,
 * creates the table there when missing (the source's DDL: same columns, same primary key), and runs the sink with
 * the Map consumer's counters tapped into its stream, so the screen counts alike in both modes. It deliberately does
 * not retry the sink: a failure ends the mirror, as the Map consumer's does.
 */
import { Connection, type ConnectionError, type ConnectionShape } from "@pgcdc/connection"
import { Lsn, type ReplicationError, type ReplicationShape, type Transactions } from "@pgcdc/replication"
import { PostgresSink, type SinkError } from "@pgcdc/sink-postgres"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { count, type MirrorState } from "./Consumer.ts"
import { MirrorError } from "./MirrorError.ts"
import { createTable, type Names, readAll, sessionSettings } from "./MirrorTable.ts"
import type { Server } from "./Server.ts"

export interface Target {
  readonly server: Server
  /** A regular session to the target, for the setup and the final read. */
  readonly session: ConnectionShape
}

const targetError = (message: string) => new MirrorError({ message: `--target: ${message}` })

/** The source session's own process, as the target's pg_stat_activity would show it if both were one database. */
const sourceBackend = (source: ConnectionShape) =>
  Effect.map(
    source.query("SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()"),
    (results) => results.at(-1)?.rows[0]
  )

/**
 * Whether the target session is in the source's database: the source session's process (pid and start time, which
 * no other server's process shares) is connected to the target's current database.
 */
const isSourceDatabase = (backend: ReadonlyArray<string | null> | undefined, target: ConnectionShape) =>
  Effect.gen(function* () {
    const [pid, started] = [backend?.[0], backend?.[1]]
    if (pid === undefined || pid === null || started === undefined || started === null) return false
    const results = yield* target.query(
      `SELECT count(*) FROM pg_stat_activity WHERE pid = ${Number(pid)} AND backend_start::text = '${started.replaceAll("'", "''")}' AND datname = current_database()`
    )
    return results.at(-1)?.rows[0]?.[0] === "1"
  })

/**
 * Connects to the target, checks it is not the source database (the sink would write every row back into the table
 * it reads, forever), and creates the table there when missing. A failure of the target names `--target`.
 */
export const open = (
  server: Server,
  source: ConnectionShape,
  names: Names
): Effect.Effect<Target, MirrorError | ConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const backend = yield* sourceBackend(source)
    return yield* Effect.gen(function* () {
      const session = yield* Connection.make({ ...server.config, replication: undefined })
      yield* session.query(sessionSettings)
      if (yield* isSourceDatabase(backend, session)) {
        return yield* targetError(
          `${server.description} is the source database: the sink would write ${names.table} into itself. Give another database.`
        )
      }
      // IF NOT EXISTS would otherwise send a NOTICE on every run after the first.
      yield* session.query("SET client_min_messages = warning")
      yield* session.query(createTable(names.table))
      return { server, session }
    }).pipe(Effect.catchTag("ConnectionError", (e) => Effect.fail(targetError(e.message))))
  })

/**
 * Applies the stream to the target through the sink until it ends or fails. `state` counts what the stream carries,
 * as the Map consumer counts it; `state.applied` follows the sink's progress row (the end LSN of the last source
 * transaction the target committed), which is what catching up waits for.
 */
export const consume = (
  replication: ReplicationShape,
  state: MirrorState,
  target: Target,
  names: Names
): Effect.Effect<void, SinkError | ReplicationError | Transactions.TransactionError> => {
  const counted: ReplicationShape = {
    ...replication,
    batches: replication.batches.pipe(
      Stream.tap((batch) =>
        Effect.sync(() => {
          for (const message of batch) count(state, message)
        })
      )
    )
  }
  return PostgresSink.run(counted, {
    target: target.server.config,
    id: names.slot,
    onApplied: (event) =>
      Effect.sync(() => {
        if (event.progress !== undefined) state.applied = Lsn.max(state.applied, event.progress.endLsn)
      })
  })
}

/** The target's table, decoded as the source's is, and the sink's progress row. */
export const read = (target: Target, names: Names) =>
  Effect.gen(function* () {
    const rows = yield* readAll(target.session, names.table)
    const progress = yield* PostgresSink.readProgress(target.session, names.slot)
    return { rows, progress }
  })
