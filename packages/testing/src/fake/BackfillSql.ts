/**
 * The statements of a pgcdc backfill (`@pgcdc/replication`'s internal/backfill), each tagged with a
 * `/* pgcdc:backfill-... *\/` comment, answered with the columns, types, command tags and errors PostgreSQL 14 to 18
 * give (compared in test/integration/fakeBackfill.postgres.test.ts):
 *
 * - `backfill-exists`: `(to_regclass('<table>') IS NOT NULL)::text`, whether the progress table exists;
 * - `backfill-table`: `CREATE TABLE IF NOT EXISTS <schema>.pgcdc_backfills (...)`, a real fake table (TableWrite.ts):
 *   published and streamed like any other, read by COPY;
 * - `backfill-insert` and `backfill-progress`: its INSERT and UPDATEs, committed at once (or with the open block);
 * - `backfill-running`: `SELECT id, ..., array_to_json(after_key)::text FROM ... WHERE ... ORDER BY started_at`
 *   (TableRead.ts);
 * - `backfill-key`: the primary key's columns of a table by OID (`pg_index` / `pg_attribute`): the fake's key columns,
 *   in table order (the fake has no other primary key order);
 * - `backfill-watermark`: `pg_logical_emit_message(true, 'pgcdc.backfill', ...)` (Writes.ts).
 *
 * The chunks themselves are COPYs (Copy.ts). A tagged statement of another shape is 0A000 naming the tag, so a
 * changed library query is an error, not a wrong answer. It deliberately answers nothing untagged.
 */
import type { FakeServer } from "./FakeServer.ts"
import { error, field, NAME, type Outcome, rows, TEXT } from "./Outcome.ts"
import { relationName, stringLiteral } from "./SqlText.ts"
import { type SelectExpressions, selectRows } from "./TableRead.ts"
import { createTable, insertRow, updateRows } from "./TableWrite.ts"
import { arrayToJson } from "./TextValues.ts"
import { readView, type SqlSessionState } from "./Transaction.ts"
import { executeEmitMessage } from "./Writes.ts"

const TEXT_ARRAY = 1009

/** `array_to_json(<text[] column>)::text`, the one expression the progress query reads besides columns. */
const progressExpressions: SelectExpressions = {
  "array_to_json(_)::text": (table, column) =>
    table.columns.find((c) => c.name === column)?.typeOid !== TEXT_ARRAY
      ? undefined
      : {
          name: "array_to_json",
          typeOid: TEXT,
          value: (row) => {
            const v = row[column]
            return typeof v === "string" ? (arrayToJson(v) ?? null) : null
          }
        }
}

const exists = /^select\s+\(\s*to_regclass\s*\(\s*(E?'(?:[^']|'')*')\s*\)\s+is\s+not\s+null\s*\)\s*::\s*text$/is

/** Answers a tagged backfill statement; undefined when `sql` carries no backfill tag. */
export const executeBackfillSql = (server: FakeServer, state: SqlSessionState, sql: string): Outcome | undefined => {
  const tag = /\/\*\s*pgcdc:(backfill-[a-z-]+)\s*\*\//.exec(sql)?.[1]
  if (tag === undefined) return undefined
  const text = sql.replace(/\/\*.*?\*\//gs, " ").trim()
  const cannot = (): Outcome =>
    error("0A000", `the pgcdc fake server cannot read this pgcdc:${tag} statement: ${text.slice(0, 120)}`, {
      hint: "The fake answers the backfill statements of the @pgcdc/replication version it ships with."
    })
  switch (tag) {
    case "backfill-exists": {
      const m = exists.exec(text)
      const name = m === null ? undefined : stringLiteral(m[1]!)
      if (name === undefined) return cannot()
      const relation = relationName(name)
      const found = readView(server, state).tables.has(`${relation.schema}.${relation.name}`)
      return rows([field("text", TEXT)], [[String(found)]], "SELECT 1")
    }
    case "backfill-table":
      return createTable(server, text) ?? cannot()
    case "backfill-insert":
      return insertRow(server, state, readView(server, state), text) ?? cannot()
    case "backfill-progress":
      return updateRows(server, state, readView(server, state), text) ?? cannot()
    case "backfill-running": {
      const selection = selectRows(readView(server, state), text, progressExpressions)
      if ("_tag" in selection) {
        return selection._tag === "Error" && selection.error.code === "0A000"
          ? error("0A000", `${selection.error.message} (a pgcdc:${tag} statement)`, {
              hint: "The fake answers the backfill statements of the @pgcdc/replication version it ships with."
            })
          : selection
      }
      return rows(
        selection.outputs.map((o) => field(o.name, o.typeOid)),
        selection.rows.map((row) =>
          selection.outputs.map((o) => {
            const v = o.value(row)
            return typeof v === "string" ? v : null
          })
        ),
        `SELECT ${selection.rows.length}`
      )
    }
    case "backfill-key": {
      const oid = /\bi\.indrelid\s*=\s*(\d+)\s+and\s+i\.indisprimary\b/i.exec(text)?.[1]
      if (oid === undefined || !/^select\s+a\.attname\s+from\s+pg_index\b/i.test(text)) return cannot()
      const table = [...readView(server, state).tables.values()].find((t) => t.relationId === Number(oid))
      const keys = table?.columns.filter((c) => c.key === true).map((c) => [c.name]) ?? []
      return rows([field("attname", NAME)], keys, `SELECT ${keys.length}`)
    }
    case "backfill-watermark":
      return executeEmitMessage(server, state, text) ?? cannot()
    default:
      return cannot()
  }
}
