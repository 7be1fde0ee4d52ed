/**
 * The commands of the streaming replication protocol, as typed effects over a walsender `Connection`
 * (`replication: "logical"` or `"physical"`): IDENTIFY_SYSTEM, SHOW, CREATE_REPLICATION_SLOT,
 * DROP_REPLICATION_SLOT, READ_REPLICATION_SLOT and TIMELINE_HISTORY.
 *
 * The command text is chosen by server version: CREATE_REPLICATION_SLOT uses PostgreSQL 14's positional keywords
 * before 15 and the parenthesised option list from 15 on; options a server cannot honour (TWO_PHASE before 15,
 * FAILOVER before 17, READ_REPLICATION_SLOT before 15) fail before anything is sent, with SQLSTATE 0A000
 * (feature_not_supported) and a message naming the version needed. Slot and plugin names are validated and quoted.
 * Result columns are read by name, so column types that changed between versions (IDENTIFY_SYSTEM's timeline is
 * int4 on 14/15 and int8 on 16+) parse the same way.
 *
 * It deliberately does not run START_REPLICATION (that is `Connection.copyBoth`, driven by `@pgcdc/replication`)
 * nor BASE_BACKUP.
 */
import { Lsn } from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { ConnectionShape } from "./Connection.ts"
import { ConnectionError, protocolError } from "./ConnectionError.ts"
import type { QueryResult } from "./SimpleQuery.ts"

export interface SystemIdentity {
  /** The cluster's unique system identifier (a 64-bit number, kept as its decimal text). */
  readonly systemId: string
  readonly timeline: number
  /** Current WAL flush location. */
  readonly xlogPos: Lsn.Lsn
  /** The database of a logical walsender; null for a physical one. */
  readonly dbname: string | null
}

export type SnapshotAction = "export" | "use" | "nothing"

export interface CreateSlotOptions {
  readonly slotName: string
  /** Dropped automatically when the session ends or on error. */
  readonly temporary?: boolean | undefined
  /** Snapshot handling for logical slots (default "nothing": no snapshot is exported). */
  readonly snapshot?: SnapshotAction | undefined
  /** Decode prepared transactions at PREPARE time (logical, PostgreSQL 15+ over the replication protocol). */
  readonly twoPhase?: boolean | undefined
  /** Synchronise the slot to standbys (logical, PostgreSQL 17+). */
  readonly failover?: boolean | undefined
  /** Reserve WAL immediately (physical slots). */
  readonly reserveWal?: boolean | undefined
}

export interface CreateLogicalSlotOptions extends CreateSlotOptions {
  /** Output plugin; default "pgoutput". */
  readonly plugin?: string | undefined
}

export interface CreatedSlot {
  readonly slotName: string
  /** The LSN from which the slot starts streaming. */
  readonly consistentPoint: Lsn.Lsn
  /** The exported snapshot (snapshot "export"), else null. */
  readonly snapshotName: string | null
  /** The output plugin; null for physical slots. */
  readonly outputPlugin: string | null
}

export interface ReplicationSlotInfo {
  /** null when the slot does not exist. */
  readonly slotType: "physical" | "logical" | null
  readonly restartLsn: Lsn.Lsn | null
  readonly restartTimeline: number | null
}

export interface TimelineHistory {
  readonly filename: string
  readonly content: string
}

const unsupported = (message: string): ConnectionError =>
  new ConnectionError({ reason: "Server", code: "0A000", message, retryable: false })

const versionText = (n: number): string => `${Math.floor(n / 10000)}.${n % 10000}`

/** Slot names: lower-case letters, digits and underscores, at most 63 characters (PostgreSQL's own rule). */
export const validateSlotName = (name: string): Result.Result<string, ConnectionError> =>
  /^[a-z0-9_]{1,63}$/.test(name)
    ? Result.succeed(name)
    : Result.fail(
        new ConnectionError({
          reason: "Server",
          code: "42602",
          message: `Invalid replication slot name "${name}": use 1 to 63 lower-case letters, digits and underscores`,
          retryable: false
        })
      )

/** A double-quoted identifier, safe for any name (quotes doubled, NUL rejected). */
export const quoteIdentifier = (name: string): Result.Result<string, ConnectionError> =>
  name.length === 0 || name.includes("\0")
    ? Result.fail(
        new ConnectionError({
          reason: "Server",
          code: "42602",
          message: `Invalid identifier ${JSON.stringify(name)}`,
          retryable: false
        })
      )
    : Result.succeed(`"${name.replaceAll('"', '""')}"`)

const single = (results: ReadonlyArray<QueryResult>, command: string): Effect.Effect<QueryResult, ConnectionError> => {
  const r = results[0]
  return r === undefined || results.length !== 1
    ? Effect.fail(protocolError(`${command} returned ${results.length} results, expected 1`))
    : Effect.succeed(r)
}

