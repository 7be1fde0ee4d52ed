/**
 * The chaos test's consumer, a process of its own: `node src/consumer.ts '<ConsumerConfig as JSON>'`.
 *
 * It does what an application built on pgcdc does, with the public API only and the service's defaults
 * (statusInterval, flushDelay, reconnect, bufferSize): for each whole transaction (`Transactions.transactions`) it
 * appends one line to the journal and fsyncs it, then commits the transaction's LSN. It prints events on stdout
 * (ConsumerProtocol.ts) for the harness: when the service is started, each `Reconnected` message, stalls, and how
 * the stream ended if it ever does.
 *
 * SIGUSR2 asks for a stall: the handler of the next transaction sleeps for the milliseconds in the stall file, as a
 * slow sink would, without stopping the process. SIGTERM stops it cleanly (the service sends its final status
 * update). A stream that fails or ends exits non-zero: the harness counts that as a failure of the run.
 *
 * It deliberately does not retry anything itself: surviving a lost session is the library's job, and any failure
 * it lets through must show.
 */
import { Connector } from "@pgcdc/connection"
import { type ColumnValue, Replication, type Row, Transactions, WalMessage } from "@pgcdc/replication"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { readFileSync } from "node:fs"
import { bufferedJournalFlushMs, ConsumerConfig, type ConsumerEvent, exitCodes } from "./ConsumerProtocol.ts"
import * as Journal from "./Journal.ts"
import { logTable } from "./Workload.ts"

const emit = (event: ConsumerEvent): Effect.Effect<void> =>
  Effect.sync(() => {
    // stdout is a pipe: writes to it are synchronous on Linux, so an event is out before the next line runs.
    process.stdout.write(`${JSON.stringify(event)}\n`)
  })

const journalValue = (value: ColumnValue): Journal.JournalValue => {
  if (value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value
  }
  if (typeof value === "bigint") return { int8: value.toString() }
  // The only symbol a row holds: a TOASTed value the server did not send because it did not change.
  if (typeof value === "symbol") return { toast: "unchanged" }
  throw new Error(`the chaos tables hold int4, int8 and text only; got ${String(value)}`)
}

const journalRow = (row: Row): Journal.JournalRow =>
  Object.fromEntries(Object.entries(row).map(([column, value]) => [column, journalValue(value)]))

type Change = Transactions.Change

const journalChange = (change: Change): Journal.JournalChange | undefined => {
  switch (change._tag) {
    case "Insert":
      return { table: change.table.name, op: "I", row: journalRow(change.new) }
    case "Update":
      return {
        table: change.table.name,
        op: "U",
        key: change.key === undefined ? undefined : journalRow(change.key),
        row: journalRow(change.new)
      }
    case "Delete": {
      const key = change.key ?? change.old
      return { table: change.table.name, op: "D", key: key === undefined ? undefined : journalRow(key) }
    }
    case "Truncate":
      return { table: change.tables.map((t) => t.name).join(","), op: "T" }
    default:
      // Relation, Type and Message carry no rows.
      return undefined
  }
}

/** The writer's sequence number: the transaction's insert into the log table. */
const sequenceOf = (changes: ReadonlyArray<Change>): number | null => {
  for (const change of changes) {
    if (change._tag === "Insert" && change.table.name === logTable) {
      const seq = change.new.seq
      if (typeof seq === "bigint") return Number(seq)
    }
  }
  return null
}

const program = (config: ConsumerConfig) =>
  Effect.gen(function* () {
    const journal = yield* Journal.open(config.journal)
    const connector = Connector.make({
      host: config.host,
      port: config.port,
      user: config.user,
      password: Redacted.make(config.password),
      database: config.database,
      sslmode: "disable",
      applicationName: `chaos-consumer-${config.run}`,
      replication: "logical"
    })
    const replication = yield* Replication.make({ slot: config.slot, publications: [config.publication] }).pipe(
      Effect.provideService(Connector, connector)
    )
    yield* emit({ ev: "started", run: config.run, pid: process.pid, at: Date.now() })

    let stallMs = 0
    process.on("SIGUSR2", () => {
      try {
        stallMs = Number(readFileSync(config.stallFile, "utf8").trim()) || 0
      } catch {
        stallMs = 0
      }
    })
    const stallIfAsked = Effect.suspend(() => {
      if (stallMs <= 0) return Effect.void
      const ms = stallMs
      stallMs = 0
      return emit({ ev: "stall", ms, at: Date.now() }).pipe(
        Effect.andThen(Effect.sleep(ms)),
        Effect.andThen(Effect.suspend(() => emit({ ev: "stall-end", at: Date.now() })))
      )
    })

    const record = (transaction: Transactions.Transaction) =>
      Effect.gen(function* () {
        const lsn = WalMessage.lsnToConfirm(transaction)
        const entry: Journal.JournalEntry = {
          run: config.run,
          lsn: Journal.formatLsn(lsn),
          xid: transaction.xid,
          seq: sequenceOf(transaction.changes),
          at: Date.now(),
          changes: transaction.changes.flatMap((c) => {
            const j = journalChange(c)
            return j === undefined ? [] : [j]
          })
        }
        if (config.bug === "buffered-journal") yield* journal.buffer(entry)
        else yield* journal.append(entry)
        // Only now is the transaction's effect durable: the server may forget it.
        yield* replication.commit(lsn)
      })
    // Recording is uninterruptible: a clean stop (SIGTERM) comes between two transactions, never between a journal
    // line and its commit, so the final status update carries everything journaled. A stall stays interruptible.
    const apply = (transaction: Transactions.Transaction) =>
      Effect.andThen(stallIfAsked, Effect.uninterruptible(record(transaction)))

    if (config.bug === "buffered-journal") {
      yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(bufferedJournalFlushMs), journal.flush)))
    }

    yield* replication.stream.pipe(
      Stream.tap((message: WalMessage) =>
        message._tag === "Reconnected"
          ? emit({
              ev: "reconnected",
              session: message.session,
              walStart: Journal.formatLsn(message.walStart),
              at: Date.now()
            })
          : Effect.void
      ),
      Transactions.transactions(),
      Stream.runForEach((element) =>
        element._tag === "Transaction" ? apply(element) : Transactions.acknowledge(replication, element)
      )
    )
    yield* emit({ ev: "ended", at: Date.now() })
  }).pipe(Effect.scoped)

const config = (() => {
  try {
    return Schema.decodeUnknownSync(ConsumerConfig)(JSON.parse(process.argv[2] ?? ""))
  } catch (e) {
    process.stderr.write(`consumer: bad configuration argument: ${String(e)}\n`)
    process.exit(exitCodes.badConfig)
  }
})()

const fiber = Effect.runFork(program(config))
process.once("SIGTERM", () => {
  Effect.runFork(Fiber.interrupt(fiber))
})
fiber.addObserver((exit) => {
  if (Exit.isSuccess(exit)) {
    process.exitCode = exitCodes.streamEnded
  } else if (Cause.hasInterruptsOnly(exit.cause)) {
    process.exitCode = exitCodes.stopped
  } else {
    const error = Cause.pretty(exit.cause)
    process.stdout.write(`${JSON.stringify({ ev: "failed", error, at: Date.now() } satisfies ConsumerEvent)}\n`)
    process.stderr.write(`consumer: the stream failed: ${error}\n`)
    process.exitCode = exitCodes.streamFailed
  }
  // Nothing else should keep the process alive; exit even if a socket lingers.
  setImmediate(() => process.exit())
})
