/**
 * The writer: commits the workload's transactions one after another, on its own session, for the whole run, and
 * survives every fault. It records which sequence numbers the server acknowledged, and when.
 *
 * When a transaction fails (the session was cut by a restart or a shutdown, or it timed out) its COMMIT is in
 * doubt: the writer opens a new session (retrying while the server is away) and looks its sequence number up in the
 * log table. Found: it committed (the acknowledgement was lost). Not found: the same transaction is sent again. The
 * server runs with synchronous_commit=on, so an acknowledged commit survives even an immediate restart.
 *
 * `recycle` makes it close its session after the current transaction and open a new one: a smart shutdown waits
 * for every client session to end, as it would for an application that recycles its pool.
 *
 * It does not read the replication stream and does not check anything (see Verifier.ts).
 */
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import type { TestDatabaseInfo } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { configOf } from "./Admin.ts"
import { logTable, transactionSql } from "./Workload.ts"

export interface WriterStats {
  /** Transactions the server acknowledged. */
  readonly acknowledged: number
  /** Transactions whose COMMIT was cut off, then found committed in the log table. */
  readonly inDoubtCommitted: number
  /** Transactions whose COMMIT was cut off and that had not committed: sent again. */
  readonly inDoubtRetried: number
  /** Sessions opened (1 + reconnects). */
  readonly sessions: number
  /** The first distinct errors seen, for the report. */
  readonly errors: ReadonlyArray<string>
}

export interface Writer {
  /** Sequence number → Date.now() when the server acknowledged its commit (or the writer found it committed). */
  readonly acknowledged: ReadonlyMap<number, number>
  /** The highest sequence number committed so far (0 before the first). */
  readonly lastCommitted: () => number
  readonly stats: () => WriterStats
  /** Close the session after the current transaction and open a new one. */
  readonly recycle: Effect.Effect<void>
  /** Stops after the current transaction (resolving it if it is in doubt) and waits for that. */
  readonly stop: Effect.Effect<void>
}

export interface WriterOptions {
  readonly db: TestDatabaseInfo
  readonly seed: number
  /** Pause between two transactions. */
  readonly intervalMs: number
}

const transactionTimeout = "10 seconds"

export const start = (options: WriterOptions): Effect.Effect<Writer, never, Scope.Scope> =>
  Effect.gen(function* () {
    const acknowledged = new Map<number, number>()
    let seq = 1
    let stopping = false
    let recycling = false
    /** The transaction `seq` was sent and its outcome is unknown. */
    let inDoubt = false
    let inDoubtCommitted = 0
    let inDoubtRetried = 0
    let sessions = 0
    const errors: Array<string> = []
    const noteError = (message: string) => {
      const short = message.split("\n")[0]!.slice(0, 300)
      if (errors.length < 20 && !errors.includes(short)) errors.push(short)
    }

    /** A new session, retried every 100 ms while the server is away; undefined once told to stop. */
    const connect: Effect.Effect<ConnectionShape | undefined, never, Scope.Scope> = Effect.gen(function* () {
      for (;;) {
        if (stopping && !inDoubt) return undefined
        const conn = yield* Effect.result(
          Connection.make(configOf(options.db, "chaos-writer")).pipe(Effect.timeout("5 seconds"))
        )
        if (conn._tag === "Success") {
          sessions++
          return conn.success
        }
        noteError(`connect: ${conn.failure.message}`)
        yield* Effect.sleep("100 millis")
      }
    })

    /** One session's life: resolve a transaction in doubt, then commit until the session breaks or must go. */
    const session = Effect.gen(function* () {
      const conn = yield* connect
      if (conn === undefined) return
      recycling = false
      if (inDoubt) {
        const found = yield* Effect.result(
          conn.query(`SELECT 1 FROM ${logTable} WHERE seq = ${seq}`).pipe(Effect.timeout(transactionTimeout))
        )
        if (found._tag === "Failure") {
          noteError(`in-doubt check: ${found.failure.message}`)
          return
        }
        inDoubt = false
        if ((found.success.at(-1)?.rows.length ?? 0) > 0) {
          acknowledged.set(seq, Date.now())
          inDoubtCommitted++
          seq++
        } else {
          inDoubtRetried++
        }
      }
      while (!stopping && !recycling) {
        inDoubt = true
        const result = yield* Effect.result(
          conn.query(transactionSql(options.seed, seq)).pipe(Effect.timeout(transactionTimeout))
        )
        if (result._tag === "Failure") {
          // Whatever failed, the session may be unusable and the COMMIT may have happened: a new session decides.
          noteError(result.failure.message)
          return
        }
        inDoubt = false
        acknowledged.set(seq, Date.now())
        seq++
        yield* Effect.sleep(options.intervalMs)
      }
    }).pipe(Effect.scoped)

    const loop = Effect.gen(function* () {
      while (!stopping || inDoubt) yield* session
    })
    const fiber = yield* Effect.forkScoped(loop)

    return {
      acknowledged,
      lastCommitted: () => seq - 1,
      stats: () => ({
        acknowledged: acknowledged.size,
        inDoubtCommitted,
        inDoubtRetried,
        sessions,
        errors
      }),
      recycle: Effect.sync(() => {
        recycling = true
      }),
      stop: Effect.suspend(() => {
        stopping = true
        return Fiber.await(fiber)
      }).pipe(Effect.asVoid)
    }
  })
