/**
 * The COPY statements that read a snapshot table: one per row source (the table, or each leaf partition), and a
 * source larger than `pagesPerChunk` split into ranges of pages (`ctid` ranges, read by TID range scans on
 * PostgreSQL 14+), so several sessions can share a large table. The last range of a source is open-ended, so no row is
 * missed whatever the size the planner saw. Pure: statements only.
 */
import type { SnapshotTable } from "./plan.ts"

export interface Chunk {
  /** The index of its table in the plan. */
  readonly table: number
  readonly sql: string
}

const tid = (page: number): string => `'(${page},0)'::tid`

export const chunksOf = (t: SnapshotTable, tableIndex: number, pagesPerChunk: number): Array<Chunk> => {
  const select = t.columns.length === 0 ? "" : t.columns.join(", ")
  const statement = (relation: string, range: string | undefined): Chunk => {
    const conditions = [t.filter === undefined ? undefined : `(${t.filter})`, range].filter((c) => c !== undefined)
    const where = conditions.length === 0 ? "" : ` WHERE ${conditions.join(" AND ")}`
    return { table: tableIndex, sql: `COPY (SELECT ${select} FROM ${relation}${where}) TO STDOUT` }
  }
  const out: Array<Chunk> = []
  for (const source of t.sources) {
    if (source.pages <= pagesPerChunk) {
      out.push(statement(source.relation, undefined))
      continue
    }
    for (let from = 0; from < source.pages; from += pagesPerChunk) {
      const to = from + pagesPerChunk
      const range = to >= source.pages ? `ctid >= ${tid(from)}` : `ctid >= ${tid(from)} AND ctid < ${tid(to)}`
      out.push(statement(source.relation, range))
    }
  }
  return out
}
