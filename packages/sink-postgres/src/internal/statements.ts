/**
 * One SQL statement per row change, for a target table the catalog described:
 * - insert and snapshot/backfill read: INSERT ... ON CONFLICT (key) DO UPDATE (an upsert by primary key);
 * - update: UPDATE by the old key (the key may have changed) of every column sent, and, if no row had that key, the
 *   row inserted; a column PostgreSQL did not send because its TOASTed value did not change is left alone;
 * - delete: DELETE by key;
 * - truncate: TRUNCATE of the target tables (no CASCADE: the target's own foreign keys decide).
 *
 * Values are written in their text form (`encodeText`) cast to the target column's type. A source column the target
 * lacks, or a key column the source did not send, is a "Mapping" error (thrown, for the planner to return). It does
 * not run anything.
 */
import { encodeText, type Row, type Table, UnchangedToast, ValueError, type WalMessage } from "@pgcdc/replication"
import { SinkError } from "../SinkError.ts"
import type { TargetTable } from "./catalog.ts"
import { ident, nameKey, qualified, typed } from "./sqlText.ts"

type Of<T extends WalMessage["_tag"]> = Extract<WalMessage, { readonly _tag: T }>

const mappingError = (message: string): SinkError => new SinkError({ reason: "Mapping", message })

/** The row's columns that carry a value (not the unchanged-TOAST marker), as [column, literal]. */
const valuesOf = (source: Table, target: TargetTable, row: Row): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  for (const column of source.columns) {
    const value = row[column.name]
    if (value === undefined || value === UnchangedToast) continue
    const type = target.columns.get(column.name)
    if (type === undefined) {
      throw mappingError(
        `The target table ${nameKey(target.table)} has no column "${column.name}" (source ${source.schema}.${source.name}): add it.`
      )
    }
    if (value === null) {
      out.push([column.name, `NULL::${type}`])
      continue
    }
    let text: string
    try {
      text = encodeText(column.typeOid, value)
    } catch (e) {
      if (!(e instanceof ValueError)) throw e
      throw new SinkError({
        reason: "Unsupported",
        message: `Column "${column.name}" of ${source.schema}.${source.name} has a value the sink cannot write as text (type OID ${column.typeOid}): run the replication with binary: false.`,
        cause: e
      })
    }
    out.push([column.name, typed(text, type)])
  }
  return out
}

/** `k1 = v1 AND k2 = v2` for the target's key, from `row`. */
const keyCondition = (source: Table, target: TargetTable, row: Row): string => {
  const types = new Map(source.columns.map((c) => [c.name, c.typeOid]))
  return target.key
    .map((name) => {
      const value = row[name]
      const typeOid = types.get(name)
      if (value === undefined || value === UnchangedToast || typeOid === undefined) {
        throw mappingError(
          `The key column "${name}" of ${nameKey(target.table)} is not in what ${source.schema}.${source.name} sends for its old rows: give the source table the same primary key (or REPLICA IDENTITY FULL).`
        )
      }
      if (value === null) return `${ident(name)} IS NULL`
      return `${ident(name)} = ${typed(encodeText(typeOid, value), target.columns.get(name) ?? "text")}`
    })
    .join(" AND ")
}

const upsert = (target: TargetTable, values: ReadonlyArray<readonly [string, string]>, select: string | undefined) => {
  const names = values.map(([n]) => ident(n)).join(", ")
  const literals = values.map(([, v]) => v).join(", ")
  const others = values.filter(([n]) => !target.key.includes(n))
  const onConflict =
    others.length === 0
      ? "DO NOTHING"
      : `DO UPDATE SET ${others.map(([n]) => `${ident(n)} = excluded.${ident(n)}`).join(", ")}`
  const source = select === undefined ? `VALUES (${literals})` : `SELECT ${literals} ${select}`
  return `INSERT INTO ${qualified(target.table)} (${names}) ${source} ON CONFLICT (${target.key.map(ident).join(", ")}) ${onConflict}`
}

export const insert = (source: Table, target: TargetTable, row: Row): string =>
  upsert(target, valuesOf(source, target, row), undefined)

export const update = (target: TargetTable, message: Of<"Update">): string => {
  const values = valuesOf(message.table, target, message.new)
  const where = keyCondition(message.table, target, message.key ?? message.old ?? message.new)
  const set = values.map(([n, v]) => `${ident(n)} = ${v}`).join(", ")
  return `WITH updated AS (UPDATE ${qualified(target.table)} SET ${set} WHERE ${where} RETURNING 1) ${upsert(
    target,
    values,
    "WHERE NOT EXISTS (SELECT 1 FROM updated)"
  )}`
}

export const remove = (target: TargetTable, message: Of<"Delete">): string => {
  const old = message.key ?? message.old
  if (old === undefined) {
    throw mappingError(
      `A delete from ${message.table.schema}.${message.table.name} carries no key (REPLICA IDENTITY NOTHING): set REPLICA IDENTITY DEFAULT or FULL on the source table.`
    )
  }
  return `DELETE FROM ${qualified(target.table)} WHERE ${keyCondition(message.table, target, old)}`
}

export const truncate = (targets: ReadonlyArray<TargetTable>): string =>
  `TRUNCATE ${targets.map((t) => qualified(t.table)).join(", ")}`
