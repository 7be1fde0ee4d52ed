/**
 * The fake server's programmable WAL: a catalog of tables with typed columns and an append-only log of decoded
 * transactions, each change at an increasing LSN, as logical decoding would hand them to an output plugin.
 *
 * A test describes changes with plain rows (`{ column: text value }`); `Wal` resolves them against the table
 * definitions into tuples in column order (a missing column is NULL), assigns the transaction id, the LSN of every
 * change, the commit LSN and the end LSN, and keeps the table definition as it was at write time so a later
 * `defineTable` (a schema change) makes sessions send a new Relation message, as the real server does. Each committed
 * transaction is applied to `heap` (Heap.ts), the rows a COPY or an initial snapshot reads. The log's records (the
 * resolved changes and the entries) are typed in WalEntry.ts.
 *
 * It deliberately does not know sessions or the pgoutput encoding (see `Output.ts`) and never validates values
 * against their types: the fake sends what the test wrote, which is how tests feed consumers odd values on purpose.
 */
import type { Pgoutput, ReplicaIdentity, TupleData, TupleValue } from "@pgcdc/protocol"
import { Lsn, UnchangedToast } from "@pgcdc/protocol"
import { Heap } from "./Heap.ts"
import type { PrepareEntry, WalChange, WalEntry } from "./WalEntry.ts"

export interface FakeColumn {
  readonly name: string
  /** pg_type OID, e.g. 23 int4, 25 text, 20 int8, 16 bool, 1184 timestamptz, 3802 jsonb. */
  readonly typeOid: number
  /** atttypmod; -1 (the default) when the type has none. */
  readonly typeModifier?: number | undefined
  /** Part of the replica identity key (flag 1 in the Relation message). */
  readonly key?: boolean | undefined
  /** For a type outside pg_catalog (OID ≥ 16384): its name, sent in a Type message before the Relation. */
  readonly typeName?: string | undefined
  /** Schema of that type; default "public". */
  readonly typeNamespace?: string | undefined
}

/**
 * A user-defined type, as `pg_type` describes it (OID 16384 or more): what the fake's Type messages name for a column
 * of it and what it answers to the Replication service's type query (`pgcdc:types`, TypeCatalog.ts). `base` is a
 * domain's base type, `element` an array's element type, `subtype` a range's subtype, `fields` a composite's field
 * types; "base" is a type of an extension (its values are opaque to clients).
 */
export interface FakeTypeDefinition {
  readonly oid: number
  readonly name: string
  /** Default "public". */
  readonly namespace?: string | undefined
  readonly kind: "enum" | "domain" | "array" | "composite" | "range" | "base"
  readonly base?: number | undefined
  readonly element?: number | undefined
  readonly subtype?: number | undefined
  readonly fields?: ReadonlyArray<number> | undefined
}

export interface FakeTableDefinition {
  /** Default "public". */
  readonly schema?: string | undefined
  readonly name: string
  readonly columns: ReadonlyArray<FakeColumn>
  /** Default "d" (primary key). "f" makes updates and deletes carry the whole old row. */
  readonly replicaIdentity?: ReplicaIdentity | undefined
  /** The relation OID; assigned from 16384 upwards when omitted. */
  readonly relationId?: number | undefined
}

/** A table as the WAL saw it at one point (a new definition gets a new `version`). */
export interface FakeTable {
  readonly relationId: number
  readonly schema: string
  readonly name: string
  readonly columns: ReadonlyArray<FakeColumn>
  readonly replicaIdentity: ReplicaIdentity
  readonly version: number
}

/** A column value as PostgreSQL would send it: text form, NULL, binary form, or unchanged TOAST. */
export type FakeValue = string | null | Uint8Array | UnchangedToast
export type FakeRow = Readonly<Record<string, FakeValue>>

