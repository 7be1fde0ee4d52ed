/**
 * `pgcdc check`'s judgement: the server's facts (facts.ts) in, findings out, each with a severity, what it means for
 * a pgcdc consumer, and what to do (the SQL to run, where there is one).
 *
 * - `problem`: replication fails, or will: wal_level, the REPLICATION attribute, no free walsender or slot, a missing
 *   publication or slot, a published table whose UPDATEs and DELETEs PostgreSQL refuses, a slot losing its WAL.
 * - `warning`: it works, with a consequence to know about: unchanged TOAST values arriving as a marker, a slot nobody
 *   streams from, a lag beyond the limit, no limit on the WAL a slot may hold.
 * - `ok`: checked, fine.
 *
 * Pure and total: it deliberately reads nothing and never fails.
 */
import { bytes } from "../format.ts"
import type { Facts, PublicationFacts, SlotFacts, TableFacts } from "./facts.ts"

export type Severity = "ok" | "warning" | "problem"

export interface Finding {
  readonly severity: Severity
  /** What was checked: "wal_level", "role", "table public.orders", "slot s"... */
  readonly subject: string
  readonly message: string
  /** What to do: SQL to run (several statements on separate lines), or a command. */
  readonly fix?: string | undefined
}

export interface Limits {
  /** A slot lagging more than this many bytes is a warning. */
  readonly maxLagBytes: bigint
}

