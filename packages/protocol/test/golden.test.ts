/**
 * Golden tests: pgoutput bytes captured from real PostgreSQL 14 to 18 (scripts/capture-pgoutput-fixtures.ts).
 *
 * Every line of every fixture must decode (with the stream context tracked the way a client tracks it), re-encode
 * to the same bytes, and survive the XLogData wrapping; each scenario then asserts the values PostgreSQL sent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { existsSync, readdirSync } from "node:fs"
import * as path from "node:path"
import * as Lsn from "../src/Lsn.ts"
import { encodePgoutputToBytes, unsafeDecodePgoutput } from "../src/pgoutput/PgoutputCodec.ts"
import type * as M from "../src/pgoutput/PgoutputMessage.ts"
import { UnchangedToast } from "../src/pgoutput/TupleData.ts"
import * as Timestamp from "../src/Timestamp.ts"
import { decodeReplication, encodeReplicationToBytes } from "../src/replication/ReplicationMessage.ts"
import { type Fixture, fixturePath, loadFixture } from "./fixtures/loadFixture.ts"

const majors = [14, 15, 16, 17, 18] as const
const utf8 = new TextEncoder()

const ofTag = <T extends M.PgoutputTag>(f: Fixture, tag: T): Array<Extract<M.PgoutputMessage, { _tag: T }>> =>
  f.lines.map((l) => l.message).filter((m): m is Extract<M.PgoutputMessage, { _tag: T }> => m._tag === tag)

const tags = (f: Fixture): Array<string> => [...new Set(f.lines.map((l) => l.message._tag))].sort()

const relation = (f: Fixture, name: string): M.Relation => {
  const r = ofTag(f, "Relation").find((m) => m.relationName === name)
  if (r === undefined) throw new Error(`no Relation ${name} in ${f.name}`)
  return r
}

describe("golden fixtures: every captured message", () => {
  for (const major of majors) {
    const dir = path.dirname(fixturePath(major, "x"))
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".hex")) : []
    it(`pg${major}: fixtures exist`, () => {
      assert.includeMembers(files, ["dml.hex", "messages.hex", "origin.hex", "binary.hex", "streamed.hex"])
    })
    for (const file of files) {
      it(`pg${major}/${file}: decodes, re-encodes to the same bytes, and survives XLogData wrapping`, () => {
        const f = loadFixture(major, file.replace(/\.hex$/, ""))
        assert.isAbove(f.lines.length, 0)
        for (const line of f.lines) {
          assert.deepStrictEqual(encodePgoutputToBytes(line.message, line.options), line.bytes)
          const wrapped = encodeReplicationToBytes({
            _tag: "XLogData",
            walStart: line.lsn,
            walEnd: line.lsn,
            serverTime: 0n,
            data: line.bytes
          })
          const x = Result.getOrThrow(decodeReplication(wrapped))
          assert.strictEqual(x._tag, "XLogData")
          if (x._tag !== "XLogData") continue
          assert.strictEqual(x.walStart, line.lsn)
          assert.deepStrictEqual(unsafeDecodePgoutput(x.data, line.options), line.message)
        }
      })
    }
  }
})

describe.each(majors)("golden fixtures: PostgreSQL %i", (major) => {
  it("dml: Relation, Type, Insert, Update (plain, 'K', 'O', unchanged TOAST), Delete ('K', 'O'), Truncate", () => {
    const f = loadFixture(major, "dml")
    assert.strictEqual(f.protoVersion, 1)
    assert.deepStrictEqual(tags(f), ["Begin", "Commit", "Delete", "Insert", "Relation", "Truncate", "Type", "Update"])
    const items = relation(f, "items")
    assert.strictEqual(items.namespace, "public")
    assert.strictEqual(items.replicaIdentity, "d")
    assert.deepStrictEqual(
      items.columns.map((c) => c.name),
      ["id", "name", "big", "feeling", "qty", "payload", "at", "price"]
    )
    assert.deepStrictEqual(items.columns[0], { flags: 1, name: "id", typeOid: 23, typeModifier: -1 })
    // numeric(10,2): typmod is ((10 << 16) | 2) + 4.
    assert.deepStrictEqual(items.columns[7], { flags: 0, name: "price", typeOid: 1700, typeModifier: 655366 })
    const types = ofTag(f, "Type")
    const mood = types.find((t) => t.typeName === "mood")
    assert.strictEqual(mood?.namespace, "public")
    assert.strictEqual(mood?.typeOid, items.columns[3]!.typeOid)
    // The domain column gets a Type message under the domain's OID, named after its base type.
    const domain = types.find((t) => t.typeOid === items.columns[4]!.typeOid)
    assert.deepStrictEqual(domain && { namespace: domain.namespace, typeName: domain.typeName }, {
      namespace: "",
      typeName: "int4"
    })

    const inserts = ofTag(f, "Insert").filter((m) => m.relationId === items.relationId)
    assert.deepStrictEqual(inserts[0]!.newTuple, [
      "1",
      "alpha",
      "x".repeat(5000),
      "happy",
      "7",
      "\\x00ff",
      "2024-02-29 12:34:56.789012+00",
      "12.50"
    ])
    assert.deepStrictEqual(inserts[1]!.newTuple, ["2", "béta ✓", null, null, null, null, null, null])
    assert.isTrue(inserts.every((m) => m.xid === undefined))

    const [toast, keyChange, fullUpdate] = ofTag(f, "Update")
    assert.strictEqual(toast!.key, undefined)
    assert.strictEqual(toast!.old, undefined)
    assert.strictEqual(toast!.newTuple[1], "alpha2")
    assert.strictEqual(toast!.newTuple[2], UnchangedToast, "an untouched TOASTed column is marked, never null")
    assert.deepStrictEqual(keyChange!.key, ["2", null, null, null, null, null, null, null])
    assert.strictEqual(keyChange!.newTuple[0], "3")
    const fullRows = relation(f, "full_rows")
    assert.strictEqual(fullRows.replicaIdentity, "f")
    assert.isTrue(fullRows.columns.every((c) => c.flags === 1))
    assert.strictEqual(fullUpdate!.relationId, fullRows.relationId)
    assert.deepStrictEqual(fullUpdate!.old, ["1", "one"])
    assert.deepStrictEqual(fullUpdate!.newTuple, ["1", "uno"])

    const [deleteKey, deleteOld] = ofTag(f, "Delete")
    assert.deepStrictEqual(deleteKey!.key, ["3", null, null, null, null, null, null, null])
    assert.strictEqual(deleteKey!.old, undefined)
    assert.deepStrictEqual(deleteOld!.old, ["2", null])
    assert.strictEqual(deleteOld!.key, undefined)

    const [both, one] = ofTag(f, "Truncate")
    assert.deepStrictEqual(both, {
      _tag: "Truncate",
      xid: undefined,
      cascade: true,
      restartIdentity: true,
      relationIds: [relation(f, "trunc_a").relationId, relation(f, "trunc_b").relationId]
    })
    assert.deepStrictEqual(one, {
      _tag: "Truncate",
      xid: undefined,
      cascade: false,
      restartIdentity: false,
      relationIds: [fullRows.relationId]
    })

    // Every transaction is framed Begin ... Commit with matching LSNs and times.
    const begins = ofTag(f, "Begin")
    const commits = ofTag(f, "Commit")
    assert.strictEqual(begins.length, commits.length)
    begins.forEach((b, i) => {
      assert.strictEqual(commits[i]!.commitLsn, b.finalLsn)
      assert.strictEqual(commits[i]!.commitTime, b.commitTime)
      assert.isTrue(commits[i]!.endLsn > commits[i]!.commitLsn)
      assert.isTrue(Timestamp.isFiniteTime(b.commitTime))
    })
  })

  it("messages: transactional and non-transactional logical messages", () => {
    const f = loadFixture(major, "messages")
    const messages = ofTag(f, "Message")
    assert.deepStrictEqual(
      messages.map((m) => [m.transactional, m.prefix]),
      [
        [true, "txn-prefix"],
        [false, "plain-prefix"],
        [true, "in-txn"]
      ]
    )
    assert.deepStrictEqual(messages[0]!.content, utf8.encode("transactional content"))
    assert.deepStrictEqual(messages[1]!.content, new Uint8Array([0x00, 0xff, 0x10]))
    // The non-transactional message arrives on its own, outside any Begin/Commit.
    const i = f.lines.findIndex((l) => l.message._tag === "Message" && !l.message.transactional)
    assert.strictEqual(f.lines[i - 1]!.message._tag, "Commit")
    assert.strictEqual(f.lines[i + 1]!.message._tag, "Begin")
    assert.isTrue(messages.every((m) => m.xid === undefined))
  })

  it("origin: Origin after Begin, with the origin's name and commit LSN", () => {
    const f = loadFixture(major, "origin")
    assert.strictEqual(f.lines[0]!.message._tag, "Begin")
    assert.deepStrictEqual(f.lines[1]!.message, {
      _tag: "Origin",
      commitLsn: Lsn.unsafeParse("0/ABCDEF"),
      name: "upstream"
    })
    const begin = ofTag(f, "Begin")[0]!
    // pg_replication_origin_xact_setup's timestamp becomes the transaction's commit time.
    assert.strictEqual(Timestamp.format(begin.commitTime), "2024-01-01T00:00:00.000000Z")
  })

  it("binary: columns in the binary format are byte copies", () => {
    const f = loadFixture(major, "binary")
    const [insert] = ofTag(f, "Insert")
    const tuple = insert!.newTuple
    assert.isTrue(tuple.every((v) => v instanceof Uint8Array))
    assert.deepStrictEqual(tuple[0], new Uint8Array([0, 0, 0, 30]))
    assert.deepStrictEqual(tuple[1], utf8.encode("bin"))
    assert.deepStrictEqual(tuple[5], new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
    // timestamptz '2000-01-01 00:00:00+00' is Timestamp 0.
    assert.deepStrictEqual(tuple[6], new Uint8Array(8))
    const [update] = ofTag(f, "Update")
    assert.deepStrictEqual(update!.newTuple[4], new Uint8Array([0, 0, 0, 6]))
  })

  it("streamed: StreamStart/Stop segments, xids on the streamed messages, StreamCommit and StreamAbort", () => {
    const f = loadFixture(major, "streamed")
    assert.strictEqual(f.protoVersion, major >= 16 ? 4 : 2)
    assert.includeMembers(tags(f), [
      "Insert",
      "Message",
      "Relation",
      "StreamAbort",
      "StreamCommit",
      "StreamStart",
      "StreamStop",
      "Truncate",
      "Type"
    ])
    assert.notInclude(tags(f), "Begin")
    // Inside a stream every xid-bearing message carries an xid; there is nothing outside one but control messages.
    let current: number | undefined
    for (const { message: m } of f.lines) {
      if (m._tag === "StreamStart") current = m.xid
      else if (m._tag === "StreamStop") current = undefined
      else if ("xid" in m && (m._tag === "Insert" || m._tag === "Relation" || m._tag === "Type")) {
        assert.isDefined(current)
        assert.isDefined(m.xid)
      }
    }
    const starts = ofTag(f, "StreamStart")
    const [firstCommit, secondCommit] = ofTag(f, "StreamCommit")
    assert.deepStrictEqual(starts[0], { _tag: "StreamStart", xid: firstCommit!.xid, firstSegment: true })
    assert.isTrue(starts.filter((s) => s.xid === firstCommit!.xid).length > 1, "the transaction spans segments")
    assert.isTrue(starts.slice(1).some((s) => !s.firstSegment))
    const message = ofTag(f, "Message")[0]!
    assert.deepStrictEqual(
      { xid: message.xid, transactional: message.transactional, prefix: message.prefix },
      { xid: firstCommit!.xid, transactional: true, prefix: "streamed" }
    )
    const truncate = ofTag(f, "Truncate")[0]!
    assert.strictEqual(truncate.xid, firstCommit!.xid)
    assert.isTrue(truncate.cascade)
    const bulk = ofTag(f, "Insert").filter((m) => m.xid === firstCommit!.xid)
    assert.strictEqual(bulk.length, 400)
    assert.deepStrictEqual(bulk[0]!.newTuple.slice(0, 1), ["1"])

    const aborts = ofTag(f, "StreamAbort")
    // The savepoint rolled back inside the second transaction: the subtransaction's xid, no parallel fields.
    assert.deepStrictEqual(aborts[0]!.xid, secondCommit!.xid)
    assert.notStrictEqual(aborts[0]!.subXid, aborts[0]!.xid)
    assert.strictEqual(aborts[0]!.abortLsn, undefined)
    assert.strictEqual(aborts[0]!.abortTime, undefined)
    if (major < 18) {
      // The whole third transaction aborted after being streamed: subXid equals xid. (PostgreSQL 18 finds the
      // abort in the clog before streaming, because the SQL interface decodes after the fact, and skips it.)
      assert.strictEqual(aborts.length, 2)
      assert.strictEqual(aborts[1]!.subXid, aborts[1]!.xid)
    }
  })

  if (major >= 16) {
    it("streamed-parallel: protocol 4 StreamAbort carries the abort LSN and time", () => {
      const f = loadFixture(major, "streamed-parallel")
      assert.strictEqual(f.protoVersion, 4)
      assert.strictEqual(f.streaming, "parallel")
      const [abort] = ofTag(f, "StreamAbort")
      assert.isDefined(abort!.abortLsn)
      assert.isDefined(abort!.abortTime)
      const commit = ofTag(f, "StreamCommit").find((c) => c.xid === abort!.xid)!
      assert.isTrue(abort!.abortLsn! < commit.commitLsn)
      assert.isTrue(abort!.abortTime! <= commit.commitTime)
      // The same bytes read without the parallel option leave the abort fields unread: the options matter.
      const line = f.lines.find((l) => l.message._tag === "StreamAbort")!
      assert.throws(() => unsafeDecodePgoutput(line.bytes, { ...line.options, streaming: "on" }), /TrailingBytes/)
    })
  }

  if (major >= 15) {
    it("two-phase: BeginPrepare, Prepare, CommitPrepared, RollbackPrepared", () => {
      const f = loadFixture(major, "two-phase")
      assert.strictEqual(f.protoVersion, 3)
      assert.deepStrictEqual(tags(f), [
        "BeginPrepare",
        "CommitPrepared",
        "Insert",
        "Prepare",
        "Relation",
        "RollbackPrepared",
        "Type"
      ])
      const [bp1, bp2] = ofTag(f, "BeginPrepare")
      const [p1, p2] = ofTag(f, "Prepare")
      assert.strictEqual(bp1!.gid, "gid-commit")
      assert.deepStrictEqual(
        [p1!.gid, p1!.xid, p1!.prepareLsn, p1!.endLsn],
        [bp1!.gid, bp1!.xid, bp1!.prepareLsn, bp1!.endLsn]
      )
      const [cp] = ofTag(f, "CommitPrepared")
      assert.deepStrictEqual([cp!.gid, cp!.xid], ["gid-commit", bp1!.xid])
      assert.strictEqual(cp!.commitLsn, p1!.endLsn)
      const [rp] = ofTag(f, "RollbackPrepared")
      assert.deepStrictEqual([rp!.gid, rp!.xid], ["gid-rollback", bp2!.xid])
      assert.strictEqual(rp!.prepareEndLsn, p2!.endLsn)
      assert.strictEqual(rp!.prepareTime, p2!.prepareTime)
      assert.isTrue(rp!.rollbackEndLsn > rp!.prepareEndLsn)
    })

    it("two-phase-streamed: a streamed transaction prepared with StreamPrepare, then committed", () => {
      const f = loadFixture(major, "two-phase-streamed")
      const [sp] = ofTag(f, "StreamPrepare")
      const [cp] = ofTag(f, "CommitPrepared")
      assert.strictEqual(sp!.gid, "gid-streamed")
      assert.strictEqual(ofTag(f, "StreamStart")[0]!.xid, sp!.xid)
      assert.deepStrictEqual([cp!.gid, cp!.xid, cp!.commitLsn], [sp!.gid, sp!.xid, sp!.endLsn])
      assert.strictEqual(ofTag(f, "Insert").length, 400)
    })
  }
})
