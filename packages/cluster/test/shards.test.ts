/**
 * pgcdc's shard count spreads slot names over shards. effect/cluster picks a singleton's shard as a string hash
 * modulo `shardsPerGroup`; with a power of two (32 was the default) that hash keeps only the XOR of the characters'
 * low bits, so names that are permutations of each other always shared a shard, and so a runner.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import {
  EntityId,
  MessageStorage,
  RunnerHealth,
  Runners,
  RunnerStorage,
  Sharding,
  ShardingConfig
} from "effect/cluster"
import { defaults } from "../src/ClusterOptions.ts"

/** An in-memory Sharding with pgcdc's shard count: enough to ask which shard a name falls in. */
const sharding = Sharding.layer.pipe(
  Layer.provideMerge(Runners.layerNoop),
  Layer.provideMerge(MessageStorage.layerMemory),
  Layer.provide([RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
  Layer.provide(ShardingConfig.layer({ shardsPerGroup: defaults.shardsPerGroup }))
)

const shardOf = (s: Sharding.Sharding["Service"], slot: string) =>
  s.getShardId(EntityId.make(`pgcdc/slot/${slot}`), "default").id

describe("pgcdc's default shard count", () => {
  it.effect("slot names that are permutations of each other fall in different shards", () =>
    Effect.gen(function* () {
      const s = yield* Sharding.Sharding
      assert.notStrictEqual(shardOf(s, "tenant_10"), shardOf(s, "tenant_01"))
      assert.notStrictEqual(shardOf(s, "db_ab"), shardOf(s, "db_ba"))
    }).pipe(Effect.provide(sharding))
  )

  it.effect("a thousand tenant slots spread evenly: no shard holds twice its share or less than half", () =>
    Effect.gen(function* () {
      const s = yield* Sharding.Sharding
      const counts = new Map<number, number>()
      for (let i = 0; i < 1000; i++) {
        const shard = shardOf(s, `tenant_${i}`)
        counts.set(shard, (counts.get(shard) ?? 0) + 1)
      }
      const share = 1000 / defaults.shardsPerGroup
      assert.strictEqual(counts.size, defaults.shardsPerGroup)
      assert.isBelow(Math.max(...counts.values()), 2 * share)
      assert.isAbove(Math.min(...counts.values()), share / 2)
    }).pipe(Effect.provide(sharding))
  )
})
