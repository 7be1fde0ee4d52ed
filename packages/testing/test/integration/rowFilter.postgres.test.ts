/**
 * The fake server's row filter evaluator against PostgreSQL 18's own: random filters in the language the fake accepts
 * (columns of four types against constants, IS NULL, IN, AND, OR, NOT), evaluated by both on the same rows, must give
 * the same true, false or NULL for every row. PostgreSQL evaluates them with `SELECT (filter) FROM (VALUES ...)` on a
 * server initialised with the C locale, as the embedded test servers are. And the text PostgreSQL prints for a stored
 * filter (`pg_publication_tables.rowfilter`, which an initial snapshot puts in its COPY) is the text the fake prints,
 * which the fake reads back as the same filter.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import pg from "pg"
import { evaluateRowFilter } from "../../src/fake/RowFilter.ts"
import { parseRowFilter } from "../../src/fake/RowFilterParser.ts"
import { rowFilterText } from "../../src/fake/RowFilterText.ts"
import { TestDatabase } from "../../src/TestDatabase.ts"

const INT4 = 23
const INT8 = 20
const TEXT = 25
const BOOL = 16

interface Row {
  readonly id: number | null
  readonly n: bigint | null
  readonly v: string | null
  readonly b: boolean | null
}

const text = fc.oneof(
  fc.constantFrom("", "a", "A", "b", "ab", "Zoë", "é", "😀", "\uffff", "10", "9", " a"),
  fc.string({ maxLength: 4, unit: "grapheme" })
)
const rowArb: fc.Arbitrary<Row> = fc.record({
  id: fc.option(fc.integer({ min: -20, max: 20 }), { freq: 5 }),
  n: fc.option(fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }), { freq: 5 }),
  v: fc.option(text, { freq: 5 }),
  b: fc.option(fc.boolean(), { freq: 5 })
})

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`
const intConst = fc.oneof(
  fc.integer({ min: -25, max: 25 }).map(String),
  fc.constantFrom("0", "-0", "7.5", "-3.25", "NULL")
)
const bigConst = fc.oneof(
  fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }).map(String),
  fc.constantFrom("0", "9007199254740993", "-1.5", "NULL")
)
const textConst = fc.oneof(text.map(quote), fc.constant("NULL"))
const boolConst = fc.constantFrom("true", "false", "NULL")
const op = fc.constantFrom("=", "<>", "!=", "<", "<=", ">", ">=")

/** A comparison, IS [NOT] NULL or [NOT] IN on one column, with constants of the column's type. */
const atom: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(op, intConst).map(([o, c]) => `id ${o} ${c}`),
  fc.tuple(op, bigConst).map(([o, c]) => `n ${o} ${c}`),
  fc.tuple(op, textConst).map(([o, c]) => `v ${o} ${c}`),
  fc.tuple(fc.constantFrom("=", "<>"), boolConst).map(([o, c]) => `b ${o} ${c}`),
  fc.constantFrom("b", "NOT b"),
  fc.tuple(fc.constantFrom("id", "n", "v", "b"), fc.boolean()).map(([c, not]) => `${c} IS ${not ? "NOT " : ""}NULL`),
  fc
    .tuple(fc.boolean(), fc.array(intConst, { minLength: 1, maxLength: 3 }))
    .map(([not, list]) => `id ${not ? "NOT " : ""}IN (${list.join(", ")})`),
  fc
    .tuple(fc.boolean(), fc.array(textConst, { minLength: 1, maxLength: 3 }))
    .map(([not, list]) => `v ${not ? "NOT " : ""}IN (${list.join(", ")})`),
  fc.tuple(op).map(([o]) => `id ${o} id`)
)
const filter: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atom,
    fc.tuple(tie("e"), fc.constantFrom("AND", "OR"), tie("e")).map(([l, o, r]) => `(${l}) ${o} (${r})`),
    tie("e").map((e) => `NOT (${e})`)
  )
})).e