/** The value of column `name` in row `row`, or a protocol error naming the command. */
const column = (result: QueryResult, row: number, name: string, command: string): string | null => {
  const index = result.fields.findIndex((f) => f.name === name)
  if (index < 0) throw protocolError(`${command} returned no "${name}" column`)
  const values = result.rows[row]
  if (values === undefined) throw protocolError(`${command} returned no row ${row}`)
  return values[index] ?? null
}

const requireColumn = (result: QueryResult, row: number, name: string, command: string): string => {
  const v = column(result, row, name, command)
  if (v === null) throw protocolError(`${command} returned NULL for "${name}"`)
  return v
}

const parseLsn = (text: string, command: string, field: string): Lsn.Lsn => {
  const r = Lsn.parse(text)
  if (Result.isFailure(r)) throw protocolError(`${command} returned an invalid LSN "${text}" for ${field}`)
  return r.success
}

const parseInteger = (text: string, command: string, field: string): number => {
  if (!/^\d+$/.test(text)) throw protocolError(`${command} returned a non-numeric ${field} "${text}"`)
  return Number(text)
}

/** Runs `body` over the single result of `sql`, turning thrown protocol errors into failures. */
const run = <A>(
  conn: ConnectionShape,
  sql: string,
  command: string,
  body: (result: QueryResult) => A
): Effect.Effect<A, ConnectionError> =>
  Effect.flatMap(conn.query(sql), (results) =>
    Effect.flatMap(single(results, command), (result) =>
      Effect.try({
        try: () => body(result),
        catch: (e) => (e instanceof ConnectionError ? e : protocolError(`${command}: ${String(e)}`, e))
      })
    )
  )

const fromResult = <A>(r: Result.Result<A, ConnectionError>): Effect.Effect<A, ConnectionError> =>
  Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.fail(r.failure)

/** IDENTIFY_SYSTEM. */
export const identifySystem = (conn: ConnectionShape): Effect.Effect<SystemIdentity, ConnectionError> =>
  run(conn, "IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM", (r) => ({
    systemId: requireColumn(r, 0, "systemid", "IDENTIFY_SYSTEM"),
    timeline: parseInteger(requireColumn(r, 0, "timeline", "IDENTIFY_SYSTEM"), "IDENTIFY_SYSTEM", "timeline"),
    xlogPos: parseLsn(requireColumn(r, 0, "xlogpos", "IDENTIFY_SYSTEM"), "IDENTIFY_SYSTEM", "xlogpos"),
    dbname: column(r, 0, "dbname", "IDENTIFY_SYSTEM")
  }))

/** SHOW name: the current value of a run-time setting, as text. */
export const show = (conn: ConnectionShape, name: string): Effect.Effect<string, ConnectionError> =>
  /^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)
    ? run(conn, `SHOW ${name}`, "SHOW", (r) => {
        const values = r.rows[0]
        if (values === undefined || values.length !== 1 || values[0] === null) {
          throw protocolError(`SHOW ${name} returned no value`)
        }
        return values[0]!
      })
    : Effect.fail(
        new ConnectionError({
          reason: "Server",
          code: "42602",
          message: `Invalid setting name "${name}"`,
          retryable: false
        })
      )

/** The CREATE_REPLICATION_SLOT text for a server version (exported for tests). */
export const createSlotCommand = (
  serverVersion: number,
  kind: "logical" | "physical",
  options: CreateLogicalSlotOptions
): Result.Result<string, ConnectionError> =>
  Result.gen(function* () {
    const slot = yield* quoteIdentifier(yield* validateSlotName(options.slotName))
    const head = `CREATE_REPLICATION_SLOT ${slot}${options.temporary === true ? " TEMPORARY" : ""}`
    const v = versionText(serverVersion)
    if (options.failover === true && serverVersion < 170000) {
      return yield* Result.fail(unsupported(`FAILOVER slots need PostgreSQL 17 or later; this server is ${v}`))
    }
    if (kind === "physical") {
      if (options.twoPhase === true || options.snapshot !== undefined || options.failover === true) {
        return yield* Result.fail(unsupported("TWO_PHASE, SNAPSHOT and FAILOVER apply to logical slots only"))
      }
      if (serverVersion < 150000) return `${head} PHYSICAL${options.reserveWal === true ? " RESERVE_WAL" : ""}`
      return `${head} PHYSICAL${options.reserveWal === true ? " (RESERVE_WAL true)" : ""}`
    }
    if (options.reserveWal === true) {
      return yield* Result.fail(unsupported("RESERVE_WAL applies to physical slots only"))
    }
    const plugin = yield* quoteIdentifier(options.plugin ?? "pgoutput")
    const snapshot = options.snapshot ?? "nothing"
    if (serverVersion < 150000) {
      if (options.twoPhase === true) {
        return yield* Result.fail(
          unsupported(
            `TWO_PHASE in CREATE_REPLICATION_SLOT needs PostgreSQL 15 or later; this server is ${v} (on 14, create the slot on a normal connection with SELECT pg_create_logical_replication_slot(name, 'pgoutput', false, true))`
          )
        )
      }
      const words = [
        snapshot === "export" ? "EXPORT_SNAPSHOT" : snapshot === "use" ? "USE_SNAPSHOT" : "NOEXPORT_SNAPSHOT"
      ]
      return `${head} LOGICAL ${plugin} ${words.join(" ")}`
    }
    const list = [`SNAPSHOT '${snapshot}'`]
    if (options.twoPhase === true) list.push("TWO_PHASE true")
    if (options.failover === true) list.push("FAILOVER true")
    return `${head} LOGICAL ${plugin} (${list.join(", ")})`
  })

