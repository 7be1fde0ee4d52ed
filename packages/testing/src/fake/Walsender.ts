/**
 * Execution of replication commands against the fake server's state, with the result sets, command tags and
 * errors (SQLSTATE and message text) that PostgreSQL 14 to 18 produce for the same input. The texts were checked
 * against embedded PostgreSQL 14, 15, 16 and 18; where the versions differ, the configured major decides:
 *
 * - IDENTIFY_SYSTEM's timeline column is int4 before 16 and int8 from 16.
 * - CREATE_REPLICATION_SLOT's parenthesized option list, its TWO_PHASE option and READ_REPLICATION_SLOT exist from 15.
 * - pgoutput accepts protocol 2 on 14, 3 on 15 and 4 from 16; `two_phase` from 15; `origin` and
 *   `streaming 'parallel'` from 16; before 16 its errors say "we only support", from 16 "server only supports";
 *   18 reports a missing proto_version/publication_names as `option "..." missing`.
 *
 * It deliberately does not stream (the session does) and does not check that publications exist (START_REPLICATION
 * accepts any name; unknown ones publish nothing, see `FakeServer.publishes`).
 */
import { Lsn } from "@pgcdc/protocol"
import type { CommandOption, ReplicationCommand } from "./Commands.ts"
import type { FakeServer, SlotState } from "./FakeServer.ts"
import { command, error, field, INT4, INT8, type Outcome, rows, syntaxError, TEXT } from "./Outcome.ts"
import type { OutputOptions } from "./Output.ts"
import { showSetting } from "./Sql.ts"

export interface WalsenderSession {
  readonly pid: number
  /** "logical" for replication=database, "physical" for replication=true. */
  readonly mode: "logical" | "physical"
  readonly settings: ReadonlyMap<string, string>
  /** Inside a transaction block (BEGIN): a snapshot cannot be exported there. */
  readonly inTransaction: boolean
}

const fmt = (lsn: bigint): string => Lsn.format(Lsn.unsafeMake(lsn))

export const checkSlotName = (name: string): Outcome | undefined => {
  if (name.length === 0) return error("42602", `replication slot name "${name}" is too short`)
  if (name.length >= 64) return error("42622", `replication slot name "${name}" is too long`)
  if (!/^[a-z0-9_]+$/.test(name)) {
    return error("42602", `replication slot name "${name}" contains invalid character`, {
      hint: "Replication slot names may only contain lower case letters, numbers, and the underscore character."
    })
  }
  return undefined
}

const parseBool = (value: string | undefined): boolean | undefined => {
  if (value === undefined) return true
  const v = value.toLowerCase()
  if (["t", "tr", "tru", "true", "y", "ye", "yes", "on", "1"].includes(v)) return true
  if (["f", "fa", "fal", "fals", "false", "n", "no", "of", "off", "0"].includes(v)) return false
  return undefined
}

export const executeReplicationCommand = (
  server: FakeServer,
  session: WalsenderSession,
  cmd: ReplicationCommand
): Outcome => {
  const major = server.config.major
  switch (cmd._tag) {
    case "IdentifySystem":
      return rows(
        [
          field("systemid", TEXT),
          field("timeline", major >= 16 ? INT8 : INT4),
          field("xlogpos", TEXT),
          field("dbname", TEXT)
        ],
        [
          [
            server.config.systemId,
            String(server.config.timeline),
            fmt(server.wal.position),
            session.mode === "logical" ? server.config.database : null
          ]
        ],
        "IDENTIFY_SYSTEM"
      )
    case "Show":
      return showSetting(server, session.settings, cmd.name)
    case "TimelineHistory":
      return error(
        "58P01",
        `could not open file "pg_wal/${cmd.timeline.toString(16).toUpperCase().padStart(8, "0")}.history": No such file or directory`
      )
    case "CreateSlot":
      return createSlot(server, session, cmd)
    case "DropSlot": {
      const slot = server.slots.get(cmd.name)
      if (slot === undefined) return error("42704", `replication slot "${cmd.name}" does not exist`)
      if (slot.activePid !== undefined && slot.activePid !== session.pid) {
        return error("55006", `replication slot "${cmd.name}" is active for PID ${slot.activePid}`)
      }
      server.slots.delete(cmd.name)
      return command("DROP_REPLICATION_SLOT")
    }
    case "ReadSlot": {
      if (major < 15) {
        return error("42601", `syntax error at or near "READ_REPLICATION_SLOT"`, { position: "1" })
      }
      const fields = [field("slot_type", TEXT), field("restart_lsn", TEXT), field("restart_tli", INT8)]
      const slot = server.slots.get(cmd.name)
      if (slot === undefined) return rows(fields, [[null, null, null]], "READ_REPLICATION_SLOT")
      if (slot.kind === "logical")
        return error("0A000", "cannot use READ_REPLICATION_SLOT with a logical replication slot")
      return rows(fields, [["physical", fmt(slot.restartLsn), String(server.config.timeline)]], "READ_REPLICATION_SLOT")
    }
    case "StartReplication":
      return startReplication(server, session, cmd)
    case "Unsupported":
      return error("0A000", `the pgcdc fake server does not support ${cmd.keyword}`)
  }
}