/** One change inside a transaction, as a test writes it. Tables are named "name" or "schema.name". */
export type FakeChange =
  | { readonly _tag: "Insert"; readonly table: string; readonly row: FakeRow }
  | {
      readonly _tag: "Update"
      readonly table: string
      readonly row: FakeRow
      /** The old row: sent whole with REPLICA IDENTITY FULL, or its key columns when the key changed. */
      readonly old?: FakeRow | undefined
    }
  | { readonly _tag: "Delete"; readonly table: string; readonly old: FakeRow }
  | {
      readonly _tag: "Truncate"
      readonly tables: ReadonlyArray<string>
      readonly cascade?: boolean | undefined
      readonly restartIdentity?: boolean | undefined
    }
  | { readonly _tag: "Message"; readonly prefix: string; readonly content: string | Uint8Array }

/** Constructors for `FakeChange`, so tests read like the SQL they stand for. */
export const Change = {
  insert: (table: string, row: FakeRow): FakeChange => ({ _tag: "Insert", table, row }),
  update: (table: string, row: FakeRow, old?: FakeRow): FakeChange => ({ _tag: "Update", table, row, old }),
  delete: (table: string, old: FakeRow): FakeChange => ({ _tag: "Delete", table, old }),
  truncate: (
    tables: ReadonlyArray<string>,
    options?: { readonly cascade?: boolean; readonly restartIdentity?: boolean }
  ): FakeChange => ({ _tag: "Truncate", tables, cascade: options?.cascade, restartIdentity: options?.restartIdentity }),
  message: (prefix: string, content: string | Uint8Array): FakeChange => ({ _tag: "Message", prefix, content })
} as const

export interface TransactionOptions {
  /** Replication origin of the transaction (sends an Origin message; filtered by `origin 'none'`). */
  readonly origin?: string | undefined
}

export interface PreparedOptions extends TransactionOptions {
  /** A large transaction: streamed in this many segments (then StreamPrepare) to sessions with streaming and two_phase. */
  readonly segments?: number | undefined
}

export interface StreamedOptions extends TransactionOptions {
  /** How many StreamStart/StreamStop segments the changes are split into (default 2, at most one per change). */
  readonly segments?: number | undefined
  /** Abort instead of commit (sends StreamAbort to streaming sessions, nothing to others). */
  readonly abort?: boolean | undefined
}

/** What a write returns: where the transaction ended, the position a consumer confirms once it processed it. */
export interface WrittenTransaction {
  readonly xid: number
  /** The commit (or prepare, or message) record's LSN. */
  readonly lsn: Lsn.Lsn
  /** The end of the commit record: what Commit.endLsn says and what a consumer acknowledges. */
  readonly endLsn: Lsn.Lsn
}

export class FakeWalError extends Error {
  override readonly name = "FakeWalError"
}

const encoder = new TextEncoder()
const align8 = (n: bigint): bigint => (n + 7n) & ~7n

// Sizes of the records the fake pretends to write; only their monotonicity matters to clients.
const changeSize = 0x48n
const commitSize = 0x28n

export class Wal {
  readonly entries: Array<WalEntry> = []
  /** The tables' rows as the committed entries leave them (what COPY and snapshots read). */
  readonly heap = new Heap()
  private readonly tables = new Map<string, FakeTable>()
  /** User-defined types by OID (defineType). */
  readonly types = new Map<number, FakeTypeDefinition>()
  private readonly prepared = new Map<string, PrepareEntry>()
  private nextRelationId = 16384
  private nextXid = 750
  /** The end of the last record: the flush position IDENTIFY_SYSTEM reports. */
  position: bigint
  /**
   * Called with every change of a transaction before any of it is written; throws `FakeWalError` to refuse the
   * whole transaction (the server checks UPDATE and DELETE against its publications there, as PostgreSQL does).
   */
  checkChange: (change: WalChange) => void = () => {}

  constructor(startLsn: bigint) {
    this.position = startLsn
  }

  defineTable(definition: FakeTableDefinition): FakeTable {
    const schema = definition.schema ?? "public"
    const key = `${schema}.${definition.name}`
    const previous = this.tables.get(key)
    if (definition.columns.length === 0) throw new FakeWalError(`table ${key} needs at least one column`)
    const table: FakeTable = {
      relationId: definition.relationId ?? previous?.relationId ?? this.nextRelationId++,
      schema,
      name: definition.name,
      columns: definition.columns,
      replicaIdentity: definition.replicaIdentity ?? "d",
      version: (previous?.version ?? 0) + 1
    }
    this.tables.set(key, table)
    return table
  }

