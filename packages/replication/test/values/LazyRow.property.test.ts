// Lazy rows (values: "lazy") must give exactly the eager rows' values, whichever columns are read first and however
// the row is looked at (property access, keys, spread, JSON, deep equality); a value the eager path
// cannot decode fails, with the same error, when its column is read.
process.env.TZ = "America/St_Johns"

import { type PgoutputMessage, UnchangedToast } from "@pgcdc/protocol"
import fc from "fast-check"
import { assert, describe, expect, it } from "vitest"
import { WalDecoder } from "../../src/internal/decoder/WalDecoder.ts"
import { ReplicationError } from "../../src/ReplicationError.ts"
import { TypeOid } from "../../src/values/index.ts"
import type { Row, WalMessage } from "../../src/WalMessage.ts"
import { relationOf, scenario, xlog } from "../rowScenario.ts"

type Outcome = { readonly ok: WalMessage } | { readonly error: unknown }
const run = (f: () => WalMessage): Outcome => {
  try {
    return { ok: f() }
  } catch (error) {
    return { error }
  }
}

const rowsOf = (m: WalMessage): ReadonlyArray<Row> => {
  switch (m._tag) {
    case "Insert":
      return [m.new]
    case "Update":
      return [m.key, m.old, m.new].filter((r): r is Row => r !== undefined)
    case "Delete":
      return [m.key, m.old].filter((r): r is Row => r !== undefined)
    default:
      return []
  }
}

/** Every column of every row, read in the given order first; what reading threw, if anything. */
const readAll = (m: WalMessage, order: ReadonlyArray<number>): unknown => {
  try {
    for (const row of rowsOf(m)) {
      const names = Object.keys(row)
      for (const i of order) if (i < names.length) void row[names[i]!]
      for (const name of names) void row[name]
    }
    return undefined
  } catch (error) {
    return error
  }
}

const json = (v: unknown) =>
  JSON.stringify(v, (_, x: unknown) =>
    typeof x === "bigint" ? `${x}n` : x === UnchangedToast ? "[toast]" : x instanceof Uint8Array ? [...x] : x
  )

/** A structured clone, or why there is none (unchanged TOAST is a symbol, which cannot be cloned). */
const clone = (v: unknown): unknown => {
  try {
    return structuredClone(v)
  } catch (e) {
    return String(e)
  }
}

describe("lazy rows", () => {
  it("give the eager rows' values, in any reading order; undecodable values fail when read, as eagerly", () => {
    fc.assert(
      fc.property(
        scenario,
        fc.array(fc.nat({ max: 6 }), { maxLength: 4 }),
        ({ columns, replicaIdentity, changes }, order) => {
          // PostgreSQL's columns have distinct names (with two of one name, a row shows only the last).
          const distinct = columns.map((c, i) =>
            columns.findIndex((d) => d.name === c.name) === i ? c : { ...c, name: `${c.name}${i}` }
          )
          const relation = relationOf(distinct, replicaIdentity)
          const eager = new WalDecoder({ protoVersion: 1 })
          const lazy = new WalDecoder({ protoVersion: 1, lazyValues: true })
          for (const [i, m] of [relation, ...changes].entries()) {
            const x = xlog(m, 100 + i)
            const e = run(() => eager.unsafeDecode(x))
            const l = run(() => lazy.unsafeDecode(x))
            if ("error" in l) {
              // Lazy decoding reads no values: what fails it fails the eager decoder the same way.
              expect(e).toStrictEqual(l)
              continue
            }
            // With an undecodable value, columns are read in order: the eager decoder reports the first.
            const thrown = readAll(l.ok, "error" in e ? [] : order)
            if ("error" in e) {
              // The message itself was fine: only a value was not, and reading it throws.
              assert.instanceOf(thrown, ReplicationError)
              assert.instanceOf(e.error, ReplicationError)
              if ((e.error as ReplicationError).reason._tag === "Decode") {
                assert.strictEqual((thrown as ReplicationError).message, (e.error as ReplicationError).message)
              }
              continue
            }
            assert.isUndefined(thrown)
            expect(l.ok).toStrictEqual(e.ok)
            const lazyRows = rowsOf(l.ok)
            const eagerRows = rowsOf(e.ok)
            for (const [k, row] of lazyRows.entries()) {
              const want = eagerRows[k]!
              assert.deepStrictEqual(Object.keys(row), Object.keys(want))
              expect({ ...row }).toStrictEqual(want)
              assert.strictEqual(json(row), json(want))
              expect(clone({ ...row })).toStrictEqual(clone(want))
              for (const name of Object.keys(want)) assert.isTrue(name in row)
            }
          }
        }
      ),
      { numRuns: 1500 }
    )
  })

  it("decode a column once, on its first read, and take assignments", () => {
    const relation: PgoutputMessage = {
      _tag: "Relation",
      xid: undefined,
      relationId: 1,
      namespace: "public",
      relationName: "t",
      replicaIdentity: "d",
      columns: [
        { flags: 1, name: "id", typeOid: TypeOid.int8, typeModifier: -1 },
        { flags: 0, name: "doc", typeOid: TypeOid.jsonb, typeModifier: -1 },
        { flags: 0, name: "__proto__", typeOid: TypeOid.text, typeModifier: -1 }
      ]
    }
    const decoder = new WalDecoder({ protoVersion: 1, lazyValues: true })
    decoder.unsafeDecode(xlog(relation, 1))
    const insert: PgoutputMessage = {
      _tag: "Insert",
      xid: undefined,
      relationId: 1,
      newTuple: ["12", '{"a": [1, 2]}', "p"]
    }
    const m = decoder.unsafeDecode(xlog(insert, 2))
    assert.strictEqual(m._tag, "Insert")
    if (m._tag !== "Insert") return
    assert.strictEqual(m.new.id, 12n)
    // The same object on every read: decoded once.
    const doc = m.new.doc
    assert.strictEqual(m.new.doc, doc)
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(m.new, "doc"), {
      value: doc,
      writable: true,
      enumerable: true,
      configurable: true
    })
    assert.strictEqual(Object.getPrototypeOf(m.new), Object.prototype)
    assert.deepStrictEqual(Object.keys(m.new), ["id", "doc", "__proto__"])
    const proto = "__proto__"
    assert.strictEqual(m.new[proto], "p")
    const row = m.new as Record<string, unknown>
    row.id = 13n
    assert.strictEqual(row.id, 13n)
  })
})