const parseCreated = (r: QueryResult): CreatedSlot => ({
  slotName: requireColumn(r, 0, "slot_name", "CREATE_REPLICATION_SLOT"),
  consistentPoint: parseLsn(
    requireColumn(r, 0, "consistent_point", "CREATE_REPLICATION_SLOT"),
    "CREATE_REPLICATION_SLOT",
    "consistent_point"
  ),
  snapshotName: column(r, 0, "snapshot_name", "CREATE_REPLICATION_SLOT"),
  outputPlugin: column(r, 0, "output_plugin", "CREATE_REPLICATION_SLOT")
})

/** CREATE_REPLICATION_SLOT ... LOGICAL (the connection must be `replication: "logical"`). */
export const createLogicalSlot = (
  conn: ConnectionShape,
  options: CreateLogicalSlotOptions
): Effect.Effect<CreatedSlot, ConnectionError> =>
  Effect.flatMap(fromResult(createSlotCommand(conn.serverVersion, "logical", options)), (sql) =>
    run(conn, sql, "CREATE_REPLICATION_SLOT", parseCreated)
  )

/** CREATE_REPLICATION_SLOT ... PHYSICAL. */
export const createPhysicalSlot = (
  conn: ConnectionShape,
  options: CreateSlotOptions
): Effect.Effect<CreatedSlot, ConnectionError> =>
  Effect.flatMap(fromResult(createSlotCommand(conn.serverVersion, "physical", options)), (sql) =>
    run(conn, sql, "CREATE_REPLICATION_SLOT", parseCreated)
  )

/** DROP_REPLICATION_SLOT; `wait` waits for an active slot to be released instead of failing (SQLSTATE 55006). */
export const dropSlot = (
  conn: ConnectionShape,
  slotName: string,
  options?: { readonly wait?: boolean | undefined }
): Effect.Effect<void, ConnectionError> =>
  Effect.gen(function* () {
    const slot = yield* fromResult(Result.flatMap(validateSlotName(slotName), quoteIdentifier))
    yield* conn.query(`DROP_REPLICATION_SLOT ${slot}${options?.wait === true ? " WAIT" : ""}`)
  })

/**
 * READ_REPLICATION_SLOT (PostgreSQL 15+): a physical slot's restart point; nulls when it does not exist. The server
 * refuses logical slots (query pg_replication_slots for those).
 */
export const readSlot = (
  conn: ConnectionShape,
  slotName: string
): Effect.Effect<ReplicationSlotInfo, ConnectionError> =>
  Effect.gen(function* () {
    if (conn.serverVersion < 150000) {
      return yield* unsupported(
        `READ_REPLICATION_SLOT needs PostgreSQL 15 or later; this server is ${versionText(conn.serverVersion)} (query pg_replication_slots on a normal connection instead)`
      )
    }
    const slot = yield* fromResult(Result.flatMap(validateSlotName(slotName), quoteIdentifier))
    return yield* run(conn, `READ_REPLICATION_SLOT ${slot}`, "READ_REPLICATION_SLOT", (r): ReplicationSlotInfo => {
      const typeText = column(r, 0, "slot_type", "READ_REPLICATION_SLOT")
      const lsn = column(r, 0, "restart_lsn", "READ_REPLICATION_SLOT")
      const tli = column(r, 0, "restart_tli", "READ_REPLICATION_SLOT")
      const type = typeText === "physical" || typeText === "logical" ? typeText : null
      if (typeText !== null && type === null) {
        throw protocolError(`READ_REPLICATION_SLOT returned an unknown slot type "${typeText}"`)
      }
      return {
        slotType: type,
        restartLsn: lsn === null ? null : parseLsn(lsn, "READ_REPLICATION_SLOT", "restart_lsn"),
        restartTimeline: tli === null ? null : parseInteger(tli, "READ_REPLICATION_SLOT", "restart_tli")
      }
    })
  })

/** TIMELINE_HISTORY tli: the history file of a timeline (physical walsenders; timeline 1 has none). */
export const timelineHistory = (
  conn: ConnectionShape,
  timeline: number
): Effect.Effect<TimelineHistory, ConnectionError> =>
  Number.isSafeInteger(timeline) && timeline >= 1
    ? run(conn, `TIMELINE_HISTORY ${timeline}`, "TIMELINE_HISTORY", (r) => ({
        filename: requireColumn(r, 0, "filename", "TIMELINE_HISTORY"),
        content: requireColumn(r, 0, "content", "TIMELINE_HISTORY")
      }))
    : Effect.fail(new ConnectionError({ reason: "Server", message: `Invalid timeline ${timeline}`, retryable: false }))
