/**
 * What the sink knows of the target tables: for each, its writable columns (by name, with the type to cast a
 * literal to) and its primary key, read from the target's catalog the first time a table is written and kept until
 * the source sends a new Relation for it (its shape may have changed; the target is then read again).
 *
 * It does not create or alter target tables: a missing table, or one without a primary key, is a "Mapping" error
 * that says so.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import { SinkError } from "../SinkError.ts"
import { literal, nameKey, type QualifiedName } from "./sqlText.ts"

export interface TargetTable {
  readonly table: QualifiedName
  /** Writable columns (not generated) by name: the type to cast a literal to, as format_type prints it. */
  readonly columns: ReadonlyMap<string, string>
  /** The primary key's columns. */
  readonly key: ReadonlyArray<string>
}

const describeSql = (table: QualifiedName) => `
  SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> '' AS generated,
         coalesce(a.attnum = ANY (i.indkey), false) AS in_key, i.indrelid IS NOT NULL AS has_key
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
  WHERE n.nspname = ${literal(table.schema)} AND c.relname = ${literal(table.name)} AND c.relkind IN ('r', 'p')
  ORDER BY a.attnum`

const describe = (conn: ConnectionShape, table: QualifiedName) =>
  Effect.flatMap(conn.query(describeSql(table)), (results) => {
    const rows = results.at(-1)?.rows ?? []
    if (rows.length === 0) {
      return Effect.fail(
        new SinkError({ reason: "Mapping", message: `The target table ${nameKey(table)} does not exist: create it.` })
      )
    }
    const columns = new Map<string, string>()
    const key: Array<string> = []
    for (const [name, type, generated, inKey] of rows) {
      if (name === null || type === null) continue
      if (generated !== "t") columns.set(name, type)
      if (inKey === "t") key.push(name)
    }
    if (key.length === 0) {
      return Effect.fail(
        new SinkError({
          reason: "Mapping",
          message: `The target table ${nameKey(table)} has no primary key: the sink upserts and deletes by primary key.`
        })
      )
    }
    return Effect.succeed<TargetTable>({ table, columns, key })
  })

/** Target tables described on first use; `forget` drops one so that it is read again. */
export class Catalog {
  private readonly tables = new Map<string, TargetTable>()
  private readonly conn: ConnectionShape

  constructor(conn: ConnectionShape) {
    this.conn = conn
  }

  /** The tables already described (synchronous, for building statements). */
  get(table: QualifiedName): TargetTable | undefined {
    return this.tables.get(nameKey(table))
  }

  /** Describes every table of `tables` not known yet. */
  load(tables: Iterable<QualifiedName>) {
    const missing = [...tables].filter((t) => !this.tables.has(nameKey(t)))
    return Effect.forEach(
      missing,
      (t) => Effect.map(describe(this.conn, t), (described) => void this.tables.set(nameKey(t), described)),
      { discard: true }
    )
  }

  forget(table: QualifiedName): void {
    this.tables.delete(nameKey(table))
  }
}