  /** Defines (or replaces) a user-defined type. */
  defineType(definition: FakeTypeDefinition): void {
    if (definition.oid < 16384) throw new FakeWalError(`type OID ${definition.oid} is a catalog OID: use 16384 or more`)
    this.types.set(definition.oid, definition)
  }

  /** The table definitions now ("schema.name" → table); later `defineTable` calls do not change it. */
  definitions(): ReadonlyMap<string, FakeTable> {
    return new Map(this.tables)
  }

  table(name: string): FakeTable {
    const table = this.tables.get(name.includes(".") ? name : `public.${name}`)
    if (table === undefined) {
      throw new FakeWalError(
        `table ${name} is not defined: call defineTable first (defined: ${[...this.tables.keys()].join(", ") || "none"})`
      )
    }
    return table
  }

  /** A committed (or, for streamed transactions, possibly aborted) transaction. */
  transaction(
    changes: ReadonlyArray<FakeChange>,
    now: bigint,
    options: StreamedOptions & { streamed?: boolean }
  ): WrittenTransaction {
    if (changes.length === 0) throw new FakeWalError("a transaction needs at least one change")
    const firstLsn = this.position
    const resolved = this.resolveAll(changes)
    const xid = this.nextXid++
    const commitLsn = this.position
    const endLsn = align8(commitLsn + commitSize)
    this.position = endLsn
    const segments =
      options.streamed === true ? Math.max(1, Math.min(options.segments ?? 2, resolved.length)) : undefined
    this.entries.push({
      _tag: "Transaction",
      xid,
      changes: resolved,
      firstLsn,
      commitLsn,
      endLsn,
      commitTime: now,
      origin: options.origin,
      segments,
      aborted: options.abort === true
    })
    if (options.abort !== true) this.heap.apply(resolved)
    return { xid, lsn: Lsn.unsafeMake(commitLsn), endLsn: Lsn.unsafeMake(endLsn) }
  }

  /** A non-transactional logical message (pg_logical_emit_message(false, ...)). */
  message(prefix: string, content: string | Uint8Array): WrittenTransaction {
    const lsn = this.position
    const bytes = typeof content === "string" ? encoder.encode(content) : content
    const endLsn = align8(lsn + commitSize + BigInt(bytes.length))
    this.position = endLsn
    this.entries.push({ _tag: "Message", lsn, endLsn, prefix, content: bytes })
    return { xid: 0, lsn: Lsn.unsafeMake(lsn), endLsn: Lsn.unsafeMake(endLsn) }
  }

  prepare(gid: string, changes: ReadonlyArray<FakeChange>, now: bigint, options: PreparedOptions): WrittenTransaction {
    if (this.prepared.has(gid)) throw new FakeWalError(`transaction identifier "${gid}" is already in use`)
    if (changes.length === 0) throw new FakeWalError("a prepared transaction needs at least one change")
    const firstLsn = this.position
    const resolved = this.resolveAll(changes)
    const xid = this.nextXid++
    const prepareLsn = this.position
    const endLsn = align8(prepareLsn + commitSize + BigInt(gid.length))
    this.position = endLsn
    const entry: PrepareEntry = {
      _tag: "Prepare",
      xid,
      gid,
      changes: resolved,
      firstLsn,
      prepareLsn,
      endLsn,
      prepareTime: now,
      origin: options.origin,
      segments: options.segments === undefined ? undefined : Math.max(1, Math.min(options.segments, resolved.length))
    }
    this.prepared.set(gid, entry)
    this.entries.push(entry)
    return { xid, lsn: Lsn.unsafeMake(prepareLsn), endLsn: Lsn.unsafeMake(endLsn) }
  }

