/**
 * A table whose every row carries a version that each write raises by one (a deleted row comes back one version
 * later), a writer committing random inserts, updates and deletes to it, and a checker of what a consumer was handed:
 * with REPLICA IDENTITY FULL every change carries the row's version, so a missing change (a version skipped), a
 * repeated one (a version seen twice) and a row handed out behind a newer change of it all show. Shared by the
 * snapshot handover and backfill tests.
 */
import type { TestDatabaseInfo } from "@pgcdc/testing"
import { seeded, writeOnce } from "@pgcdc/testing/internal/versionedWorkload"
import { Effect, Ref } from "effect"
import type { Row } from "../../src/WalMessage.ts"
import { sqlSession } from "./support.ts"
import type { ConnectionShape } from "@pgcdc/connection"

/** Creates `table` (id, ver, v) with `rows` rows at version 1, its versioning trigger, and a publication of it. */
export const createVersioned = (sql: ConnectionShape, table: string, rows: number, publication: string) =>
  Effect.andThen(
    sql.query(`
      CREATE TABLE ${table} (id int PRIMARY KEY, ver int NOT NULL, v text);
      ALTER TABLE ${table} REPLICA IDENTITY FULL;
      CREATE TABLE ${table}_gone (id int PRIMARY KEY, ver int NOT NULL);
      INSERT INTO ${table} SELECT i, 1, 'v' FROM generate_series(1, ${rows}) i;
      CREATE PUBLICATION ${publication} FOR TABLE ${table}`),
    // Inserting a row that was deleted starts from its old version: a trigger keeps the versions monotonic.
    sql.query(`
      CREATE FUNCTION ${table}_reinsert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        SELECT ver + 1 INTO NEW.ver FROM ${table}_gone WHERE id = NEW.id;
        IF NEW.ver IS NULL THEN NEW.ver := 1; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER ${table}_reinsert BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_reinsert()`)
  )

/**
 * Random writes to ids 1 to rows + 200 until `stop` is set; returns the number of transactions. `pauseMs` between
 * transactions sets a rate (a workload's pace, for a consumer that applies each transaction with a round trip).
 */
export const versionedWriter = (
  db: TestDatabaseInfo,
  table: string,
  rows: number,
  stop: Ref.Ref<boolean>,
  pauseMs = 0
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const sql = yield* sqlSession(db)
      const random = seeded(42)
      let transactions = 0
      while (!(yield* Ref.get(stop))) {
        yield* writeOnce(sql, table, rows + 200, random)
        transactions++
        if (pauseMs > 0) yield* Effect.sleep(pauseMs)
      }
      return transactions
    })
  )

/** The table's rows as [id, ver, v] texts, by id. */
export const tableRows = (sql: ConnectionShape, table: string) =>
  Effect.map(sql.query(`SELECT id::text, ver::text, v FROM ${table} ORDER BY ${table}.id`), (r) =>
    r[0]!.rows.map((row) => [row[0], row[1], row[2]])
  )

/** A consumer's map in the same form. */
export const mapRows = (map: ReadonlyMap<number, Row>) =>
  [...map.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, r]) => [String(r.id), String(r.ver), r.v === null ? null : String(r.v)])

/**
 * Checks each row's history as handed out. `from`: "snapshot" when the consumer starts from a snapshot of every row
 * (a change of a row never seen is a problem), "stream" when it starts from changes alone (a row may first show up in
 * a change of a version that came before the stream).
 */
export class VersionChecker {
  readonly problems: Array<string> = []
  private readonly seen = new Map<number, { readonly ver: number; readonly present: boolean }>()

  private readonly from: "snapshot" | "stream"

  constructor(from: "snapshot" | "stream") {
    this.from = from
  }

  /** A snapshot row: the row's current version, whatever came before it. */
  snapshotRead(id: number, ver: number): void {
    this.seen.set(id, { ver, present: true })
  }

  /**
   * A backfilled row: read between two watermarks and not changed between them, so it is exactly the version of the
   * last change of it handed out (if any): an older one is a row behind a newer change, a deleted one a lost delete.
   */
  backfillRead(id: number, ver: number): void {
    const last = this.seen.get(id)
    if (last !== undefined && (!last.present || last.ver !== ver)) {
      this.problems.push(`backfilled row ${id} at version ${ver} after ${JSON.stringify(last)}`)
    }
    this.seen.set(id, { ver, present: true })
  }

  change(op: "insert" | "update" | "delete", id: number, ver: number): void {
    const last = this.seen.get(id)
    const expected =
      last === undefined
        ? op === "insert" || this.from === "stream"
          ? ver
          : Number.NaN
        : op === "insert"
          ? last.present
            ? Number.NaN
            : last.ver + 1
          : !last.present
            ? Number.NaN
            : op === "update"
              ? last.ver + 1
              : last.ver
    if (ver !== expected)
      this.problems.push(`${op} of row ${id} at version ${ver} after ${JSON.stringify(last ?? "nothing")}`)
    this.seen.set(id, { ver, present: op !== "delete" })
  }
}
