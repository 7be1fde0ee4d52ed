/**
 * Turns the XLogData of one replication session into `WalMessage`s: decodes the pgoutput bytes (telling the
 * decoder whether it is inside a streamed block), keeps the relation cache, resolves row changes to their table,
 * decodes each column value losslessly, and tracks whether a transaction is open (the feedback state needs it).
 *
 * Stateful and single-owner: one decoder per session, fed in order by one fiber. Bad bytes, undecodable values and
 * rows for unknown relations become a typed `ReplicationError`. It does no I/O and knows nothing about LSN feedback.
 */
import {
  isProtocolError,
  type PgoutputMessage,
  type ProtoVersion,
  type TupleData,
  UnchangedToast,
  unsafeDecodePgoutput,
  type XLogData
} from "@pgcdc/protocol"
import { Result } from "effect"
import { RelationCache } from "./RelationCache.ts"
import { ReplicationError } from "./ReplicationError.ts"
import { decodeBinary } from "./values/decodeBinary.ts"
import { decodeText } from "./values/decodeText.ts"
import { ValueError } from "./values/ValueError.ts"
import type { ColumnValue, Row, Table, WalMessage, WalPosition } from "./WalMessage.ts"

export interface WalDecoderOptions {
  readonly protoVersion: ProtoVersion
  readonly streaming?: "off" | "on" | "parallel" | undefined
}

const setColumn = (row: Record<string, ColumnValue>, name: string, value: ColumnValue): void => {
  // A column may be called "__proto__": define it instead of invoking the prototype setter.
  if (name === "__proto__")
    Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true })
  else row[name] = value
}

export class WalDecoder {
  readonly cache = new RelationCache()
  private readonly options: WalDecoderOptions
  private inStream = false
  private inPlainTransaction = false
  private readonly openStreamed = new Set<number>()

  constructor(options: WalDecoderOptions) {
    this.options = options
  }

  /** Whether a transaction (plain, or streamed and not yet committed or aborted) is open after the last message. */
  get inTransaction(): boolean {
    return this.inPlainTransaction || this.openStreamed.size > 0
  }

  /** Decodes one XLogData; throws `ReplicationError`. */
  unsafeDecode(x: XLogData): WalMessage {
    let m: PgoutputMessage
    try {
      m = unsafeDecodePgoutput(x.data, {
        protoVersion: this.options.protoVersion,
        inStream: this.inStream,
        streaming: this.options.streaming
      })
    } catch (e) {
      if (isProtocolError(e)) {
        throw new ReplicationError({
          reason: "Protocol",
          message: `The server sent a pgoutput message that cannot be decoded: ${e.message}`,
          cause: e
        })
      }
      throw e
    }
    this.track(m)
    return this.resolve(m, { walStart: x.walStart, walEnd: x.walEnd })
  }

  decode(x: XLogData): Result.Result<WalMessage, ReplicationError> {
    try {
      return Result.succeed(this.unsafeDecode(x))
    } catch (e) {
      if (e instanceof ReplicationError) return Result.fail(e)
      throw e
    }
  }

  private track(m: PgoutputMessage): void {
    switch (m._tag) {
      case "Begin":
      case "BeginPrepare":
        this.inPlainTransaction = true
        break
      case "Commit":
      case "Prepare":
      case "CommitPrepared":
      case "RollbackPrepared":
        this.inPlainTransaction = false
        break
      case "StreamStart":
        this.inStream = true
        this.openStreamed.add(m.xid)
        break
      case "StreamStop":
        this.inStream = false
        break
      case "StreamCommit":
      case "StreamPrepare":
        this.openStreamed.delete(m.xid)
        break
      case "StreamAbort":
        if (m.subXid === m.xid) this.openStreamed.delete(m.xid)
        break
      default:
        break
    }
  }

  private table(relationId: number, what: string): Table {
    const t = this.cache.get(relationId)
    if (t === undefined) {
      throw new ReplicationError({
        reason: "UnknownRelation",
        message: `${what} refers to relation id ${relationId}, which no Relation message described in this session`
      })
    }
    return t
  }

  private row(table: Table, tuple: TupleData, keyOnly: boolean): Row {
    if (tuple.length !== table.columns.length) {
      throw new ReplicationError({
        reason: "Protocol",
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
            typeof raw === "string"
              ? decodeText(column.typeOid, raw, this.cache)
              : decodeBinary(column.typeOid, raw, this.cache)
        } catch (e) {
          if (e instanceof ValueError) {
            throw new ReplicationError({
              reason: "Decode",
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

  private resolve(m: PgoutputMessage, at: WalPosition): WalMessage {
    switch (m._tag) {
      case "Relation":
        return { _tag: "Relation", ...at, xid: m.xid, table: this.cache.relation(m) }
      case "Type":
        this.cache.type(m)
        return { ...m, ...at }
      case "Insert": {
        const table = this.table(m.relationId, "Insert")
        return { _tag: "Insert", ...at, xid: m.xid, table, new: this.row(table, m.newTuple, false) }
      }
      case "Update": {
        const table = this.table(m.relationId, "Update")
        return {
          _tag: "Update",
          ...at,
          xid: m.xid,
          table,
          key: m.key === undefined ? undefined : this.row(table, m.key, true),
          old: m.old === undefined ? undefined : this.row(table, m.old, false),
          new: this.row(table, m.newTuple, false)
        }
      }
      case "Delete": {
        const table = this.table(m.relationId, "Delete")
        return {
          _tag: "Delete",
          ...at,
          xid: m.xid,
          table,
          key: m.key === undefined ? undefined : this.row(table, m.key, true),
          old: m.old === undefined ? undefined : this.row(table, m.old, false)
        }
      }
      case "Truncate":
        return {
          _tag: "Truncate",
          ...at,
          xid: m.xid,
          cascade: m.cascade,
          restartIdentity: m.restartIdentity,
          tables: m.relationIds.map((id) => this.table(id, "Truncate"))
        }
      default:
        return { ...m, ...at }
    }
  }
}
