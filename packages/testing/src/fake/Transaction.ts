/**
 * Transaction blocks of a fake session, as far as reading consistent data needs them: `BEGIN` / `START TRANSACTION`
 * with an isolation level and READ ONLY / READ WRITE, `SET TRANSACTION ISOLATION LEVEL ...`,
 * `SET TRANSACTION SNAPSHOT '<id>'` (importing a snapshot that a walsender exported with CREATE_REPLICATION_SLOT),
 * `COMMIT` / `END` / `ROLLBACK` / `ABORT`, and the failed state after an error inside a block (every statement but
 * the end of the block is refused with 25P02, and COMMIT rolls back), with the SQLSTATEs and texts of PostgreSQL 14
 * to 18 (checked against the embedded servers; 17 reports a snapshot that is gone as 42704, 14 to 16 as 22023).
 *
 * What a statement reads (`readView`): with REPEATABLE READ or SERIALIZABLE, the imported snapshot, or else the
 * database as of the block's first query; otherwise the database as it is now. A block's writes (Writes.ts: the
 * backfill progress table, transactional logical messages) reach the WAL as one transaction at COMMIT, and are
 * dropped at ROLLBACK or when the block failed. It deliberately knows no savepoints and no locks.
 */
import type { DatabaseView, FakeServer } from "./FakeServer.ts"
import { command, error, type Outcome } from "./Outcome.ts"
import { stringLiteral } from "./SqlText.ts"
import type { FakeChange } from "./Wal.ts"
import { commitChanges } from "./Writes.ts"

export type Isolation = "read committed" | "repeatable read" | "serializable"

export interface TransactionBlock {
  isolation: Isolation
  readOnly: boolean
  /** An error happened in the block: only its end is accepted. */
  failed: boolean
  /** A statement took a snapshot (PostgreSQL's FirstSnapshotSet): isolation and snapshot can no longer change. */
  queried: boolean
  /** What the block reads under REPEATABLE READ or SERIALIZABLE (imported, or taken at its first query). */
  view: DatabaseView | undefined
  /** Its writes (Writes.ts), in the WAL as one transaction at COMMIT. */
  readonly writes: Array<FakeChange>
}

export interface SqlSessionState {
  readonly settings: Map<string, string>
  /** The open transaction block, if any. */
  block: TransactionBlock | undefined
}

/** ReadyForQuery's status byte. */
export const transactionStatus = (state: SqlSessionState): "I" | "T" | "E" =>
  state.block === undefined ? "I" : state.block.failed ? "E" : "T"

/** An error was sent while the block was open: the block fails (PostgreSQL aborts the transaction). */
export const failBlock = (state: SqlSessionState): void => {
  if (state.block !== undefined) state.block.failed = true
}

/** The refusal of any statement but the end of a failed block (25P02), or undefined when the statement may run. */
export const refusedInFailedBlock = (state: SqlSessionState, sql: string): Outcome | undefined =>
  state.block?.failed === true && !/^(commit|end|rollback|abort)\b/i.test(sql)
    ? error("25P02", "current transaction is aborted, commands ignored until end of transaction block")
    : undefined

/**
 * What a query reads, and the block learns that it has taken its snapshot: the imported one, the one frozen at the
 * block's first query (REPEATABLE READ, SERIALIZABLE), or the database now (READ COMMITTED, or outside a block).
 */
export const readView = (server: FakeServer, state: SqlSessionState): DatabaseView => {
  const block = state.block
  if (block === undefined) return server.liveView()
  block.queried = true
  if (block.isolation === "read committed") return server.liveView()
  block.view ??= server.freezeView()
  return block.view
}

/** Marks that a query ran (SELECT, COPY...): the block's snapshot is taken, even if the statement reads no table. */
export const queried = (server: FakeServer, state: SqlSessionState): void => {
  readView(server, state)
}

const levels: Record<string, Isolation> = {
  serializable: "serializable",
  "repeatable read": "repeatable read",
  "read committed": "read committed",
  // PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.
  "read uncommitted": "read committed"
}

interface Modes {
  readonly isolation?: Isolation | undefined
  readonly readOnly?: boolean | undefined
}

