/**
 * The catalog queries consumers commonly run before replicating, answered from the fake server's state:
 *
 * - `SELECT <columns> FROM [pg_catalog.]pg_replication_slots [WHERE slot_name = '<name>']`: columns slot_name, plugin,
 *   slot_type, database, temporary, active, active_pid, restart_lsn, confirmed_flush_lsn, wal_status, two_phase,
 *   lag_bytes (any expression aliased `AS lag_bytes`: WAL between the current position and confirmed_flush_lsn);
 *   `::text` casts print booleans as true/false, as PostgreSQL does; other expressions are NULL.
 * - `SELECT 1 FROM [pg_catalog.]pg_publication WHERE pubname = '<name>'`: one row when the publication exists.
 * - `SELECT ... FROM [pg_catalog.]pg_create_logical_replication_slot('<name>', 'pgoutput'[, temporary[, two_phase]])`
 *   (columns slot_name and lsn) and `SELECT [pg_catalog.]pg_drop_replication_slot('<name>')`.
 * - `SELECT [pg_catalog.]pg_copy_logical_replication_slot('<source>', '<target>'[, temporary[, 'plugin']])` (one
 *   record column) and `SELECT * FROM pg_copy_logical_replication_slot(...)` (slot_name, lsn): a new slot at the
 *   source's restart and confirmed positions, with its plugin (two_phase is not copied, as on PostgreSQL 14 to 18);
 *   temporary like the source unless told, owned by the calling session.
 * - `SELECT pg_is_in_recovery()` (false: the fake is a primary), also `::text`.
 * - The Replication service's slot check (`/* pgcdc:slot-health *\/`: wal_status, safe_wal_size, the WAL the slot
 *   retains and max_slot_wal_keep_size in bytes), from the fake's WAL positions and its max_slot_wal_keep_size setting.
 *
 * It deliberately parses nothing but these shapes (a select list split at top-level commas, one optional
 * `WHERE column = 'literal'`); anything else falls through to the generic SQL answers.
 */
import { Lsn } from "@pgcdc/protocol"
import type { FakeServer, SlotState } from "./FakeServer.ts"
import { BOOL, error, field, NAME, type Outcome, PG_LSN, RECORD, rows, TEXT } from "./Outcome.ts"
import { splitSelectList, stringLiteral } from "./SqlText.ts"
import { checkSlotName } from "./Walsender.ts"

const fmt = (lsn: bigint): string => Lsn.format(Lsn.unsafeMake(lsn))

const slotColumn = (server: FakeServer, slot: SlotState, column: string, asText: boolean): string | null => {
  const bool = (b: boolean): string => (asText ? String(b) : b ? "t" : "f")
  switch (column) {
    case "slot_name":
      return slot.name
    case "plugin":
      return slot.plugin ?? null
    case "slot_type":
      return slot.kind
    case "database":
      return slot.kind === "logical" ? server.config.database : null
    case "temporary":
      return bool(slot.temporary)
    case "active":
      return bool(slot.activePid !== undefined)
    case "active_pid":
      return slot.activePid === undefined ? null : String(slot.activePid)
    case "restart_lsn":
      return fmt(slot.restartLsn)
    case "confirmed_flush_lsn":
      return slot.kind === "logical" ? fmt(slot.confirmedFlush) : null
    case "wal_status":
      return "reserved"
    case "two_phase":
      return bool(slot.twoPhase)
    case "lag_bytes":
      return slot.kind === "logical" ? String(server.wal.position - slot.confirmedFlush) : null
    default:
      return null
  }
}

/** `pg_copy_logical_replication_slot(source, target[, temporary[, plugin]])` for the session `pid`. */
const copySlot = (server: FakeServer, pid: number, args: ReadonlyArray<string>): SlotState | Outcome | undefined => {
  const source = stringLiteral(args[0] ?? "")
  const target = stringLiteral(args[1] ?? "")
  if (source === undefined || target === undefined) return undefined
  const temporaryArg = args[2]?.trim()
  const plugin = args[3] === undefined ? undefined : stringLiteral(args[3])
  const invalid = checkSlotName(target)
  if (invalid !== undefined) return invalid
  const from = server.slots.get(source)
  if (from === undefined) return error("42704", `replication slot "${source}" does not exist`)
  if (from.kind !== "logical") {
    // PostgreSQL's message says it the other way round (checked against 18).
    return error("0A000", `cannot copy logical replication slot "${source}" as a physical replication slot`)
  }
  if (server.slots.has(target)) return error("42710", `replication slot "${target}" already exists`)
  if (plugin !== undefined && plugin !== "pgoutput")
    return error("58P01", `could not access file "${plugin}": No such file or directory`)
  const temporary = temporaryArg === undefined ? from.temporary : /^(true|'t'|'true'|'on')$/i.test(temporaryArg)
  const slot: SlotState = {
    name: target,
    kind: "logical",
    plugin: plugin ?? from.plugin,
    temporary,
    twoPhase: false,
    confirmedFlush: from.confirmedFlush,
    restartLsn: from.restartLsn,
    activePid: temporary ? pid : undefined,
    ownerPid: temporary ? pid : undefined
  }
  server.slots.set(target, slot)
  return slot
}

