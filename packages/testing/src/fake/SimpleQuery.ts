/**
 * The simple-query protocol of one fake-server session: a Query message runs as a replication command (on a
 * walsender) or as SQL statements, and each outcome is written as PostgreSQL writes it: RowDescription, DataRow and
 * CommandComplete; CommandComplete alone; an ErrorResponse; `COPY ... TO STDOUT` as CopyOutResponse, a CopyData per
 * row, CopyDone and CommandComplete "COPY n"; EmptyQueryResponse; or the start of a replication stream.
 *
 * A walsender's snapshot exported by CREATE_REPLICATION_SLOT stays importable until its next command; any ERROR on a
 * walsender drops the temporary slots it owns, as PostgreSQL's WalSndErrorCleanup does. Regular sessions run SQL in
 * transaction blocks (Transaction.ts). It does not execute anything itself (Walsender.ts and Sql.ts do) and does not
 * implement the extended query protocol or COPY FROM STDIN.
 */
import type { BackendMessage } from "@pgcdc/protocol"
import { CommandSyntaxError, parseReplicationCommand } from "./Commands.ts"
import type { FakeServer, SlotState } from "./FakeServer.ts"
import type { OutputOptions } from "./Output.ts"
import { errorMessage, type Outcome } from "./Outcome.ts"
import type { Session } from "./Session.ts"
import { executeSql, splitStatements } from "./Sql.ts"
import { failBlock, type SqlSessionState } from "./Transaction.ts"
import { executeReplicationCommand } from "./Walsender.ts"

/** What a query reads and changes in its session. */
export interface QueryContext {
  readonly server: FakeServer
  /** Its pid and replication mode. */
  readonly session: Session
  readonly sqlState: SqlSessionState
  readonly send: (msg: BackendMessage) => void
  /** Sends ReadyForQuery. */
  readonly ready: () => void
  /** Enters CopyBoth mode and streams the slot (START_REPLICATION). */
  readonly startStreaming: (slot: SlotState, start: bigint, options: OutputOptions) => void
}

const encoder = new TextEncoder()

export const onQuery = (s: QueryContext, sql: string) => {
  s.server.queries.push(sql)
  // A walsender's exported snapshot lives until its next command (PostgreSQL clears it before parsing any).
  if (s.session.mode !== "regular") s.server.clearExportedSnapshot(s.session.pid)
  if (sql.trim() === "" || /^\s*;\s*$/.test(sql)) {
    s.send({ _tag: "EmptyQueryResponse" })
    return s.ready()
  }
  const cmd = replicationCommand(s, sql)
  // A replication command is one statement; SQL may be several, run in order until one fails (as the server does).
  const steps: Array<() => Outcome> =
    cmd !== undefined ? [() => cmd] : splitStatements(sql).map((statement) => () => executeStatement(s, statement))
  for (const step of steps) {
    const outcome = step()
    switch (outcome._tag) {
      case "Rows":
        s.send({ _tag: "RowDescription", fields: outcome.fields })
        for (const values of outcome.rows) s.send({ _tag: "DataRow", values })
        s.send({ _tag: "CommandComplete", commandTag: outcome.commandTag })
        break
      case "Command":
        s.send({ _tag: "CommandComplete", commandTag: outcome.commandTag })
        break
      case "Error":
        s.send(errorMessage(outcome.error))
        failBlock(s.sqlState)
        // Any ERROR in a walsender drops the temporary slots it owns (WalSndErrorCleanup).
        if (s.session.mode !== "regular") s.server.dropTemporarySlots(s.session.pid)
        break
      case "CopyOut":
        s.send({ _tag: "CopyOutResponse", format: 0, columnFormats: new Array(outcome.columns).fill(0) })
        for (const line of outcome.lines) s.send({ _tag: "CopyData", data: encoder.encode(line) })
        s.send({ _tag: "CopyDone" })
        s.send({ _tag: "CommandComplete", commandTag: `COPY ${outcome.lines.length}` })
        break
      case "Empty":
        s.send({ _tag: "EmptyQueryResponse" })
        break
      case "StartReplication":
        return s.startStreaming(outcome.slot, outcome.start, outcome.options)
    }
    if (outcome._tag === "Error") break
  }
  s.server.changed()
  s.ready()
}

/** The outcome of a replication command, or undefined when `sql` is SQL (or this is not a walsender). */
const replicationCommand = (s: QueryContext, sql: string): Outcome | undefined => {
  if (s.session.mode === "regular") return undefined
  try {
    const cmd = parseReplicationCommand(sql)
    if (cmd === undefined) return undefined
    return executeReplicationCommand(
      s.server,
      {
        pid: s.session.pid,
        mode: s.session.mode === "physical" ? "physical" : "logical",
        settings: s.sqlState.settings,
        inTransaction: s.sqlState.block !== undefined
      },
      cmd
    )
  } catch (e) {
    if (!(e instanceof CommandSyntaxError)) throw e
    return { _tag: "Error", error: { severity: "ERROR", code: "42601", message: "syntax error" } }
  }
}

const executeStatement = (s: QueryContext, sql: string): Outcome => {
  if (s.session.mode === "physical") {
    return {
      _tag: "Error",
      error: {
        severity: "ERROR",
        code: "08P01",
        message: "cannot execute SQL commands in WAL sender for physical replication"
      }
    }
  }
  return executeSql(s.server, s.session.pid, s.sqlState, sql)
}