/** `ISOLATION LEVEL x, READ ONLY, NOT DEFERRABLE ...` (commas optional); a string is the word PostgreSQL stops at. */
const parseModes = (text: string): Modes | string => {
  let isolation: Isolation | undefined
  let readOnly: boolean | undefined
  let rest = text.trim()
  while (rest !== "") {
    rest = rest.replace(/^,\s*/, "")
    const level = /^isolation\s+level\s+(serializable|repeatable\s+read|read\s+committed|read\s+uncommitted)\b/i.exec(
      rest
    )
    const access = /^read\s+(only|write)\b/i.exec(rest)
    const deferrable = /^(not\s+)?deferrable\b/i.exec(rest)
    const matched = level ?? access ?? deferrable
    if (matched === null) {
      const bad = /^isolation\s+level\s+(\S+)/i.exec(rest)?.[1] ?? /^(\S+)/.exec(rest)?.[1] ?? rest
      return bad.replace(/[,;]$/, "")
    }
    if (level !== null) isolation = levels[level[1]!.toLowerCase().replace(/\s+/g, " ")]
    if (access !== null) readOnly = access[1]!.toLowerCase() === "only"
    rest = rest.slice(matched[0].length).trim()
  }
  return { isolation, readOnly }
}

const defaultIsolation = (server: FakeServer, state: SqlSessionState): Isolation =>
  levels[
    (
      state.settings.get("default_transaction_isolation") ??
      server.config.settings.get("default_transaction_isolation") ??
      "read committed"
    ).toLowerCase()
  ] ?? "read committed"

/**
 * Runs a transaction statement (BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SET TRANSACTION ...); undefined
 * when `sql` is none of them.
 */
export const executeTransactionStatement = (
  server: FakeServer,
  state: SqlSessionState,
  sql: string
): Outcome | undefined => {
  const begin = /^(?:begin(?:\s+(?:work|transaction))?|start\s+transaction)\b(.*)$/is.exec(sql)
  if (begin !== null) {
    const modes = parseModes(begin[1]!)
    if (typeof modes === "string") return error("42601", `syntax error at or near "${modes}"`)
    // BEGIN inside a block only warns (and changes nothing), as PostgreSQL does.
    state.block ??= {
      isolation: modes.isolation ?? defaultIsolation(server, state),
      readOnly: modes.readOnly ?? false,
      failed: false,
      queried: false,
      view: undefined,
      writes: []
    }
    return command("BEGIN")
  }
  if (/^(commit|end)(\s+(work|transaction))?$/i.test(sql)) {
    const block = state.block
    state.block = undefined
    if (block?.failed === true) return command("ROLLBACK")
    return (block === undefined ? undefined : commitChanges(server, block.writes)) ?? command("COMMIT")
  }
  if (/^(rollback|abort)(\s+(work|transaction))?$/i.test(sql)) {
    state.block = undefined
    return command("ROLLBACK")
  }
  const snapshot = /^set\s+transaction\s+snapshot\s+(.+)$/is.exec(sql)
  if (snapshot !== null) {
    const id = stringLiteral(snapshot[1]!.trim())
    if (id === undefined) return error("42601", `syntax error at or near "${snapshot[1]!.trim().split(/\s/)[0]}"`)
    return importSnapshot(server, state, id)
  }
  const characteristics = /^set\s+transaction\s+(.+)$/is.exec(sql)
  if (characteristics !== null) {
    const modes = parseModes(characteristics[1]!)
    if (typeof modes === "string") return error("42601", `syntax error at or near "${modes}"`)
    const block = state.block
    if (block === undefined) return command("SET") // PostgreSQL only warns outside a block.
    if (modes.isolation !== undefined && block.queried && modes.isolation !== block.isolation) {
      return error("25001", "SET TRANSACTION ISOLATION LEVEL must be called before any query")
    }
    if (modes.isolation !== undefined) block.isolation = modes.isolation
    if (modes.readOnly !== undefined) block.readOnly = modes.readOnly
    return command("SET")
  }
  return undefined
}

/** PostgreSQL's ImportSnapshot checks, in its order. */
const importSnapshot = (server: FakeServer, state: SqlSessionState, id: string): Outcome => {
  const block = state.block
  if (block?.queried === true) return error("25001", "SET TRANSACTION SNAPSHOT must be called before any query")
  if (block === undefined || block.isolation === "read committed") {
    return error("0A000", "a snapshot-importing transaction must have isolation level SERIALIZABLE or REPEATABLE READ")
  }
  if (!/^[0-9A-F-]*$/.test(id)) return error("22023", `invalid snapshot identifier: "${id}"`)
  const exported = server.exportedSnapshots.get(id)
  if (exported === undefined) {
    // The snapshot's file is gone once its walsender ran another command or ended; 17 reworded the error.
    return server.config.major >= 17
      ? error("42704", `snapshot "${id}" does not exist`)
      : error("22023", `invalid snapshot identifier: "${id}"`)
  }
  if (block.isolation === "serializable") {
    // A walsender exports its snapshot from a REPEATABLE READ transaction.
    return error("0A000", "a serializable transaction cannot import a snapshot from a non-serializable transaction")
  }
  block.view = exported
  block.queried = true
  return command("SET")
}
