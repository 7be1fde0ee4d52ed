/**
 * effect/cluster's socket runner over SQL storage, composed as `NodeClusterSocket.layer({ storage: "sql" })` does
 * but with `ShardingConfig.layer` (explicit values) instead of `ShardingConfig.layerFromEnv`, which reads HOST, PORT,
 * LISTEN_HOST and more from the environment whatever is passed, and with a table prefix of our own.
 *
 * It does not create the SqlClient: the runner layer provides the storage database's.
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import {
  RunnerAddress,
  RunnerHealth,
  Runners,
  ShardingConfig,
  SocketRunner,
  SqlMessageStorage,
  SqlRunnerStorage
} from "effect/cluster"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import { type ClusterOptions, defaultPrefix, timingsOf } from "../ClusterOptions.ts"

export const shardingConfigOf = (options: ClusterOptions): Partial<ShardingConfig.ShardingConfig["Service"]> => {
  const timings = timingsOf(options)
  const listen = options.listenAddress ?? options.runnerAddress
  return {
    runnerAddress: Option.some(RunnerAddress.make(options.runnerAddress.host, options.runnerAddress.port)),
    runnerListenAddress: Option.some(RunnerAddress.make(listen.host, listen.port)),
    shardsPerGroup: timings.shardsPerGroup,
    shardLockExpiration: timings.shardLockExpiration,
    shardLockRefreshInterval: timings.shardLockRefreshInterval,
    refreshAssignmentsInterval: timings.refreshAssignmentsInterval,
    runnerHealthCheckInterval: timings.runnerHealthCheckInterval,
    runnerJoinDebounce: timings.runnerJoinDebounce
  }
}

export const clusterLayer = (options: ClusterOptions) => {
  const prefix = options.tablePrefix ?? defaultPrefix
  const runnerHealth = RunnerHealth.layerPing.pipe(
    Layer.provide(Runners.layerRpc),
    Layer.provide(NodeClusterSocket.layerClientProtocol)
  )
  return SocketRunner.layer.pipe(
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(runnerHealth),
    Layer.provideMerge(SqlMessageStorage.layerWith({ prefix }).pipe(Layer.provide(NodeCrypto.layerDigest))),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layerWith({ prefix }))),
    Layer.provide(ShardingConfig.layer(shardingConfigOf(options))),
    Layer.provide(RpcSerialization.layerSchemaBinary({}))
  )
}
