import { Lsn } from "@pgcdc/protocol"
import { Result } from "effect"
import { assert, describe, it } from "vitest"
import * as Publication from "../src/Publication.ts"
import type { ReplicationError } from "../src/ReplicationError.ts"
import * as StartOptions from "../src/internal/startOptions.ts"

const base = { slot: "s1", publications: ["pub"] }

const failure = (r: Result.Result<unknown, ReplicationError>): ReplicationError => {
  assert.isTrue(Result.isFailure(r))
  return (r as Result.Failure<unknown, ReplicationError>).failure
}

const throws = (f: () => unknown): ReplicationError => {
  try {
    f()
  } catch (e) {
    return e as ReplicationError
  }
  return assert.fail("expected a ReplicationError")
}

describe("StartOptions", () => {
  it("defaults to the highest protocol version the server speaks", () => {
    assert.deepStrictEqual(Result.getOrThrow(StartOptions.resolve(140012, base)), { protoVersion: 2, streaming: "off" })
    assert.deepStrictEqual(Result.getOrThrow(StartOptions.resolve(150000, base)), { protoVersion: 3, streaming: "off" })
    assert.deepStrictEqual(Result.getOrThrow(StartOptions.resolve(180001, base)), { protoVersion: 4, streaming: "off" })
  })

  it("refuses options the server version cannot honour, naming the version and what to change", () => {
    const cases: ReadonlyArray<readonly [number, Partial<StartOptions.StartOptions>, string]> = [
      [
        140012,
        { protoVersion: 3 },
        "proto_version 3 needs PostgreSQL 15 or later; this server is 14.12. Use protoVersion 2"
      ],
      [150004, { protoVersion: 4 }, "proto_version 4 needs PostgreSQL 16"],
      [150004, { streaming: "parallel" }, 'streaming "parallel" needs PostgreSQL 16'],
      [160000, { protoVersion: 3, streaming: "parallel" }, "needs protoVersion 4"],
      [140012, { twoPhase: true }, "two_phase needs PostgreSQL 15"],
      [150000, { protoVersion: 2, twoPhase: true }, "two_phase needs protoVersion 3"],
      [150000, { origin: "none" }, "origin needs PostgreSQL 16"],
      [140000, { protoVersion: 1, streaming: "on" }, "needs protoVersion 2"],
      [130000, {}, "PostgreSQL 14"],
      [180000, { publications: [] }, "at least one publication"]
    ]
    for (const [version, options, text] of cases) {
      const e = failure(StartOptions.resolve(version, { ...base, ...options }))
      assert.include(e.message, text)
      assert.isFalse(e.isRetryable)
    }
  })

  it("builds START_REPLICATION with quoted names and every option", () => {
    const options = {
      slot: "my_slot",
      publications: ["a", 'we"ird', "o'k"],
      messages: true,
      binary: true,
      streaming: "parallel" as const,
      twoPhase: true,
      origin: "none" as const
    }
    const resolved = Result.getOrThrow(StartOptions.resolve(180000, options))
    assert.strictEqual(
      StartOptions.command(options, resolved, Lsn.unsafeParse("16/B374D848")),
      `START_REPLICATION SLOT "my_slot" LOGICAL 16/B374D848 (proto_version '4', publication_names '"a","we""ird","o''k"', messages 'true', binary 'true', streaming 'parallel', two_phase 'true', origin 'none')`
    )
    assert.strictEqual(
      StartOptions.command(base, { protoVersion: 1, streaming: "off" }, Lsn.zero),
      `START_REPLICATION SLOT "s1" LOGICAL 0/0 (proto_version '1', publication_names '"pub"')`
    )
    assert.strictEqual(
      throws(() => StartOptions.command({ ...base, slot: "Bad-Name" }, resolved, Lsn.zero)).reason._tag,
      "InvalidOption"
    )
    assert.strictEqual(
      throws(() => StartOptions.command({ ...base, publications: [""] }, resolved, Lsn.zero)).reason._tag,
      "InvalidOption"
    )
  })
})

describe("Publication.createCommand", () => {
  it("every target form, publish options, row filters and column lists", () => {
    assert.strictEqual(
      Publication.createCommand("p", { target: { _tag: "AllTables" } }, 140000),
      `CREATE PUBLICATION "p" FOR ALL TABLES`
    )
    assert.strictEqual(
      Publication.createCommand(
        "p",
        {
          target: {
            _tag: "Tables",
            tables: ["t1", { schema: "app", name: "Orders", columns: ["id", "total"], where: "total > 0" }]
          },
          publish: ["insert", "update"],
          publishViaPartitionRoot: true
        },
        150000
      ),
      `CREATE PUBLICATION "p" FOR TABLE "t1", "app"."Orders" ("id", "total") WHERE (total > 0) WITH (publish = 'insert, update', publish_via_partition_root = true)`
    )
    assert.strictEqual(
      Publication.createCommand("p", { target: { _tag: "Schemas", schemas: ["app"], tables: ["public.x"] } }, 160000),
      `CREATE PUBLICATION "p" FOR TABLES IN SCHEMA "app", TABLE "public.x"`
    )
  })

  it("refuses 15+ features on 14 and empty table lists", () => {
    assert.include(
      throws(() => Publication.createCommand("p", { target: { _tag: "Schemas", schemas: ["app"] } }, 140000)).message,
      "PostgreSQL 15"
    )
    const filtered = throws(() =>
      Publication.createCommand("p", { target: { _tag: "Tables", tables: [{ name: "t", where: "x > 1" }] } }, 140000)
    )
    assert.strictEqual(filtered.reason._tag, "UnsupportedOption")
    assert.strictEqual(
      throws(() => Publication.createCommand("p", { target: { _tag: "Tables", tables: [] } }, 180000)).reason._tag,
      "InvalidOption"
    )
  })
})