const createSlot = (
  server: FakeServer,
  session: WalsenderSession,
  cmd: Extract<ReplicationCommand, { _tag: "CreateSlot" }>
): Outcome => {
  const major = server.config.major
  if (major < 15 && (cmd.options !== undefined || cmd.legacy.includes("TWO_PHASE"))) return syntaxError
  let snapshot: "export" | "use" | "nothing" = "export"
  let twoPhase = false
  const seen = new Set<string>()
  for (const k of cmd.legacy) {
    if (k === "NOEXPORT_SNAPSHOT") snapshot = "nothing"
    else if (k === "USE_SNAPSHOT") snapshot = "use"
    else if (k === "TWO_PHASE") twoPhase = true
  }
  for (const o of cmd.options ?? []) {
    if (seen.has(o.name)) return error("42601", "conflicting or redundant options")
    seen.add(o.name)
    switch (o.name) {
      case "snapshot":
        if (o.value !== "export" && o.value !== "use" && o.value !== "nothing") {
          return error("22023", `unrecognized value for CREATE_REPLICATION_SLOT option "snapshot": "${o.value ?? ""}"`)
        }
        snapshot = o.value
        break
      case "two_phase":
      case "reserve_wal":
      case "failover": {
        if (o.name === "failover" && major < 17) return error("XX000", `unrecognized option: ${o.name}`)
        const b = parseBool(o.value)
        if (b === undefined) return error("42601", `${o.name} requires a Boolean value`)
        if (o.name === "two_phase") twoPhase = b
        break
      }
      default:
        return error("XX000", `unrecognized option: ${o.name}`)
    }
  }
  const invalid = checkSlotName(cmd.name)
  if (invalid !== undefined) return invalid
  if (server.slots.has(cmd.name)) return error("42710", `replication slot "${cmd.name}" already exists`)
  if (cmd.kind === "logical" && snapshot === "export" && session.inTransaction) {
    // PostgreSQL creates the slot before it finds this out and keeps it; the fake refuses before creating it.
    const what =
      major < 15 ? "CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT" : "CREATE_REPLICATION_SLOT ... (SNAPSHOT 'export')"
    return error("XX000", `${what} must not be called inside a transaction`)
  }
  if (cmd.kind === "logical") {
    if (session.mode !== "logical") return error("55000", "logical decoding requires a database connection")
    if (cmd.plugin !== "pgoutput") {
      return error("58P01", `could not access file "${cmd.plugin}": No such file or directory`)
    }
  }
  const position = server.wal.position
  const slot: SlotState = {
    name: cmd.name,
    kind: cmd.kind,
    plugin: cmd.plugin,
    temporary: cmd.temporary,
    twoPhase,
    confirmedFlush: cmd.kind === "logical" ? position : 0n,
    restartLsn: position,
    activePid: cmd.temporary ? session.pid : undefined,
    ownerPid: cmd.temporary ? session.pid : undefined
  }
  server.slots.set(cmd.name, slot)
  // The snapshot freezes what a transaction importing it sees: the tables as of the consistent point.
  const snapshotName = cmd.kind === "logical" && snapshot === "export" ? server.exportSnapshot(session.pid) : null
  return rows(
    [
      field("slot_name", TEXT),
      field("consistent_point", TEXT),
      field("snapshot_name", TEXT),
      field("output_plugin", TEXT)
    ],
    [
      [
        cmd.name,
        cmd.kind === "logical" ? fmt(position) : "0/0",
        snapshotName,
        cmd.kind === "logical" ? (cmd.plugin ?? null) : null
      ]
    ],
    "CREATE_REPLICATION_SLOT"
  )
}

const startReplication = (
  server: FakeServer,
  session: WalsenderSession,
  cmd: Extract<ReplicationCommand, { _tag: "StartReplication" }>
): Outcome => {
  const slot = cmd.slot === undefined ? undefined : server.slots.get(cmd.slot)
  if (cmd.kind === "physical") {
    if (slot?.kind === "logical")
      return error("55000", "cannot use a logical replication slot for physical replication")
    return error("0A000", "the pgcdc fake server does not stream physical replication")
  }
  if (session.mode !== "logical") return error("55000", "logical decoding requires a database connection")
  if (slot === undefined) return error("42704", `replication slot "${cmd.slot}" does not exist`)
  if (slot.kind !== "logical") return error("55000", "cannot use physical replication slot for logical decoding")
  if (slot.activePid !== undefined && slot.activePid !== session.pid) {
    return error("55006", `replication slot "${slot.name}" is active for PID ${slot.activePid}`)
  }
  const parsed = pgoutputOptions(server.config.major, cmd.options)
  if ("_tag" in parsed) return parsed
  // Decoding resumes at the confirmed position when the client asks for an earlier one (0/0 included).
  let start = slot.confirmedFlush
  if (cmd.lsn > start) start = cmd.lsn
  return { _tag: "StartReplication", slot, start, options: parsed }
}