const quoteIdent = (name: string): string => `"${name.replace(/"/g, '""')}"`
const quoteLiteral = (text: string): string => `'${text.replace(/'/g, "''")}'`
const qualified = (t: TableFacts): string => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`

const ok = (subject: string, message: string): Finding => ({ severity: "ok", subject, message })

const server = (facts: Facts): ReadonlyArray<Finding> => {
  const out: Array<Finding> = []
  if (facts.serverVersion < 140000) {
    out.push({
      severity: "problem",
      subject: "server",
      message: `PostgreSQL ${Math.floor(facts.serverVersion / 10000)}: pgcdc needs PostgreSQL 14 or later`,
      fix: "Upgrade the server"
    })
  }
  out.push(
    facts.walLevel === "logical"
      ? ok("wal_level", "wal_level = logical")
      : {
          severity: "problem",
          subject: "wal_level",
          message: `wal_level = ${facts.walLevel}: logical decoding needs wal_level = logical (the server must be restarted after the change)`,
          fix: "ALTER SYSTEM SET wal_level = logical; -- then restart the server"
        }
  )
  const role = facts.role
  out.push(
    role.replication || role.superuser
      ? ok("role", `role ${role.name} may open replication sessions (${role.superuser ? "superuser" : "REPLICATION"})`)
      : {
          severity: "problem",
          subject: "role",
          message: `role ${role.name} has no REPLICATION attribute: the server refuses its replication sessions`,
          fix: `ALTER ROLE ${quoteIdent(role.name)} WITH REPLICATION;`
        }
  )
  return out
}

const capacity = (facts: Facts): ReadonlyArray<Finding> => {
  const slot = facts.slot
  // A running consumer of the slot holds one walsender already; a missing slot needs a free slot.
  const needsWalSender = !(slot?.active ?? false)
  const needsSlot = slot !== undefined && !slot.exists
  const senders = `${facts.walSendersUsed} of max_wal_senders = ${facts.maxWalSenders} in use`
  const slots = `${facts.slotsUsed} of max_replication_slots = ${facts.maxReplicationSlots} in use`
  return [
    facts.walSendersUsed >= facts.maxWalSenders && needsWalSender
      ? {
          severity: "problem",
          subject: "max_wal_senders",
          message: `${senders}: no walsender is free for a consumer (a snapshot needs one more)`,
          fix: `ALTER SYSTEM SET max_wal_senders = ${facts.maxWalSenders + 5}; -- then restart the server`
        }
      : ok("max_wal_senders", senders),
    facts.slotsUsed >= facts.maxReplicationSlots && (needsSlot || slot === undefined)
      ? {
          severity: "problem",
          subject: "max_replication_slots",
          message: `${slots}: no slot can be created (a snapshot needs a temporary one too)`,
          fix: `ALTER SYSTEM SET max_replication_slots = ${facts.maxReplicationSlots + 5}; -- then restart the server`
        }
      : ok("max_replication_slots", slots)
  ]
}

const identity = (t: TableFacts, p: PublicationFacts): Finding | undefined => {
  const subject = `table ${t.schema}.${t.name}`
  const missing = t.replicaIdentity === "n" || (t.replicaIdentity === "d" && !t.hasPrimaryKey)
  if (!missing) return undefined
  const refused = [p.publishesUpdate ? "UPDATE" : undefined, p.publishesDelete ? "DELETE" : undefined].filter(
    (x) => x !== undefined
  )
  if (refused.length === 0) return undefined
  const why = t.replicaIdentity === "n" ? "REPLICA IDENTITY NOTHING" : "no primary key and REPLICA IDENTITY DEFAULT"
  return {
    severity: "problem",
    subject,
    message: `${why}: PostgreSQL refuses every ${refused.join(" and ")} of it while publication ${p.name} publishes ${refused.length === 1 ? "it" : "them"}`,
    fix: `ALTER TABLE ${qualified(t)} ADD PRIMARY KEY (...); -- or, keeping whole old rows in the WAL:\nALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL;`
  }
}

const toast = (t: TableFacts): Finding | undefined =>
  t.replicaIdentity === "f" || t.toastable.length === 0
    ? undefined
    : {
        severity: "warning",
        subject: `table ${t.schema}.${t.name}`,
        message: `column${t.toastable.length === 1 ? "" : "s"} ${t.toastable.join(", ")} may be TOASTed: an UPDATE that leaves such a value unchanged sends the unchanged-TOAST marker ({"unchangedToast":true}), not the value; keep the value you have, or make PostgreSQL send whole rows`,
        fix: `ALTER TABLE ${qualified(t)} REPLICA IDENTITY FULL;`
      }

const publications = (facts: Facts): ReadonlyArray<Finding> => {
  if (facts.publications.length === 0) {
    return [
      {
        severity: facts.publicationsNamed ? "problem" : "warning",
        subject: "publications",
        message: `database ${facts.database} has no publication: there is nothing to stream`,
        fix: "CREATE PUBLICATION <name> FOR TABLE <table>, ...; -- or: pgcdc publication create <name> -t <table>"
      }
    ]
  }
  const out: Array<Finding> = []
  const seen = new Set<string>()
  for (const p of facts.publications) {
    if (!p.exists) {
      out.push({
        severity: "problem",
        subject: `publication ${p.name}`,
        message: `publication ${p.name} does not exist in database ${facts.database}`,
        fix: `CREATE PUBLICATION ${quoteIdent(p.name)} FOR TABLE <table>, ...;`
      })
      continue
    }
    out.push(
      p.tables.length === 0
        ? {
            severity: "warning",
            subject: `publication ${p.name}`,
            message: `publication ${p.name} publishes no table yet`,
            fix: `ALTER PUBLICATION ${quoteIdent(p.name)} ADD TABLE <table>;`
          }
        : ok(
            `publication ${p.name}`,
            `publication ${p.name}: ${p.tables.length} table${p.tables.length === 1 ? "" : "s"}`
          )
    )
    for (const t of p.tables) {
      const problem = identity(t, p)
      if (problem !== undefined) out.push(problem)
      const key = `${t.schema}.${t.name}`
      if (seen.has(key)) continue
      seen.add(key)
      const marker = toast(t)
      if (marker !== undefined) out.push(marker)
      if (problem === undefined && marker === undefined)
        out.push(ok(`table ${key}`, `replica identity ${identityName(t)}`))
    }
  }
  return out
}

const identityName = (t: TableFacts): string =>
  t.replicaIdentity === "f"
    ? "FULL"
    : t.replicaIdentity === "i"
      ? "USING INDEX"
      : t.replicaIdentity === "n"
        ? "NOTHING"
        : "DEFAULT (primary key)"

/** Whether the slot is one pgcdc can stream from: a problem when it is not, nothing when it is. */
const slotUsable = (facts: Facts, s: SlotFacts): Finding | undefined => {
  const subject = `slot ${s.name}`
  if (!s.exists) {
    return {
      severity: "problem",
      subject,
      message: `slot ${s.name} does not exist`,
      fix: `SELECT pg_create_logical_replication_slot(${quoteLiteral(s.name)}, 'pgoutput'); -- or: pgcdc slot create ${s.name}`
    }
  }
  if (s.slotType !== "logical" || s.plugin !== "pgoutput" || s.database !== facts.database) {
    return {
      severity: "problem",
      subject,
      message: `slot ${s.name} is a ${s.slotType ?? "?"} slot with plugin ${s.plugin ?? "none"} in database ${s.database ?? "none"}: pgcdc needs a logical pgoutput slot of database ${facts.database}`,
      fix: `SELECT pg_drop_replication_slot(${quoteLiteral(s.name)}); SELECT pg_create_logical_replication_slot(${quoteLiteral(s.name)}, 'pgoutput');`
    }
  }
  return undefined
}

/** wal_status: whether the WAL the slot needs is still there, and will stay. */
const walStatus = (s: SlotFacts): Finding => {
  const subject = `slot ${s.name}`
  switch (s.walStatus) {
    case "lost":
      return {
        severity: "problem",
        subject,
        message: `slot ${s.name} has lost WAL it needs (wal_status = lost): it can no longer stream; what it missed must be re-read`,
        fix: `SELECT pg_drop_replication_slot(${quoteLiteral(s.name)}); -- then start the consumer with snapshot "when_needed", which takes a new snapshot and recreates it`
      }
    case "unreserved":
      return {
        severity: "problem",
        subject,
        message: `slot ${s.name} holds more WAL than max_slot_wal_keep_size allows (wal_status = unreserved): the next checkpoint invalidates it unless its consumer catches up`,
        fix: "Let the consumer catch up now, or raise the limit: ALTER SYSTEM SET max_slot_wal_keep_size = '<more>'; SELECT pg_reload_conf();"
      }
    case "extended":
      return {
        severity: "warning",
        subject,
        message: `slot ${s.name} holds WAL beyond max_wal_size (wal_status = extended)`,
        fix: "Let the consumer catch up"
      }
    default:
      return ok(subject, `slot ${s.name}: wal_status = ${s.walStatus ?? "unknown"}`)
  }
}

/** safe_wal_size: how much more WAL the slot may hold before the server invalidates it (no limit: the disk's). */
const retention = (s: SlotFacts): Finding =>
  s.safeWalSize === null
    ? {
        severity: "warning",
        subject: `slot ${s.name}`,
        message: "max_slot_wal_keep_size = -1: a consumer that stops makes the server keep WAL until its disk is full",
        fix: "ALTER SYSTEM SET max_slot_wal_keep_size = '<what the disk can spare, e.g. 50GB>'; SELECT pg_reload_conf();"
      }
    : ok(`slot ${s.name}`, `safe_wal_size = ${bytes(s.safeWalSize)} (WAL it may still hold before it is invalidated)`)

/** Whether a consumer streams it, and how far behind the server's WAL it is. */
const activity = (s: SlotFacts, limits: Limits): ReadonlyArray<Finding> => {
  const subject = `slot ${s.name}`
  const out: Array<Finding> = [
    s.active
      ? ok(subject, `slot ${s.name} is streamed by pid ${s.activePid ?? "?"}`)
      : {
          severity: "warning",
          subject,
          message: `no consumer streams slot ${s.name}: it holds the WAL after ${s.confirmedFlushLsn ?? "its position"} until one does`,
          fix: `Start its consumer, or drop it if it is abandoned: SELECT pg_drop_replication_slot(${quoteLiteral(s.name)});`
        }
  ]
  if (s.lagBytes === null) return out
  const lag = `slot ${s.name} lags ${bytes(s.lagBytes)} (pg_current_wal_lsn() - confirmed_flush_lsn)`
  out.push(
    s.lagBytes > limits.maxLagBytes
      ? {
          severity: "warning",
          subject,
          message: `${lag}, more than ${bytes(limits.maxLagBytes)}`,
          fix: "Let the consumer catch up (is it running, and committing?)"
        }
      : ok(subject, lag)
  )
  return out
}

const slotFindings = (facts: Facts, s: SlotFacts, limits: Limits): ReadonlyArray<Finding> => {
  const unusable = slotUsable(facts, s)
  if (unusable !== undefined) return [unusable]
  return [walStatus(s), ...(s.walStatus === "lost" ? [] : [retention(s)]), ...activity(s, limits)]
}

/** Every finding, in the order a person fixes them: the server, capacity, publications and tables, the slot. */
export const findings = (facts: Facts, limits: Limits): ReadonlyArray<Finding> => [
  ...server(facts),
  ...capacity(facts),
  ...publications(facts),
  ...(facts.slot === undefined ? [] : slotFindings(facts, facts.slot, limits))
]

export const count = (all: ReadonlyArray<Finding>, severity: Severity): number =>
  all.filter((f) => f.severity === severity).length