/** `pg_size_bytes` of a size setting (`-1`, `1024`, `64MB`, `1 GB`); undefined when it is not one. */
const sizeBytes = (text: string): bigint | undefined => {
  const m = /^\s*(-?\d+)\s*(bytes|B|kB|MB|GB|TB|PB)?\s*$/i.exec(text)
  if (m === null) return undefined
  const units = ["bytes", "kb", "mb", "gb", "tb", "pb"]
  const power = m[2] === undefined || m[2].toLowerCase() === "b" ? 0 : units.indexOf(m[2].toLowerCase())
  return BigInt(m[1]!) * 1024n ** BigInt(Math.max(0, power))
}

/**
 * The select list of the Replication service's slot check (`/* pgcdc:slot-health *\/`), per expression: its column
 * name and value. Retained WAL is the WAL position minus the slot's restart_lsn (which follows confirmed_flush_lsn);
 * without max_slot_wal_keep_size (-1, the default) the slot is "reserved" and safe_wal_size NULL; with it, the fake
 * counts bytes, not segments: safe_wal_size is the limit minus the retained WAL, and the slot "unreserved" below 0.
 */
const slotHealthColumns = (server: FakeServer, slot: SlotState) => {
  const retained = server.wal.position - slot.restartLsn
  const max = sizeBytes(server.config.settings.get("max_slot_wal_keep_size") ?? "-1") ?? -1n
  const safe = max < 0n ? undefined : max - retained
  return new Map<string, readonly [string, string | null]>([
    ["wal_status", ["wal_status", safe === undefined || safe >= 0n ? "reserved" : "unreserved"]],
    ["safe_wal_size::text", ["safe_wal_size", safe === undefined ? null : String(safe)]],
    ["pg_wal_lsn_diff(pg_current_wal_lsn(),restart_lsn)::bigint::text", ["pg_wal_lsn_diff", String(retained)]],
    ["pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text", ["pg_size_bytes", String(max)]]
  ])
}

const slotHealth = (server: FakeServer, flat: string): Outcome => {
  const m = /^select \/\* pgcdc:slot-health \*\/ (.+) from pg_replication_slots where slot_name = (.+)$/i.exec(flat)
  const name = m === null ? undefined : stringLiteral(m[2]!)
  if (m === null || name === undefined) {
    return error("0A000", `the pgcdc fake server cannot read this pgcdc:slot-health query: ${flat.slice(0, 120)}`)
  }
  // Compared without blanks (the keys above are written so).
  const expressions = splitSelectList(m[1]!).map((e) => e.replace(/\s+/g, "").toLowerCase())
  const slot = server.slots.get(name)
  const known = slotHealthColumns(server, slot ?? { ...anySlot, restartLsn: server.wal.position })
  const unknown = expressions.find((e) => !known.has(e))
  if (unknown !== undefined) {
    return error("0A000", `the pgcdc fake server does not know the expression ${unknown} of the slot-health query`)
  }
  const columns = expressions.map((e) => known.get(e)!)
  return rows(
    columns.map(([column]) => field(column, TEXT)),
    slot === undefined ? [] : [columns.map(([, value]) => value)],
    `SELECT ${slot === undefined ? 0 : 1}`
  )
}

const anySlot: SlotState = {
  name: "",
  kind: "logical",
  plugin: undefined,
  temporary: false,
  twoPhase: false,
  confirmedFlush: 0n,
  restartLsn: 0n,
  activePid: undefined,
  ownerPid: undefined
}