/** pgoutput's option parsing (parse_output_parameters and pgoutput_startup), per major version. */
export const pgoutputOptions = (major: number, options: ReadonlyArray<CommandOption>): OutputOptions | Outcome => {
  const seen = new Set<string>()
  let protoVersion: number | undefined
  let publications: string | undefined
  let streaming: "off" | "on" | "parallel" = "off"
  let twoPhase = false
  let messages = false
  let origin: "any" | "none" = "any"
  const requireBool = (o: CommandOption): boolean | Outcome =>
    parseBool(o.value) ?? error("42601", `${o.name} requires a Boolean value`)
  for (const o of options) {
    const known =
      ["proto_version", "publication_names", "binary", "messages", "streaming"].includes(o.name) ||
      (o.name === "two_phase" && major >= 15) ||
      (o.name === "origin" && major >= 16)
    if (!known) return error("XX000", `unrecognized pgoutput option: ${o.name}`)
    if (seen.has(o.name)) return error("42601", "conflicting or redundant options")
    seen.add(o.name)
    switch (o.name) {
      case "proto_version": {
        if (o.value === undefined || !/^\s*[0-9]+\s*$/.test(o.value)) return error("22023", "invalid proto_version")
        protoVersion = Number(o.value)
        break
      }
      case "publication_names":
        if (o.value !== undefined && !/^\s*("[^"]*"|[^,"\s]+)?(\s*,\s*("[^"]*"|[^,"\s]+))*\s*$/.test(o.value)) {
          return error("22023", "invalid publication_names syntax")
        }
        publications = o.value ?? ""
        break
      case "binary": {
        const b = requireBool(o)
        if (typeof b !== "boolean") return b
        break
      }
      case "messages": {
        const b = requireBool(o)
        if (typeof b !== "boolean") return b
        messages = b
        break
      }
      case "streaming": {
        if (major >= 16 && o.value?.toLowerCase() === "parallel") {
          streaming = "parallel"
          break
        }
        const b = parseBool(o.value)
        if (b === undefined) {
          return error(
            "42601",
            major >= 16 ? `streaming requires a Boolean value or "parallel"` : "streaming requires a Boolean value"
          )
        }
        streaming = b ? "on" : "off"
        break
      }
      case "two_phase": {
        const b = requireBool(o)
        if (typeof b !== "boolean") return b
        twoPhase = b
        break
      }
      case "origin": {
        const v = o.value?.toLowerCase()
        if (v !== "any" && v !== "none") return error("22023", `unrecognized origin value: "${o.value ?? ""}"`)
        origin = v
        break
      }
    }
  }
  if (major >= 18) {
    if (protoVersion === undefined) return error("22023", `option "proto_version" missing`)
    if (publications === undefined) return error("22023", `option "publication_names" missing`)
  }
  const version = protoVersion ?? 0
  const max = major >= 16 ? 4 : major === 15 ? 3 : 2
  const who = major >= 16 ? "server only supports" : "we only support"
  if (version > max) return error("0A000", `client sent proto_version=${version} but ${who} protocol ${max} or lower`)
  if (version < 1) return error("0A000", `client sent proto_version=${version} but ${who} protocol 1 or higher`)
  if (major < 18 && (publications === undefined || publications.trim() === "")) {
    return error("22023", "publication_names parameter missing")
  }
  if (streaming !== "off" && version < 2) {
    return error("22023", `requested proto_version=${version} does not support streaming, need 2 or higher`)
  }
  if (streaming === "parallel" && version < 4) {
    return error("22023", `requested proto_version=${version} does not support parallel streaming, need 4 or higher`)
  }
  if (twoPhase && version < 3) {
    return error("22023", `requested proto_version=${version} does not support two-phase commit, need 3 or higher`)
  }
  return {
    protoVersion: version as 1 | 2 | 3 | 4,
    publications: parseNameList(publications ?? ""),
    skipEmptyTransactions: major >= 15,
    streaming,
    twoPhase,
    messages,
    origin
  }
}

/** A comma-separated identifier list (SplitIdentifierString): unquoted names fold to lower case. */
export const parseNameList = (text: string): Array<string> => {
  const out: Array<string> = []
  for (const m of text.matchAll(/\s*("((?:[^"]|"")*)"|[^,\s]+)\s*(?:,|$)/g)) {
    if (m[1] === undefined) continue
    out.push(m[2] !== undefined ? m[2].replaceAll('""', '"') : m[1].toLowerCase())
  }
  return out
}
