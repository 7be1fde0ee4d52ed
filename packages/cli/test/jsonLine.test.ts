/**
 * The JSON form of messages that the integration workloads do not produce: logical decoding messages, truncates,
 * values JSON cannot hold as numbers, and the snapshot's messages (tables by name, the consistent point as an LSN).
 */
import { assert, describe, it } from "@effect/vitest"
import { Lsn, type Table, type WalMessage } from "@pgcdc/replication"
import { toJson } from "../src/JsonLine.ts"

const table: Table = {
  relationId: 1,
  schema: "app",
  name: "t",
  replicaIdentity: "f",
  columns: [{ name: "id", typeOid: 20, typeModifier: -1, isKey: true }]
}
const at = { walStart: Lsn.unsafeParse("1/A0"), walEnd: Lsn.unsafeParse("1/B0") }

describe("JSON lines", () => {
  it("formats logical decoding messages and truncates", () => {
    const message: WalMessage = {
      _tag: "Message",
      xid: undefined,
      transactional: false,
      lsn: Lsn.unsafeParse("1/9F"),
      prefix: "app",
      content: new Uint8Array([0, 255, 16]),
      ...at
    }
    assert.deepStrictEqual(toJson(message), {
      _tag: "Message",
      transactional: false,
      lsn: "1/9F",
      prefix: "app",
      content: "00ff10",
      walStart: "1/A0",
      walEnd: "1/B0"
    })
    const truncate: WalMessage = {
      _tag: "Truncate",
      xid: 7,
      cascade: true,
      restartIdentity: false,
      tables: [table],
      ...at
    }
    assert.deepStrictEqual(toJson(truncate), {
      _tag: "Truncate",
      xid: 7,
      cascade: true,
      restartIdentity: false,
      walStart: "1/A0",
      walEnd: "1/B0",
      tables: [{ schema: "app", table: "t" }]
    })
  })

  it("keeps SQL NULL, non-finite floats and int8 apart from what JSON would make of them", () => {
    const insert: WalMessage = {
      _tag: "Insert",
      xid: undefined,
      table,
      new: { id: 2n ** 63n - 1n, missing: null, f: Number.NEGATIVE_INFINITY },
      ...at
    }
    assert.deepStrictEqual(toJson(insert).new, { id: "9223372036854775807", missing: null, f: "-Infinity" })
  })

  it("names the snapshot's tables like row changes, and prints its consistent point as an LSN", () => {
    const read: WalMessage = { _tag: "Read", table, new: { id: 9007199254740993n }, ...at }
    assert.deepStrictEqual(toJson(read), {
      _tag: "Read",
      walStart: "1/A0",
      walEnd: "1/B0",
      schema: "app",
      table: "t",
      new: { id: "9007199254740993" }
    })
    const begin: WalMessage = { _tag: "SnapshotBegin", table, estimatedRows: -1, ...at }
    assert.deepStrictEqual(toJson(begin), {
      _tag: "SnapshotBegin",
      schema: "app",
      table: "t",
      estimatedRows: -1,
      walStart: "1/A0",
      walEnd: "1/B0"
    })
    const complete: WalMessage = {
      _tag: "SnapshotComplete",
      consistentPoint: Lsn.unsafeParse("1/A0"),
      tables: 1,
      rows: 1,
      ...at
    }
    assert.strictEqual(toJson(complete).consistentPoint, "1/A0")
  })
})
