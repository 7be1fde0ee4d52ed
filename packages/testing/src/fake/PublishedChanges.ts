/**
 * What a session's publications let through of the WAL's changes, as pgoutput decides it: the kinds of change they
 * publish, the columns of their column lists and the rows their row filters pass (an update that moves a row into or
 * out of a filter becomes an insert or a delete).
 *
 * It does not resolve publications (FakeServer does, behind `SessionPublications`) and writes no messages (Output.ts
 * does).
 */
import type { TupleData } from "@pgcdc/protocol"
import type { PublishAction, RowPredicate } from "./FakeServer.ts"
import type { FakeTable } from "./Wal.ts"
import type { WalChange } from "./WalEntry.ts"

/** What the session's publications send of a table (`FakeServer.publishes` and `publishedColumns`). */
export interface SessionPublications {
  /** Whether they send this kind of change of the table. */
  readonly publishes: (table: FakeTable, action: PublishAction) => boolean
  /**
   * The columns they send of the table, as indexes into its columns, or undefined for all of them. Throws
   * `ColumnListConflict` (a `DecodingError`) when they disagree.
   */
  readonly columns: (table: FakeTable) => ReadonlyArray<number> | undefined
  /** Their row filter for this kind of change of the table (on the whole row), or undefined to send every row. */
  readonly rowFilter: (table: FakeTable, action: PublishAction) => RowPredicate | undefined
  /** Called before a change of a table is decoded; throws the `DecodingError` of a missing publication. */
  readonly load: () => void
}

/** Every change of every table, with all its columns and rows (no publications). */
export const everything: SessionPublications = {
  publishes: () => true,
  columns: () => undefined,
  rowFilter: () => undefined,
  load: () => {}
}

type RowChange = Extract<WalChange, { readonly _tag: "Insert" | "Update" | "Delete" }>

/**
 * What a row filter lets through of a change (as pgoutput, PostgreSQL 15+): the change, nothing, or for an update
 * that moves the row into the filter an insert of the new row, out of it a delete of the old one. An update whose
 * old row was not logged (the key did not change, REPLICA IDENTITY DEFAULT) is decided by its new row alone.
 */
const filtered = (change: RowChange, pass: RowPredicate | undefined): RowChange | undefined => {
  if (pass === undefined) return change
  switch (change._tag) {
    case "Insert":
      return pass(change.newTuple) ? change : undefined
    case "Delete": {
      const old = change.old ?? change.key
      return old !== undefined && pass(old) ? change : undefined
    }
    case "Update": {
      const newPasses = pass(change.newTuple)
      const old = change.old ?? change.key
      if (old === undefined) return newPasses ? change : undefined
      const oldPasses = pass(old)
      if (oldPasses && newPasses) return change
      const { lsn, table } = change
      if (newPasses) return { _tag: "Insert", lsn, table, newTuple: change.newTuple }
      if (oldPasses)
        return { _tag: "Delete", lsn, table, key: change.old === undefined ? change.key : undefined, old: change.old }
      return undefined
    }
  }
}

/** The table as a session with this column selection sees it (the columns it is sent, in table order). */
export const projectTable = (table: FakeTable, keep: ReadonlyArray<number> | undefined): FakeTable =>
  keep === undefined ? table : { ...table, columns: keep.map((i) => table.columns[i]!) }

export const projectTuple = <T extends TupleData | undefined>(tuple: T, keep: ReadonlyArray<number> | undefined): T =>
  (tuple === undefined || keep === undefined ? tuple : keep.map((i) => tuple[i]!)) as T

const actionOf = { Insert: "insert", Update: "update", Delete: "delete" } as const

/**
 * What the publications send of one written change: the change (an update possibly turned into an insert or a
 * delete by a row filter) and the columns they keep of its table (undefined for all), or undefined for nothing.
 */
export const publishedChange = (
  publications: SessionPublications,
  written: WalChange
): { readonly change: WalChange; readonly keep: ReadonlyArray<number> | undefined } | undefined => {
  // pgoutput loads the session's publications at its first change of a table (not for a logical message), then
  // resolves the table's column list (an error when publications disagree, whatever they publish), and only then
  // looks at what is published and at the row filter.
  if (written._tag !== "Message") publications.load()
  const keep =
    written._tag === "Truncate" || written._tag === "Message" ? undefined : publications.columns(written.table)
  if (
    written._tag !== "Truncate" &&
    written._tag !== "Message" &&
    !publications.publishes(written.table, actionOf[written._tag])
  ) {
    return undefined
  }
  const change =
    written._tag === "Truncate" || written._tag === "Message"
      ? written
      : filtered(written, publications.rowFilter(written.table, actionOf[written._tag]))
  if (change === undefined) return undefined
  return { change, keep }
}