  finishPrepared(gid: string, commit: boolean, now: bigint): WrittenTransaction {
    const prepare = this.prepared.get(gid)
    if (prepare === undefined) throw new FakeWalError(`prepared transaction with identifier "${gid}" does not exist`)
    this.prepared.delete(gid)
    const lsn = this.position
    const endLsn = align8(lsn + commitSize + BigInt(gid.length))
    this.position = endLsn
    this.entries.push({ _tag: commit ? "CommitPrepared" : "RollbackPrepared", prepare, lsn, endLsn, time: now })
    if (commit) this.heap.apply(prepare.changes)
    return { xid: prepare.xid, lsn: Lsn.unsafeMake(lsn), endLsn: Lsn.unsafeMake(endLsn) }
  }

  private resolveAll(changes: ReadonlyArray<FakeChange>): Array<WalChange> {
    // Resolve everything before moving the position, so a bad change leaves the WAL untouched.
    const start = this.position
    const out = changes.map((change, i) => this.resolve(change, start + BigInt(i) * changeSize))
    for (const change of out) this.checkChange(change)
    this.position = start + BigInt(changes.length) * changeSize
    return out
  }

  private resolve(change: FakeChange, lsn: bigint): WalChange {
    switch (change._tag) {
      case "Insert": {
        const table = this.table(change.table)
        return { _tag: "Insert", lsn, table, newTuple: tuple(table, change.row, "all") }
      }
      case "Update": {
        const table = this.table(change.table)
        const newTuple = tuple(table, change.row, "all")
        if (change.old === undefined) return { _tag: "Update", lsn, table, key: undefined, old: undefined, newTuple }
        if (table.replicaIdentity === "f") {
          return { _tag: "Update", lsn, table, key: undefined, old: tuple(table, change.old, "all"), newTuple }
        }
        // Default/index identity: the old key is sent only when a key column changed.
        const keyChanged = table.columns.some(
          (c) => c.key === true && (change.old![c.name] ?? null) !== (change.row[c.name] ?? null)
        )
        return {
          _tag: "Update",
          lsn,
          table,
          key: keyChanged ? tuple(table, change.old, "key") : undefined,
          old: undefined,
          newTuple
        }
      }
      case "Delete": {
        const table = this.table(change.table)
        return table.replicaIdentity === "f"
          ? { _tag: "Delete", lsn, table, key: undefined, old: tuple(table, change.old, "all") }
          : { _tag: "Delete", lsn, table, key: tuple(table, change.old, "key"), old: undefined }
      }
      case "Truncate":
        return {
          _tag: "Truncate",
          lsn,
          tables: change.tables.map((t) => this.table(t)),
          cascade: change.cascade === true,
          restartIdentity: change.restartIdentity === true
        }
      case "Message":
        return {
          _tag: "Message",
          lsn,
          prefix: change.prefix,
          content: typeof change.content === "string" ? encoder.encode(change.content) : change.content
        }
    }
  }
}

/** Row → tuple in column order; "key" keeps only key columns (the others are NULL, as pgoutput sends them). */
const tuple = (table: FakeTable, row: FakeRow, which: "all" | "key"): TupleData => {
  for (const name of Object.keys(row)) {
    if (!table.columns.some((c) => c.name === name)) {
      throw new FakeWalError(`column "${name}" of relation "${table.name}" does not exist`)
    }
  }
  return table.columns.map((c): TupleValue => (which === "key" && c.key !== true ? null : (row[c.name] ?? null)))
}

/** The Relation message for a table (with the streamed transaction's xid when inside a stream). */
export const relationMessage = (table: FakeTable, xid: number | undefined): Pgoutput.Relation => ({
  _tag: "Relation",
  xid,
  relationId: table.relationId,
  namespace: table.schema === "pg_catalog" ? "" : table.schema,
  relationName: table.name,
  replicaIdentity: table.replicaIdentity,
  columns: table.columns.map((c) => ({
    // pgoutput flags every column as part of the identity under REPLICA IDENTITY FULL (found by the conformance suite).
    flags: c.key === true || table.replicaIdentity === "f" ? 1 : 0,
    name: c.name,
    typeOid: c.typeOid,
    typeModifier: c.typeModifier ?? -1
  }))
})

export { UnchangedToast }
