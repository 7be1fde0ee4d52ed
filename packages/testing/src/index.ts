/**
 * @pgcdc/testing: what users and our own tests use to test replication consumers: test-database providers
 * (PGCDC_TEST_URL, Testcontainers, embedded PostgreSQL 14 to 18), the fake server, the shared conformance suite and
 * the deterministic simulation harness.
 */
export {
  baseSettings,
  freePort,
  type Major,
  majors,
  TestDatabase,
  TestDatabaseError,
  type TestDatabaseInfo,
  type TestDatabaseOptions,
  type TestDatabaseSource
} from "./TestDatabase.ts"
export type { ServerControl, ShutdownMode } from "./ServerControl.ts"
export * as TestLogger from "./TestLogger.ts"
// The in-memory fake PostgreSQL server (see README "Testing a consumer with the fake server").
export {
  corruptFrame,
  FakePostgres,
  FakePostgresError,
  type FakePostgresOptions,
  type FakePostgresShape,
  type InjectedError,
  type SlotInfo,
  type ConnectionInfo as FakeConnectionInfo
} from "./fake/FakePostgres.ts"
export { fakeTlsCa, fakeTlsCertificate, fakeTlsKey } from "./fake/TestCertificate.ts"
export {
  connectionConfig as fakeConnectionConfig,
  layerConnection as fakeConnectionLayer,
  layerConnector as fakeConnectorLayer,
  layerTcpConnection as fakeTcpConnectionLayer,
  layerTcpConnector as fakeTcpConnectorLayer,
  tcpConnectionConfig as fakeTcpConnectionConfig
} from "./fake/FakeConnection.ts"
export type {
  FakeAuthMethod,
  FakeServerOptions,
  ResolvedOptions as FakeServerConfig
} from "./fake/FakeServerOptions.ts"
export {
  type Disconnection,
  FakeServer,
  type PublicationState,
  type PublishAction,
  type ReceivedStatusUpdate,
  type SlotState
} from "./fake/FakeServer.ts"
export { Session as FakeSession, type SessionHost as FakeSessionHost } from "./fake/Session.ts"
export {
  Change,
  type FakeChange,
  type FakeColumn,
  type FakeRow,
  type FakeTable,
  type FakeTableDefinition,
  type FakeTypeDefinition,
  type FakeValue,
  type PreparedOptions,
  type StreamedOptions,
  type TransactionOptions,
  type WrittenTransaction
} from "./fake/Wal.ts"
export { connect as connectScriptedClient, type ScriptedClient, UnexpectedMessage } from "./fake/ScriptedClient.ts"
// Backends (the fake, a real server), the shared conformance suite and the deterministic simulation.
export type {
  Backend,
  ColumnSpec as BackendColumn,
  ColumnType as BackendColumnType,
  Op as WorkloadOp,
  Row as WorkloadRow,
  SetupSpec,
  TableSpec as WorkloadTable,
  Transaction as WorkloadTransaction
} from "./simulation/Backend.ts"
export { BackendError } from "./simulation/Backend.ts"
export { FakeBackend } from "./simulation/FakeBackend.ts"
export { PostgresBackend } from "./simulation/PostgresBackend.ts"
export {
  type CaseError as ConformanceCaseError,
  Conformance,
  type ConformanceCase,
  ConformanceError
} from "./conformance/Conformance.ts"
export { type Observation, observe, snapshotOf } from "./conformance/Observe.ts"
export {
  type Consumer,
  type ConsumerContext,
  Consumers,
  Crash,
  type Handler as ConsumerHandler
} from "./simulation/Consumer.ts"
export { Tables as SimulationTables } from "./simulation/Model.ts"
export { Random } from "./simulation/Random.ts"
export {
  type BackfillSimulationOptions,
  Simulation,
  SimulationFailure,
  type SimulationOptions,
  type SimulationReport,
  type SnapshotSimulationOptions
} from "./simulation/Simulation.ts"
export { defaultTables as simulationTables, type WorkloadOptions } from "./simulation/Workload.ts"
