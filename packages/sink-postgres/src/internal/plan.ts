/**
 * Turns a run of `Transactions` elements into what one target transaction must do: the statements of every
 * transaction not applied yet (its commit LSN after the progress row's), in order, with snapshot and backfill rows as
 * upserts, a snapshot's table truncated when it starts, and the progress the transaction must leave behind; plus the
 * LSN to confirm to the slot once it is committed (skipped transactions are confirmed too, so the slot advances).
 *
 * A run is cut after a SnapshotComplete (`segments`), so a target transaction either rebuilds tables from a
 * snapshot and resets the progress to its consistent point, or advances it over transactions; never both.
 * Synchronous and pure but for the catalog it reads; it does not run statements. Two-phase transactions are refused.
 */
import { Lsn, type Table, type Transactions, WalMessage } from "@pgcdc/replication"
import { SinkError } from "../SinkError.ts"
import type { TableMap } from "../TableMap.ts"
import type { Catalog, TargetTable } from "./catalog.ts"
import type { Progress } from "./progress.ts"
import type { QualifiedName } from "./sqlText.ts"
import * as Statements from "./statements.ts"

type Element = Transactions.TransactionElement

export interface Plan {
  /** The changes, in order (without the progress statement). */
  readonly statements: ReadonlyArray<string>
  /** Where the progress row moves over the applied transactions, if any were applied. */
  readonly advance: Progress | undefined
  /** Where a snapshot leaves the progress row, if this run completes one. */
  readonly reset: Progress | undefined
  /** The highest LSN to confirm to the slot once committed. */
  readonly confirm: Lsn.Lsn | undefined
  readonly applied: number
  readonly skipped: number
}

/** Runs of at most `max` elements, each cut after a SnapshotComplete. */
export const segments = (elements: ReadonlyArray<Element>, max: number): Array<ReadonlyArray<Element>> => {
  const out: Array<ReadonlyArray<Element>> = []
  let start = 0
  for (let i = 0; i < elements.length; i++) {
    if (elements[i]!._tag === "SnapshotComplete" || i + 1 - start >= max) {
      out.push(elements.slice(start, i + 1))
      start = i + 1
    }
  }
  if (start < elements.length) out.push(elements.slice(start))
  return out
}

const isApplied = (element: Element, progress: Progress | undefined): boolean =>
  element._tag === "Transaction" && (progress === undefined || element.end.commitLsn > progress.commitLsn)

const unsupported = (element: Element): SinkError =>
  new SinkError({
    reason: "Unsupported",
    message: `The sink does not apply two-phase transactions (${element._tag}): run the replication with twoPhase: false.`
  })

/** The source tables whose target must be described (and the Relations that invalidate what is known). */
export const tablesOf = (
  elements: ReadonlyArray<Element>,
  progress: Progress | undefined,
  catalog: Catalog,
  map: TableMap
): Array<QualifiedName> => {
  const out: Array<QualifiedName> = []
  const add = (table: Table) => out.push(map.targetOf(table))
  for (const element of elements) {
    if (element._tag === "Read" || element._tag === "SnapshotBegin") add(element.table)
    if (!isApplied(element, progress) || element._tag !== "Transaction") continue
    for (const change of element.changes) {
      if (change._tag === "Relation") catalog.forget(map.targetOf(change.table))
      else if (change._tag === "Truncate") change.tables.forEach(add)
      else if (change._tag === "Insert" || change._tag === "Update" || change._tag === "Delete") add(change.table)
    }
  }
  return out
}

/** The plan of one segment; throws SinkError for what cannot be applied. */
export const build = (
  elements: ReadonlyArray<Element>,
  initial: Progress | undefined,
  catalog: Catalog,
  map: TableMap
): Plan => {
  const target = (table: Table): TargetTable => catalog.get(map.targetOf(table))!
  const statements: Array<string> = []
  let advance: Progress | undefined
  let reset: Progress | undefined
  let confirm: Lsn.Lsn | undefined
  let applied = 0
  let skipped = 0
  for (const element of elements) {
    const lsn = WalMessage.lsnToConfirm(element)
    if (lsn !== undefined) confirm = confirm === undefined ? lsn : Lsn.max(confirm, lsn)
    switch (element._tag) {
      case "Transaction": {
        if (!isApplied(element, advance ?? initial)) {
          skipped++
          break
        }
        for (const change of element.changes) {
          if (change._tag === "Insert")
            statements.push(Statements.insert(change.table, target(change.table), change.new))
          else if (change._tag === "Update") statements.push(Statements.update(target(change.table), change))
          else if (change._tag === "Delete") statements.push(Statements.remove(target(change.table), change))
          else if (change._tag === "Truncate") statements.push(Statements.truncate(change.tables.map(target)))
        }
        advance = { commitLsn: element.end.commitLsn, endLsn: element.end.endLsn }
        applied++
        break
      }
      case "SnapshotBegin":
        // A snapshot rebuilds the table: whatever an interrupted earlier snapshot left must go.
        statements.push(Statements.truncate([target(element.table)]))
        break
      case "Read":
        statements.push(Statements.insert(element.table, target(element.table), element.new))
        break
      case "SnapshotComplete":
        reset = { commitLsn: element.consistentPoint, endLsn: element.consistentPoint }
        break
      case "PreparedTransaction":
      case "CommitPrepared":
      case "RollbackPrepared":
        throw unsupported(element)
      default:
        // Logical messages, aborted streamed transactions, snapshot and backfill markers: only confirmed.
        break
    }
  }
  return { statements, advance, reset, confirm, applied, skipped }
}
