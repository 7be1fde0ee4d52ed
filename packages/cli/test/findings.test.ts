/**
 * `pgcdc check`'s judgement, on facts written by hand: a healthy setup has no problem, and each thing that breaks
 * replication is a problem whose fix is the SQL that repairs it.
 */
import { describe, expect, it } from "@effect/vitest"
import type { Facts, SlotFacts, TableFacts } from "../src/internal/check/facts.ts"
import { count, findings } from "../src/internal/check/findings.ts"
import { render } from "../src/internal/commands/check.ts"

const table = (overrides: Partial<TableFacts> = {}): TableFacts => ({
  schema: "public",
  name: "orders",
  replicaIdentity: "d",
  hasPrimaryKey: true,
  toastable: [],
  ...overrides
})

const slot = (overrides: Partial<SlotFacts> = {}): SlotFacts => ({
  name: "orders_slot",
  exists: true,
  plugin: "pgoutput",
  slotType: "logical",
  database: "app",
  active: true,
  activePid: 4242,
  walStatus: "reserved",
  safeWalSize: 1024n ** 3n,
  confirmedFlushLsn: "0/16B3748",
  lagBytes: 1000n,
  ...overrides
})

const healthy: Facts = {
  serverVersion: 180001,
  database: "app",
  walLevel: "logical",
  role: { name: "app", replication: true, superuser: false },
  maxWalSenders: 10,
  walSendersUsed: 1,
  maxReplicationSlots: 10,
  slotsUsed: 1,
  maxSlotWalKeepSizeMb: 10240,
  publicationsNamed: true,
  publications: [
    {
      name: "orders_pub",
      exists: true,
      allTables: false,
      publishesUpdate: true,
      publishesDelete: true,
      tables: [table()]
    }
  ],
  slot: slot()
}

const limits = { maxLagBytes: 1024n ** 3n }
const problems = (facts: Facts) => findings(facts, limits).filter((f) => f.severity === "problem")