const sqlValue = (value: number | bigint | string | boolean | null, type: string) =>
  value === null ? `NULL::${type}` : typeof value === "string" ? `${quote(value)}::${type}` : `${value}::${type}`

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true, timeout: "120 seconds" })(
  "row filters: the fake against PostgreSQL 18",
  (it) => {
    it.effect("random filters give the same true, false or NULL on the same rows", () =>
      Effect.gen(function* () {
        const db = yield* TestDatabase
        const client = new pg.Client({ connectionString: db.url })
        yield* Effect.promise(() => client.connect())
        yield* Effect.addFinalizer(() => Effect.promise(() => client.end()))
        const samples = fc.sample(fc.tuple(filter, fc.array(rowArb, { minLength: 1, maxLength: 8 })), {
          numRuns: 300,
          seed: 20261121
        })
        let compared = 0
        for (const [expression, rows] of samples) {
          const values = rows
            .map(
              (r, i) =>
                `(${i}, ${sqlValue(r.id, "int4")}, ${sqlValue(r.n, "int8")}, ${sqlValue(r.v, "text")}, ${sqlValue(r.b, "bool")})`
            )
            .join(", ")
          const result = yield* Effect.promise(() =>
            client.query<{ r: boolean | null }>(
              `SELECT (${expression}) AS r FROM (VALUES ${values}) AS t(ord, id, n, v, b) ORDER BY ord`
            )
          )
          const parsed = parseRowFilter(expression)
          rows.forEach((r, i) => {
            const columns: Record<string, { text: string | null; typeOid: number }> = {
              id: { text: r.id === null ? null : String(r.id), typeOid: INT4 },
              n: { text: r.n === null ? null : String(r.n), typeOid: INT8 },
              v: { text: r.v, typeOid: TEXT },
              b: { text: r.b === null ? null : r.b ? "t" : "f", typeOid: BOOL }
            }
            const ours = evaluateRowFilter(parsed, (name) => columns[name])
            assert.strictEqual(
              ours,
              result.rows[i]!.r,
              `${expression} on ${JSON.stringify(r, (_k, x) => (typeof x === "bigint" ? String(x) : x))}`
            )
            compared++
          })
        }
        assert.isAbove(compared, 300)
      }).pipe(Effect.scoped)
    )

    it.effect(
      "random filters print as PostgreSQL prints them (pg_publication_tables.rowfilter), and read back the same",
      () =>
        Effect.gen(function* () {
          const db = yield* TestDatabase
          const client = new pg.Client({ connectionString: db.url })
          yield* Effect.promise(() => client.connect())
          yield* Effect.addFinalizer(() => Effect.promise(() => client.end()))
          yield* Effect.promise(() =>
            client.query(
              "CREATE TABLE filtered (id int4 PRIMARY KEY, n int8, v text, b bool, nu numeric, f float8, vc varchar(10))"
            )
          )
          const types: Record<string, number> = { id: INT4, n: INT8, v: TEXT, b: BOOL, nu: 1700, f: 701, vc: 1043 }
          const extra = fc.oneof(
            fc.tuple(op, fc.oneof(intConst, fc.constantFrom("2.5", "-7.25"))).map(([o, c]) => `nu ${o} ${c}`),
            fc.tuple(op, fc.oneof(intConst, fc.constantFrom("2.5", "-1e3"))).map(([o, c]) => `f ${o} ${c}`),
            fc.tuple(op, textConst).map(([o, c]) => `vc ${o} ${c}`),
            fc
              .tuple(fc.boolean(), fc.array(bigConst, { minLength: 1, maxLength: 3 }))
              .map(([not, list]) => `n ${not ? "NOT " : ""}IN (${list.join(", ")})`),
            fc.constantFrom("id IN (1, n, 2)", "v NOT IN ('a', v)", "id IN (n)", "NOT b AND (b OR id > 3) AND id < 9")
          )
          const samples = fc.sample(fc.oneof(filter, extra), { numRuns: 400, seed: 20261206 })
          const mismatches: Array<string> = []
          let printedCount = 0
          for (const [i, expression] of samples.entries()) {
            const created = yield* Effect.promise(() =>
              client
                .query(`CREATE PUBLICATION printed_${i} FOR TABLE filtered WHERE (${expression})`)
                .then(() => true)
                .catch(() => false)
            )
            // PostgreSQL refuses some filters the fake would take (e.g. a constant compared with a constant).
            if (!created) continue
            const printed = yield* Effect.promise(() =>
              client.query<{ rowfilter: string }>(
                `SELECT rowfilter FROM pg_publication_tables WHERE pubname = 'printed_${i}'`
              )
            )
            yield* Effect.promise(() => client.query(`DROP PUBLICATION printed_${i}`))
            const theirs = printed.rows[0]!.rowfilter
            printedCount++
            const ours = rowFilterText(parseRowFilter(expression), (name) => types[name])
            if (ours !== theirs) mismatches.push(`${expression}\n  PostgreSQL: ${theirs}\n  fake:       ${ours}`)
            // What PostgreSQL prints, the fake reads as the same filter: it prints it back the same way.
            assert.strictEqual(
              rowFilterText(parseRowFilter(theirs), (name) => types[name]),
              theirs,
              expression
            )
          }
          assert.deepStrictEqual(mismatches, [])
          assert.isAbove(printedCount, 300)
        }).pipe(Effect.scoped)
    )
  }
)
