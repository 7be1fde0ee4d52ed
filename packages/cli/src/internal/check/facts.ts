/**
 * What `pgcdc check` looks at, read from the server's catalogues in one pass on a regular session (a role without
 * the REPLICATION attribute can still run it, which is one of the things it reports): settings, the role, how many
 * walsenders and slots are in use, the publications and every table they publish (replica identity, primary key,
 * TOAST-able columns), and the slot. Works on PostgreSQL 14 to 18; column lists are read on 15+.
 *
 * It deliberately judges nothing: `findings.ts` turns these facts into findings, so the judgement is testable
 * without a server.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import { literal, type Row, scalar, select } from "../sql.ts"

export interface TableFacts {
  readonly schema: string
  readonly name: string
  /** pg_class.relreplident: d (default: the primary key), n (nothing), f (full), i (an index). */
  readonly replicaIdentity: string
  readonly hasPrimaryKey: boolean
  /**
   * Published columns whose values are TOASTed when large (storage EXTENDED or EXTERNAL: text, bytea, jsonb, arrays...),
   * in column order. MAIN columns (numeric) go out of line only as a last resort and are left out.
   */
  readonly toastable: ReadonlyArray<string>
}

export interface PublicationFacts {
  readonly name: string
  readonly exists: boolean
  readonly allTables: boolean
  readonly publishesUpdate: boolean
  readonly publishesDelete: boolean
  readonly tables: ReadonlyArray<TableFacts>
}

export interface SlotFacts {
  readonly name: string
  readonly exists: boolean
  readonly plugin: string | null
  readonly slotType: string | null
  readonly database: string | null
  readonly active: boolean
  readonly activePid: number | null
  readonly walStatus: string | null
  /** Bytes the slot may still hold back before it is invalidated; null without a limit (max_slot_wal_keep_size = -1). */
  readonly safeWalSize: bigint | null
  readonly confirmedFlushLsn: string | null
  /** pg_current_wal_lsn() - confirmed_flush_lsn. */
  readonly lagBytes: bigint | null
}

export interface Facts {
  readonly serverVersion: number
  readonly database: string
  readonly walLevel: string
  readonly role: { readonly name: string; readonly replication: boolean; readonly superuser: boolean }
  readonly maxWalSenders: number
  readonly walSendersUsed: number
  readonly maxReplicationSlots: number
  readonly slotsUsed: number
  /** max_slot_wal_keep_size in MB; -1 is no limit. */
  readonly maxSlotWalKeepSizeMb: number
  /** Whether the publications were named (otherwise: every publication of the database). */
  readonly publicationsNamed: boolean
  readonly publications: ReadonlyArray<PublicationFacts>
  readonly slot: SlotFacts | undefined
}

const bool = (text: string | null | undefined): boolean => text === "true"
const int = (text: string | null | undefined): number => Number(text ?? "0")
const bigintOrNull = (text: string | null | undefined): bigint | null =>
  text === null || text === undefined ? null : BigInt(text.replace(/\..*$/, ""))

const setting = (conn: ConnectionShape, name: string) =>
  scalar(conn, `SELECT setting FROM pg_catalog.pg_settings WHERE name = ${literal(name)}`)

const tablesQuery = (publications: ReadonlyArray<string>, columnLists: boolean) => `
  SELECT pt.pubname, n.nspname, c.relname, c.relreplident::text AS identity,
         EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)::text AS has_pk,
         (SELECT json_agg(a.attname ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage IN ('x', 'e')
             ${columnLists ? "AND (pt.attnames IS NULL OR a.attname = ANY (pt.attnames))" : ""})::text AS toastable
    FROM pg_catalog.pg_publication_tables pt
    JOIN pg_catalog.pg_namespace n ON n.nspname = pt.schemaname
    JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
   WHERE pt.pubname IN (${publications.map(literal).join(", ")})
   ORDER BY n.nspname, c.relname`

