/**
 * The general path from a decoded pgoutput message to a `WalMessage`: Relation and Type messages update the
 * relation cache; row changes are resolved to their table and every value is decoded by `decodeText` or
 * `decodeBinary`; every other message passes through with its position. Slower than the fast row path, and the
 * reference it is tested against; it reports every error exactly (a row for an unknown relation, a column count
 * that does not match, an undecodable value), as a typed `ReplicationError`.
 */
import { type PgoutputMessage, type TupleData, UnchangedToast } from "@pgcdc/protocol"
import { replicationError } from "../../ReplicationError.ts"
import { decodeBinary } from "../../values/decodeBinary.ts"
import { decodeText } from "../../values/decodeText.ts"
import { ValueError } from "../../values/ValueError.ts"
import type { ColumnValue, Row, Table, WalMessage, WalPosition } from "../../WalMessage.ts"
import { setColumn } from "../values/RowMaker.ts"
import type { RelationCache } from "./RelationCache.ts"

const tableOf = (cache: RelationCache, relationId: number, what: string): Table => {
  const t = cache.get(relationId)
  if (t === undefined) {
    throw replicationError("UnknownRelation", {
      message: `${what} refers to relation id ${relationId}, which no Relation message described in this session`
    })
  }
  return t
}

const rowOf = (cache: RelationCache, table: Table, tuple: TupleData, keyOnly: boolean): Row => {
  if (tuple.length !== table.columns.length) {
    throw replicationError("Protocol", {
      message: `A row of ${table.schema}.${table.name} has ${tuple.length} columns; its Relation message listed ${table.columns.length}`
    })
  }
  const row: Record<string, ColumnValue> = {}
  for (let i = 0; i < tuple.length; i++) {
    const column = table.columns[i]!
    if (keyOnly && !column.isKey) continue
    const raw = tuple[i]!
    let value: ColumnValue
    if (raw === null || raw === UnchangedToast) value = raw
    else {
      try {
        value =
          typeof raw === "string" ? decodeText(column.typeOid, raw, cache) : decodeBinary(column.typeOid, raw, cache)
      } catch (e) {
        if (e instanceof ValueError) {
          throw replicationError("Decode", {
            message: `Column ${table.schema}.${table.name}.${column.name}: ${e.message}`,
            cause: e
          })
        }
        throw e
      }
    }
    setColumn(row, column.name, value)
  }
  return row
}

/** The `WalMessage` for `m` at `at`; throws `ReplicationError`. */
export const resolveMessage = (cache: RelationCache, m: PgoutputMessage, at: WalPosition): WalMessage => {
  switch (m._tag) {
    case "Relation":
      return { _tag: "Relation", ...at, xid: m.xid, table: cache.relation(m) }
    case "Type":
      cache.type(m)
      return { ...m, ...at }
    case "Insert": {
      const table = tableOf(cache, m.relationId, "Insert")
      return { _tag: "Insert", ...at, xid: m.xid, table, new: rowOf(cache, table, m.newTuple, false) }
    }
    case "Update": {
      const table = tableOf(cache, m.relationId, "Update")
      return {
        _tag: "Update",
        ...at,
        xid: m.xid,
        table,
        key: m.key === undefined ? undefined : rowOf(cache, table, m.key, true),
        old: m.old === undefined ? undefined : rowOf(cache, table, m.old, false),
        new: rowOf(cache, table, m.newTuple, false)
      }
    }
    case "Delete": {
      const table = tableOf(cache, m.relationId, "Delete")
      return {
        _tag: "Delete",
        ...at,
        xid: m.xid,
        table,
        key: m.key === undefined ? undefined : rowOf(cache, table, m.key, true),
        old: m.old === undefined ? undefined : rowOf(cache, table, m.old, false)
      }
    }
    case "Truncate":
      return {
        _tag: "Truncate",
        ...at,
        xid: m.xid,
        cascade: m.cascade,
        restartIdentity: m.restartIdentity,
        tables: m.relationIds.map((id) => tableOf(cache, id, "Truncate"))
      }
    // Begin and Commit come with every transaction: built as literals, the same properties in the same order as the
    // spread below, without its generic copy.
    case "Begin":
      return {
        _tag: "Begin",
        finalLsn: m.finalLsn,
        commitTime: m.commitTime,
        xid: m.xid,
        walStart: at.walStart,
        walEnd: at.walEnd
      }
    case "Commit":
      return {
        _tag: "Commit",
        flags: m.flags,
        commitLsn: m.commitLsn,
        endLsn: m.endLsn,
        commitTime: m.commitTime,
        walStart: at.walStart,
        walEnd: at.walEnd
      }
    case "Message":
    case "Origin":
    case "StreamStart":
    case "StreamStop":
    case "StreamCommit":
    case "StreamAbort":
    case "BeginPrepare":
    case "Prepare":
    case "CommitPrepared":
    case "RollbackPrepared":
    case "StreamPrepare":
      return { ...m, ...at }
  }
}
