/**
 * A workload for exactly-once tests of sinks (inside this workspace only: the sink and cluster tests): a source
 * table whose rows carry a version that each write raises by one (a deleted row comes back one version later), a
 * writer committing random inserts, updates and deletes to it, and, in the target, an audit trigger that records
 * every row change the sink makes. A change applied twice shows in the audit as a version seen twice, a lost one as
 * a version skipped; `auditProblems` lists both. `watchProgress` records every value the sink's progress row takes,
 * so `progressProblems` can tell whether it ever moved backwards or repeated.
 *
 * It does not run a sink or a replication consumer: the tests do.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"

/** The source table (id, ver, v), its `<table>_gone` versions of deleted rows, and a publication; empty. */
export const createSource = (sql: ConnectionShape, table: string, publication: string) =>
  sql.query(`
    CREATE TABLE ${table} (id int PRIMARY KEY, ver int NOT NULL, v text);
    CREATE TABLE ${table}_gone (id int PRIMARY KEY, ver int NOT NULL);
    CREATE FUNCTION ${table}_reinsert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      SELECT ver + 1 INTO NEW.ver FROM ${table}_gone WHERE id = NEW.id;
      IF NEW.ver IS NULL THEN NEW.ver := 1; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER ${table}_reinsert BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ${table}_reinsert();
    CREATE PUBLICATION ${publication} FOR TABLE ${table}`)

/** The target table and its audit: every insert, update and delete the sink makes, in order. */
export const createTarget = (sql: ConnectionShape, table: string) =>
  sql.query(`
    CREATE TABLE ${table} (id int PRIMARY KEY, ver int NOT NULL, v text);
    CREATE TABLE ${table}_audit (seq bigserial PRIMARY KEY, op text NOT NULL, id int NOT NULL, ver int NOT NULL);
    CREATE FUNCTION ${table}_audit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        INSERT INTO ${table}_audit (op, id, ver) VALUES (TG_OP, OLD.id, OLD.ver);
      ELSE
        INSERT INTO ${table}_audit (op, id, ver) VALUES (TG_OP, NEW.id, NEW.ver);
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER ${table}_audit AFTER INSERT OR UPDATE OR DELETE ON ${table}
      FOR EACH ROW EXECUTE FUNCTION ${table}_audit()`)

/** A seeded generator of integers below n. */
export const seeded = (seed: number) => {
  let state = seed >>> 0 || 1
  return (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    return (state >>> 8) % n
  }
}

/** One transaction of 1 to 4 random writes to ids 1..ids. */
export const writeOnce = (sql: ConnectionShape, table: string, ids: number, random: (n: number) => number) => {
  const statements: Array<string> = []
  for (let i = 0; i < 1 + random(4); i++) {
    const id = 1 + random(ids)
    switch (random(3)) {
      case 0:
        statements.push(
          `INSERT INTO ${table} (id, ver, v) VALUES (${id}, 1, 'i') ON CONFLICT (id) DO UPDATE SET ver = ${table}.ver + 1, v = 'u'`
        )
        break
      case 1:
        statements.push(`UPDATE ${table} SET ver = ver + 1, v = md5(random()::text) WHERE id = ${id}`)
        break
      default:
        statements.push(
          `WITH d AS (DELETE FROM ${table} WHERE id = ${id} RETURNING id, ver) INSERT INTO ${table}_gone SELECT id, ver FROM d ON CONFLICT (id) DO UPDATE SET ver = excluded.ver`
        )
    }
  }
  return sql.query(`BEGIN; ${statements.join("; ")}; COMMIT`)
}

/** Writes until `stop` is set, pausing `pauseMs` between transactions; returns the number of transactions. */
export const writer = (
  sql: ConnectionShape,
  table: string,
  options: { readonly ids: number; readonly seed: number; readonly pauseMs: number; readonly stop: Ref.Ref<boolean> }
) =>
  Effect.gen(function* () {
    const random = seeded(options.seed)
    let transactions = 0
    while (!(yield* Ref.get(options.stop))) {
      yield* writeOnce(sql, table, options.ids, random)
      transactions++
      if (options.pauseMs > 0) yield* Effect.sleep(options.pauseMs)
    }
    return transactions
  })

/** The table's rows as "id ver v" lines, by id. */
export const rows = (sql: ConnectionShape, table: string) =>
  Effect.map(sql.query(`SELECT id, ver, v FROM ${table} ORDER BY id`), (results) =>
    (results.at(-1)?.rows ?? []).map((row) => row.join(" "))
  )

/**
 * What is wrong with the audit of a target that started empty with its source: per row, an insert must come at
 * version 1 or one after the version it was deleted at, an update one after the last version, a delete at the last
 * version, and nothing may happen to a row that is not there (an upsert applied twice is an UPDATE to the same
 * version; an insert applied twice is an UPDATE too).
 */
export const auditProblems = (sql: ConnectionShape, table: string) =>
  Effect.map(sql.query(`SELECT op, id, ver FROM ${table}_audit ORDER BY seq`), (results) => {
    const problems: Array<string> = []
    const last = new Map<number, { readonly ver: number; readonly present: boolean }>()
    for (const [op, idText, verText] of results.at(-1)?.rows ?? []) {
      const id = Number(idText)
      const ver = Number(verText)
      const before = last.get(id)
      const expected =
        op === "INSERT"
          ? before === undefined
            ? 1
            : before.present
              ? Number.NaN
              : before.ver + 1
          : before === undefined || !before.present
            ? Number.NaN
            : op === "UPDATE"
              ? before.ver + 1
              : before.ver
      if (ver !== expected)
        problems.push(`${op} of row ${id} at version ${ver} after ${JSON.stringify(before ?? null)}`)
      last.set(id, { ver, present: op !== "DELETE" })
    }
    return problems
  })

/** Records every value of the sink progress rows in `<schema>.pgcdc_progress_log` (the progress table must exist). */
export const watchProgress = (sql: ConnectionShape, schema = "public") =>
  sql.query(`
    CREATE TABLE ${schema}.pgcdc_progress_log (seq bigserial PRIMARY KEY, id text NOT NULL, commit_lsn pg_lsn NOT NULL);
    CREATE FUNCTION ${schema}.pgcdc_progress_log() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO ${schema}.pgcdc_progress_log (id, commit_lsn) VALUES (NEW.id, NEW.commit_lsn);
      RETURN NULL;
    END $$;
    CREATE TRIGGER pgcdc_progress_log AFTER INSERT OR UPDATE ON ${schema}.pgcdc_sink_progress
      FOR EACH ROW EXECUTE FUNCTION ${schema}.pgcdc_progress_log()`)

/** Every step of a progress row that did not move forward, and the number of steps seen. */
export const progressProblems = (sql: ConnectionShape, schema = "public") =>
  Effect.map(
    sql.query(
      `SELECT id, commit_lsn::text, lag(commit_lsn) OVER (PARTITION BY id ORDER BY seq)::text, commit_lsn <= lag(commit_lsn) OVER (PARTITION BY id ORDER BY seq) FROM ${schema}.pgcdc_progress_log ORDER BY seq`
    ),
    (results) => {
      const all = results.at(-1)?.rows ?? []
      return {
        steps: all.length,
        problems: all.filter((r) => r[3] === "t").map((r) => `${r[0]}: ${r[2]} then ${r[1]}`)
      }
    }
  )