const tableOf = (r: Row): TableFacts => ({
  schema: r.nspname ?? "",
  name: r.relname ?? "",
  replicaIdentity: r.identity ?? "d",
  hasPrimaryKey: bool(r.has_pk),
  toastable: r.toastable === null || r.toastable === undefined ? [] : (JSON.parse(r.toastable) as Array<string>)
})

const publicationsOf = (conn: ConnectionShape, named: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const rows = yield* select(
      conn,
      `SELECT pubname, puballtables::text AS all_tables, pubupdate::text AS upd, pubdelete::text AS del
         FROM pg_catalog.pg_publication ${named.length > 0 ? `WHERE pubname IN (${named.map(literal).join(", ")})` : ""}
        ORDER BY pubname`
    )
    const names = named.length > 0 ? named : rows.map((r) => r.pubname ?? "")
    const tables = names.length === 0 ? [] : yield* select(conn, tablesQuery(names, conn.serverVersion >= 150000))
    return names.map((name): PublicationFacts => {
      const row = rows.find((r) => r.pubname === name)
      return {
        name,
        exists: row !== undefined,
        allTables: bool(row?.all_tables),
        publishesUpdate: bool(row?.upd),
        publishesDelete: bool(row?.del),
        tables: tables.filter((t) => t.pubname === name).map(tableOf)
      }
    })
  })

const slotOf = (conn: ConnectionShape, name: string) =>
  Effect.map(
    select(
      conn,
      `SELECT plugin, slot_type, database, active::text AS active, active_pid::text AS pid, wal_status,
              safe_wal_size::text AS safe, confirmed_flush_lsn::text AS confirmed,
              CASE WHEN pg_catalog.pg_is_in_recovery() OR confirmed_flush_lsn IS NULL THEN NULL
                   ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), confirmed_flush_lsn)::text END AS lag
         FROM pg_catalog.pg_replication_slots WHERE slot_name = ${literal(name)}`
    ),
    ([row]): SlotFacts => ({
      name,
      exists: row !== undefined,
      plugin: row?.plugin ?? null,
      slotType: row?.slot_type ?? null,
      database: row?.database ?? null,
      active: bool(row?.active),
      activePid: row?.pid === null || row?.pid === undefined ? null : Number(row.pid),
      walStatus: row?.wal_status ?? null,
      safeWalSize: bigintOrNull(row?.safe),
      confirmedFlushLsn: row?.confirmed ?? null,
      lagBytes: bigintOrNull(row?.lag)
    })
  )

/** Everything `check` judges, for the publications named (all of the database's when none) and the slot. */
export const gather = (conn: ConnectionShape, publications: ReadonlyArray<string>, slot: string | undefined) =>
  Effect.gen(function* () {
    const [role] = yield* select(
      conn,
      "SELECT rolname, rolreplication::text AS replication, rolsuper::text AS superuser FROM pg_catalog.pg_roles WHERE rolname = current_user"
    )
    return {
      serverVersion: conn.serverVersion,
      database: conn.config.database,
      walLevel: (yield* setting(conn, "wal_level")) ?? "unknown",
      role: {
        name: role?.rolname ?? conn.config.user,
        replication: bool(role?.replication),
        superuser: bool(role?.superuser)
      },
      maxWalSenders: int(yield* setting(conn, "max_wal_senders")),
      walSendersUsed: int(
        yield* scalar(conn, "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'walsender'")
      ),
      maxReplicationSlots: int(yield* setting(conn, "max_replication_slots")),
      slotsUsed: int(yield* scalar(conn, "SELECT count(*) FROM pg_catalog.pg_replication_slots")),
      maxSlotWalKeepSizeMb: int(yield* setting(conn, "max_slot_wal_keep_size")),
      publicationsNamed: publications.length > 0,
      publications: yield* publicationsOf(conn, publications),
      slot: slot === undefined ? undefined : yield* slotOf(conn, slot)
    } satisfies Facts
  })
