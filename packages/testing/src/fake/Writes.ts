/**
 * How a session's SQL writes reach the WAL, as a transaction does on PostgreSQL: outside a transaction block each
 * statement commits at once (its own transaction); inside one its changes wait in the block and become one
 * transaction at COMMIT (nothing at ROLLBACK, or when the block failed or the session ends). The committed changes go
 * through the same `Wal.transaction` as the driver's writes, so sessions stream them and the heap applies them.
 *
 * Also `pg_logical_emit_message(transactional, prefix, content[, flush])`: a transactional message is a change of its
 * transaction (in the WAL at its commit, decoded inside it); a non-transactional one is in the WAL at once, whatever
 * the block does. The function returns the LSN where the message's record ends, as PostgreSQL's does (for a message
 * of an open block, where the WAL ends now: the fake writes a transaction's records at its commit).
 *
 * It deliberately does not show a block its own uncommitted writes (nothing the fake answers reads them back).
 */
import { Lsn } from "@pgcdc/protocol"
import type { FakeServer } from "./FakeServer.ts"
import { error, field, type Outcome, PG_LSN, rows, TEXT } from "./Outcome.ts"
import { splitSelectList, stringLiteral } from "./SqlText.ts"
import type { SqlSessionState } from "./Transaction.ts"
import { Change, type FakeChange, FakeWalError } from "./Wal.ts"
import { pgNow } from "./WalStream.ts"

/** Commits `changes` as one transaction now: an error Outcome when the WAL refuses them (a publication's check). */
export const commitChanges = (server: FakeServer, changes: ReadonlyArray<FakeChange>): Outcome | undefined => {
  if (changes.length === 0) return undefined
  try {
    server.wal.transaction(changes, pgNow(server.now()), {})
  } catch (e) {
    if (e instanceof FakeWalError) return error("55000", e.message)
    throw e
  }
  server.walAppended()
  return undefined
}

/** A statement's changes: kept by the open block, or committed now. */
export const writeChanges = (
  server: FakeServer,
  state: SqlSessionState,
  changes: ReadonlyArray<FakeChange>
): Outcome | undefined => {
  if (state.block !== undefined) {
    state.block.writes.push(...changes)
    return undefined
  }
  return commitChanges(server, changes)
}

const emitCall = /^select\s+(?:\/\*.*?\*\/\s*)?(?:pg_catalog\.)?pg_logical_emit_message\s*\((.*)\)\s*(::\s*text)?$/is

/** `SELECT pg_logical_emit_message(...)[::text]`; undefined when `sql` is not that call. */
export const executeEmitMessage = (server: FakeServer, state: SqlSessionState, sql: string): Outcome | undefined => {
  const m = emitCall.exec(sql)
  if (m === null) return undefined
  const args = splitSelectList(m[1]!)
  const transactional = /^(true|false)$/i.exec(args[0]?.trim() ?? "")?.[1]?.toLowerCase()
  const prefix = stringLiteral(args[1] ?? "")
  const content = stringLiteral(args[2] ?? "")
  const flush = args[3] === undefined || /^(true|false)$/i.test(args[3].trim())
  if (transactional === undefined || prefix === undefined || content === undefined || !flush || args.length > 4) {
    return error("0A000", `the pgcdc fake server does not run this call: ${sql.slice(0, 120)}`, {
      hint: "It runs pg_logical_emit_message(true|false, 'prefix', 'content'[, true|false]) with literal arguments."
    })
  }
  if (args.length === 4 && server.config.major < 17) {
    // The flush argument came with PostgreSQL 17.
    return error("42883", "function pg_logical_emit_message(boolean, unknown, unknown, boolean) does not exist", {
      hint: "No function matches the given name and argument types. You might need to add explicit type casts."
    })
  }
  let end: bigint
  if (transactional === "false") {
    end = server.wal.message(prefix, content).endLsn
    server.walAppended()
  } else {
    const inBlock = state.block !== undefined
    const failed = writeChanges(server, state, [Change.message(prefix, content)])
    if (failed !== undefined) return failed
    // Committed now: the message's record ends where its commit record starts.
    const last = server.wal.entries.at(-1)
    end = !inBlock && last?._tag === "Transaction" ? last.commitLsn : server.wal.position
  }
  const asText = m[2] !== undefined
  return rows(
    [field("pg_logical_emit_message", asText ? TEXT : PG_LSN)],
    [[Lsn.format(Lsn.unsafeMake(end))]],
    "SELECT 1"
  )
}