/** Answers the catalog queries above for the session `pid`; undefined when `sql` is not one of them. */
export const executeCatalogQuery = (server: FakeServer, pid: number, sql: string): Outcome | undefined => {
  const flat = sql.replace(/\s+/g, " ").trim()
  if (flat.includes("/* pgcdc:slot-health */")) return slotHealth(server, flat)
  const recovery = /^select (?:pg_catalog\.)?pg_is_in_recovery\(\)(::text)?$/i.exec(flat)
  if (recovery !== null) {
    return recovery[1] === undefined
      ? rows([field("pg_is_in_recovery", BOOL)], [["f"]], "SELECT 1")
      : rows([field("pg_is_in_recovery", TEXT)], [["false"]], "SELECT 1")
  }
  const copy = /^select (\* from )?(?:pg_catalog\.)?pg_copy_logical_replication_slot\((.+)\)$/i.exec(flat)
  if (copy !== null) {
    const made = copySlot(server, pid, splitSelectList(copy[2]!))
    if (made === undefined || !("kind" in made)) return made
    const lsn = fmt(made.confirmedFlush)
    return copy[1] === undefined
      ? rows([field("pg_copy_logical_replication_slot", RECORD)], [[`(${made.name},${lsn})`]], "SELECT 1")
      : rows([field("slot_name", NAME), field("lsn", PG_LSN)], [[made.name, lsn]], "SELECT 1")
  }
  const drop = /^select (?:pg_catalog\.)?pg_drop_replication_slot\((.+)\)$/i.exec(flat)
  if (drop !== null) {
    const name = stringLiteral(drop[1]!)
    if (name === undefined) return undefined
    const slot = server.slots.get(name)
    if (slot === undefined) return error("42704", `replication slot "${name}" does not exist`)
    if (slot.activePid !== undefined)
      return error("55006", `replication slot "${name}" is active for PID ${slot.activePid}`)
    server.slots.delete(name)
    return rows([field("pg_drop_replication_slot", 2278)], [[""]], "SELECT 1")
  }
  const create = /^select (.+) from (?:pg_catalog\.)?pg_create_logical_replication_slot\((.+)\)$/i.exec(flat)
  if (create !== null) {
    const args = splitSelectList(create[2]!)
    const name = stringLiteral(args[0] ?? "")
    const plugin = stringLiteral(args[1] ?? "")
    if (name === undefined || plugin === undefined) return undefined
    const invalid = checkSlotName(name)
    if (invalid !== undefined) return invalid
    if (server.slots.has(name)) return error("42710", `replication slot "${name}" already exists`)
    if (plugin !== "pgoutput") return error("58P01", `could not access file "${plugin}": No such file or directory`)
    const position = server.wal.position
    const temporary = /^true$/i.test(args[2] ?? "")
    server.slots.set(name, {
      name,
      kind: "logical",
      plugin,
      temporary,
      twoPhase: /^true$/i.test(args[3] ?? ""),
      confirmedFlush: position,
      restartLsn: position,
      // A temporary slot belongs to the session that made it and goes with it.
      activePid: temporary ? pid : undefined,
      ownerPid: temporary ? pid : undefined
    })
    return rows([field("slot_name", 19), field("lsn", TEXT)], [[name, fmt(position)]], "SELECT 1")
  }
  const publication = /^select 1 from (?:pg_catalog\.)?pg_publication where pubname = (.+)$/i.exec(flat)
  if (publication !== null) {
    const name = stringLiteral(publication[1]!)
    if (name === undefined) return undefined
    return rows(
      [field("?column?", 23)],
      server.publications.has(name) ? [["1"]] : [],
      `SELECT ${server.publications.has(name) ? 1 : 0}`
    )
  }
  const slots = /^select (.+) from (?:pg_catalog\.)?pg_replication_slots(?: where slot_name = (.+))?$/i.exec(flat)
  if (slots !== null) {
    const filter = slots[2] === undefined ? undefined : stringLiteral(slots[2])
    if (slots[2] !== undefined && filter === undefined) return undefined
    const items = splitSelectList(slots[1]!).map((item) => {
      const alias = /\bas ("?)([a-z_][a-z0-9_]*)\1$/i.exec(item)
      const base = /^(?:[a-z_]+\.)?([a-z_][a-z0-9_]*)(::text)?$/i.exec(
        alias === null ? item : item.slice(0, alias.index).trim()
      )
      const name = alias?.[2] ?? base?.[1] ?? "?column?"
      const column = base?.[1] ?? (name === "lag_bytes" ? "lag_bytes" : "")
      return { name: name.toLowerCase(), column: column.toLowerCase(), asText: base?.[2] !== undefined }
    })
    const selected = [...server.slots.values()].filter((s) => filter === undefined || s.name === filter)
    return rows(
      items.map((i) => field(i.name, TEXT)),
      selected.map((slot) => items.map((i) => slotColumn(server, slot, i.column, i.asText))),
      `SELECT ${selected.length}`
    )
  }
  return undefined
}
