/**
 * The shared conformance suite (src/conformance) against the fake server and against real PostgreSQL 18: the same
 * cases, the same expectations (and on the fake as PostgreSQL 14, the cases whose answer depends on the version; on a
 * real 14, the snapshot gone before its import, which 14 reports with another SQLSTATE). The fake runs under TestClock
 * (it needs no time); PostgreSQL with the live clock and a small logical_decoding_work_mem so that the large
 * transaction is streamed.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { Conformance } from "../../src/conformance/Conformance.ts"
import { backfillCases } from "../../src/conformance/BackfillCases.ts"
import { heartbeatCases } from "../../src/conformance/HeartbeatCases.ts"
import { snapshotCases, snapshotImportLostCase } from "../../src/conformance/SnapshotCases.ts"
import * as FakeBackend from "../../src/simulation/FakeBackend.ts"
import * as PostgresBackend from "../../src/simulation/PostgresBackend.ts"
import { TestDatabase } from "../../src/TestDatabase.ts"
import * as TestLogger from "../../src/TestLogger.ts"

describe("conformance: the fake server", () => {
  for (const c of Conformance.cases) {
    it.effect(c.name, () => Effect.flatMap(FakeBackend.make(), c.run).pipe(Effect.scoped))
  }
  it.effect("on the fake as PostgreSQL 14, the empty transaction arrives as Begin/Commit", () =>
    Effect.flatMap(FakeBackend.make({ serverVersion: "14.13" }), Conformance.cases[0]!.run).pipe(Effect.scoped)
  )
  for (const c of [...snapshotCases, ...backfillCases, ...heartbeatCases]) {
    it.effect(`on the fake as PostgreSQL 14: ${c.name}`, () =>
      Effect.flatMap(FakeBackend.make({ serverVersion: "14.13" }), c.run).pipe(Effect.scoped)
    )
  }
})

layer(TestDatabase.layer({ major: 18, settings: { logical_decoding_work_mem: "64kB" } }), {
  excludeTestServices: true,
  timeout: "120 seconds"
})("conformance: PostgreSQL 18", (it) => {
  for (const c of Conformance.cases) {
    it.effect(c.name, () => {
      // A case that drops the connection makes the service log its reconnect: kept, and the only warning allowed.
      const logs = TestLogger.make()
      return Effect.gen(function* () {
        const backend = yield* PostgresBackend.fromDatabase(yield* TestDatabase)
        assert.strictEqual(Math.floor(backend.serverVersion / 10000), 18)
        yield* c.run(backend)
        assert.deepStrictEqual(TestLogger.unexpectedWarnings(logs), [])
      }).pipe(Effect.scoped, TestLogger.provide(logs))
    })
  }
})

// The snapshot that is gone before its import is reported with another SQLSTATE before 17 (22023): a real 14 too.
layer(TestDatabase.layer({ major: 14 }), { excludeTestServices: true, timeout: "120 seconds" })(
  "conformance: PostgreSQL 14",
  (it) => {
    it.effect(snapshotImportLostCase.name, () =>
      Effect.gen(function* () {
        const backend = yield* PostgresBackend.fromDatabase(yield* TestDatabase)
        assert.strictEqual(Math.floor(backend.serverVersion / 10000), 14)
        yield* snapshotImportLostCase.run(backend)
      }).pipe(Effect.scoped)
    )
  }
)