describe("check findings", () => {
  it("finds no problem and no warning in a healthy setup", () => {
    const all = findings(healthy, limits)
    expect(all.filter((f) => f.severity !== "ok")).toEqual([])
    expect(render(all).at(-1)).toBe("no problems")
  })

  it("wal_level and a role without REPLICATION are problems, fixed by ALTER SYSTEM and ALTER ROLE", () => {
    const found = problems({
      ...healthy,
      walLevel: "replica",
      role: { name: "app", replication: false, superuser: false }
    })
    expect(found.map((f) => [f.subject, f.fix])).toEqual([
      ["wal_level", "ALTER SYSTEM SET wal_level = logical; -- then restart the server"],
      ["role", 'ALTER ROLE "app" WITH REPLICATION;']
    ])
    // A superuser needs no attribute.
    expect(problems({ ...healthy, role: { name: "postgres", replication: false, superuser: true } })).toEqual([])
  })

  it("a published table without primary key (identity DEFAULT) or with identity NOTHING is a problem, only when updates or deletes are published", () => {
    const publication = healthy.publications[0]!
    const withTables = (tables: ReadonlyArray<TableFacts>, publishesUpdate = true, publishesDelete = true): Facts => ({
      ...healthy,
      publications: [{ ...publication, tables, publishesUpdate, publishesDelete }]
    })
    const noKey = table({ name: "events", hasPrimaryKey: false })
    const [problem] = problems(withTables([noKey]))
    expect(problem?.subject).toBe("table public.events")
    expect(problem?.message).toMatch(/refuses every UPDATE and DELETE/)
    expect(problem?.fix).toContain('ALTER TABLE "public"."events" REPLICA IDENTITY FULL;')
    expect(problems(withTables([noKey], false, true))[0]?.message).toMatch(/refuses every DELETE of it/)
    expect(problems(withTables([noKey], false, false))).toEqual([])
    expect(problems(withTables([table({ replicaIdentity: "n" })]))[0]?.message).toMatch(/REPLICA IDENTITY NOTHING/)
    // FULL and USING INDEX need no primary key.
    expect(problems(withTables([table({ replicaIdentity: "f", hasPrimaryKey: false })]))).toEqual([])
    expect(problems(withTables([table({ replicaIdentity: "i", hasPrimaryKey: false })]))).toEqual([])
  })

  it("TOAST-able columns are a warning unless the identity is FULL", () => {
    const facts = (t: TableFacts): Facts => ({
      ...healthy,
      publications: [{ ...healthy.publications[0]!, tables: [t] }]
    })
    const warned = findings(facts(table({ toastable: ["notes", "doc"] })), limits).filter(
      (f) => f.severity === "warning"
    )
    expect(warned).toHaveLength(1)
    expect(warned[0]?.message).toMatch(/^columns notes, doc may be TOASTed: .*\{"unchangedToast":true\}/)
    expect(warned[0]?.fix).toBe('ALTER TABLE "public"."orders" REPLICA IDENTITY FULL;')
    const full = findings(facts(table({ toastable: ["notes"], replicaIdentity: "f" })), limits)
    expect(count(full, "warning")).toBe(0)
  })

  it("missing publications and slots are problems; a database without publication is a warning when none was named", () => {
    const missing = problems({
      ...healthy,
      publications: [{ ...healthy.publications[0]!, name: "nope", exists: false, tables: [] }],
      slot: slot({ exists: false })
    })
    expect(missing.map((f) => f.subject)).toEqual(["publication nope", "slot orders_slot"])
    expect(missing[1]?.fix).toContain("SELECT pg_create_logical_replication_slot('orders_slot', 'pgoutput');")
    const none = findings({ ...healthy, publicationsNamed: false, publications: [] }, limits)
    expect(none.find((f) => f.subject === "publications")?.severity).toBe("warning")
  })

  it("a slot that lost or is losing its WAL is a problem; an idle or lagging one, or one without a WAL limit, a warning", () => {
    expect(problems({ ...healthy, slot: slot({ walStatus: "lost", safeWalSize: null }) })[0]?.message).toMatch(
      /wal_status = lost/
    )
    expect(problems({ ...healthy, slot: slot({ walStatus: "unreserved" }) })[0]?.message).toMatch(/unreserved/)
    const warnings = (s: SlotFacts) =>
      findings({ ...healthy, slot: s }, limits)
        .filter((f) => f.severity === "warning")
        .map((f) => f.message)
    expect(warnings(slot({ active: false, activePid: null }))).toEqual([
      "no consumer streams slot orders_slot: it holds the WAL after 0/16B3748 until one does"
    ])
    expect(warnings(slot({ lagBytes: 2n * 1024n ** 3n }))[0]).toMatch(/lags 2.0 GB .* more than 1.0 GB/)
    expect(warnings(slot({ safeWalSize: null }))[0]).toMatch(/max_slot_wal_keep_size = -1/)
  })

  it("no free walsender or slot is a problem, unless the slot's own consumer holds the walsender", () => {
    const full = { ...healthy, walSendersUsed: 10, slotsUsed: 10 }
    expect(problems({ ...full, slot: slot({ active: false }) }).map((f) => f.subject)).toEqual(["max_wal_senders"])
    expect(problems(full)).toEqual([])
    expect(problems({ ...full, slot: slot({ exists: false }) }).map((f) => f.subject)).toEqual([
      "max_replication_slots",
      "slot orders_slot"
    ])
    expect(problems({ ...full, slot: undefined }).map((f) => f.subject)).toEqual([
      "max_wal_senders",
      "max_replication_slots"
    ])
  })

  it("renders one line per finding, its fix indented below, and a count", () => {
    const lines = render(findings({ ...healthy, role: { name: "app", replication: false, superuser: false } }, limits))
    const role = lines.findIndex((l) => l.startsWith("problem  role"))
    expect(lines[role + 1]).toMatch(/^\s+fix: ALTER ROLE "app" WITH REPLICATION;$/)
    expect(lines.at(-1)).toBe("1 problem, 0 warnings")
  })
})
