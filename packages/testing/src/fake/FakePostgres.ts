/**
 * `FakePostgres`: the service through which a test drives the fake PostgreSQL server, and its Layer.
 *
 * A test defines tables, writes WAL (`transaction`, `insert`, `update`, `delete`, `truncate`, `message`,
 * `streamed`, `prepared` + `commitPrepared`/`rollbackPrepared`), injects faults (`dropConnections`, `failWith`,
 * `stall`/`resume`, `corrupt`, `terminate`), reads what the client acknowledged (`confirmedFlush`, `statusUpdates`)
 * and what the tables hold (`rows`, which an initial snapshot reads), and waits for it without sleeping
 * (`awaitStreaming`, `awaitSlot`, `awaitConfirmedFlush`, `awaitStatusUpdates`, `awaitDisconnections`). The
 * client reaches the server through `socket` (an in-memory Effect `Socket`, no port) or `url`/`host`/`port` (a
 * loopback TCP listener, unless `listen: false`).
 *
 * Time is the Effect `Clock` of the caller: under `TestClock`, keepalives and wal_sender_timeout fire when the test
 * adjusts the clock, never by themselves (ServerDriver.ts). It deliberately holds no test assertions: tests assert on
 * what it returns. The service's shape and the types it takes and returns are in FakePostgresShape.ts.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Lsn, Timestamp } from "@pgcdc/protocol"
import {
  FakePostgresError,
  type FakePostgresOptions,
  type FakePostgresShape,
  type SlotInfo
} from "./FakePostgresShape.ts"
import { allPublishActions, FakeServer } from "./FakeServer.ts"
import { FakeOptionsError } from "./FakeServerOptions.ts"
import { makeMemorySocket } from "./MemoryTransport.ts"
import type { ErrorFields } from "./Outcome.ts"
import { RowFilterUnsupported } from "./RowFilter.ts"
import { parseRowFilter } from "./RowFilterParser.ts"
import { makeDriver, type ServerDriver } from "./ServerDriver.ts"
import { listen } from "./TcpListener.ts"
import { Change, FakeWalError } from "./Wal.ts"

// The service's types live in FakePostgresShape.ts; they are exported from here, where the service is.
export {
  type ConnectionInfo,
  FakePostgresError,
  type FakePostgresOptions,
  type FakePostgresShape,
  type InjectedError,
  type SlotInfo
} from "./FakePostgresShape.ts"

/** Bytes that no client can parse: a CopyData frame whose length field is negative. */
export const corruptFrame: Uint8Array = new Uint8Array([0x64, 0xff, 0xff, 0xff, 0xf0, 0x00])

/** "name" → "public.name"; "schema.name" as it is. */
const qualify = (table: string): string => (table.includes(".") ? table : `public.${table}`)

const slotInfo = (server: FakeServer): ReadonlyArray<SlotInfo> =>
  [...server.slots.values()].map((s) => ({
    name: s.name,
    kind: s.kind,
    plugin: s.plugin,
    temporary: s.temporary,
    twoPhase: s.twoPhase,
    confirmedFlush: Lsn.unsafeMake(s.confirmedFlush),
    activePid: s.activePid
  }))

/** Tables, types, slots and publications, as DDL would make them. */
const setupMethods = (
  server: FakeServer,
  { stepTry }: ServerDriver
): Pick<FakePostgresShape, "defineTable" | "defineType" | "createSlot" | "dropSlot" | "createPublication"> => {
  const wal = server.wal
  return {
    defineTable: (definition) => stepTry(() => wal.defineTable(definition)),
    defineType: (definition) => stepTry(() => wal.defineType(definition)),
    createSlot: (name, slotOptions) =>
      stepTry(() => {
        if (server.slots.has(name)) throw new FakeWalError(`replication slot "${name}" already exists`)
        server.slots.set(name, {
          name,
          kind: "logical",
          plugin: "pgoutput",
          temporary: false,
          twoPhase: slotOptions?.twoPhase === true,
          confirmedFlush: wal.position,
          restartLsn: wal.position,
          activePid: undefined,
          ownerPid: undefined
        })
        server.changed()
      }),
    dropSlot: (name) =>
      stepTry(() => {
        if (!server.slots.delete(name)) throw new FakeWalError(`replication slot "${name}" does not exist`)
        server.changed()
      }),
    createPublication: (name, publicationOptions) =>
      stepTry(() => {
        const rowFilters = new Map(
          Object.entries(publicationOptions?.rowFilters ?? {}).map(([t, text]) => {
            try {
              return [qualify(t), parseRowFilter(text)] as const
            } catch (e) {
              if (!(e instanceof RowFilterUnsupported)) throw e
              throw new Error(`The fake server cannot evaluate the row filter of ${t} (${text}): ${e.message}`)
            }
          })
        )
        const tables = publicationOptions?.tables
        server.publications.set(name, {
          allTables: tables === undefined,
          tables: new Set((tables ?? []).map(qualify)),
          schemas: new Set(),
          publish: publicationOptions?.publish === undefined ? allPublishActions : new Set(publicationOptions.publish),
          columns: new Map(
            Object.entries(publicationOptions?.columns ?? {}).map(([t, cols]) => [qualify(t), cols] as const)
          ),
          rowFilters
        })
        server.changed()
      })
  }
}

/** Writing WAL, committed at the server's now; each write wakes the streaming sessions. */
const walMethods = (
  server: FakeServer,
  { stepTry, everySession }: ServerDriver
): Pick<
  FakePostgresShape,
  | "transaction"
  | "insert"
  | "update"
  | "delete"
  | "truncate"
  | "message"
  | "streamed"
  | "prepared"
  | "commitPrepared"
  | "rollbackPrepared"
  | "keepalive"
> => {
  const wal = server.wal
  const written = <A>(f: () => A): Effect.Effect<A, FakePostgresError> =>
    stepTry(() => {
      const result = f()
      server.walAppended()
      return result
    })
  const pgNow = (): bigint => Timestamp.fromEpochMillis(server.now())
  return {
    transaction: (changes, txOptions) => written(() => wal.transaction(changes, pgNow(), txOptions ?? {})),
    insert: (table, row) => written(() => wal.transaction([Change.insert(table, row)], pgNow(), {})),
    update: (table, row, old) => written(() => wal.transaction([Change.update(table, row, old)], pgNow(), {})),
    delete: (table, old) => written(() => wal.transaction([Change.delete(table, old)], pgNow(), {})),
    truncate: (tables, truncateOptions) =>
      written(() => wal.transaction([Change.truncate(tables, truncateOptions)], pgNow(), {})),
    message: (prefix, content, messageOptions) =>
      written(() =>
        messageOptions?.transactional === true
          ? wal.transaction([Change.message(prefix, content)], pgNow(), {})
          : wal.message(prefix, content)
      ),
    streamed: (changes, streamedOptions) =>
      written(() => wal.transaction(changes, pgNow(), { ...streamedOptions, streamed: true })),
    prepared: (gid, changes, txOptions) => written(() => wal.prepare(gid, changes, pgNow(), txOptions ?? {})),
    commitPrepared: (gid) => written(() => wal.finishPrepared(gid, true, pgNow())),
    rollbackPrepared: (gid) => written(() => wal.finishPrepared(gid, false, pgNow())),
    keepalive: (keepaliveOptions) => everySession((s) => s.keepalive(keepaliveOptions?.replyRequested === true))
  }
}

/** Faults, on every connection or on one. */
const faultMethods = (
  server: FakeServer,
  { step, everySession }: ServerDriver
): Pick<FakePostgresShape, "dropConnections" | "terminate" | "failWith" | "stall" | "resume" | "corrupt"> => {
  return {
    dropConnections: everySession((s) => s.terminate()),
    terminate: (pid) =>
      step(() => {
        const session = [...server.sessions].find((s) => s.pid === pid)
        session?.terminate()
        return session !== undefined
      }),
    failWith: (e) =>
      everySession((s) => {
        const fields: ErrorFields = {
          severity: e.severity ?? "FATAL",
          code: e.code,
          message: e.message,
          detail: e.detail,
          hint: e.hint
        }
        s.injectError(fields)
      }),
    stall: everySession((s) => s.setStalled(true)),
    resume: everySession((s) => s.setStalled(false)),
    corrupt: (bytes) => everySession((s) => s.sendRaw(bytes ?? corruptFrame))
  }
}

/** What the server holds and what the clients sent, now. */
const readMethods = (
  server: FakeServer,
  { step }: ServerDriver
): Pick<
  FakePostgresShape,
  | "currentLsn"
  | "confirmedFlush"
  | "slots"
  | "statusUpdates"
  | "queries"
  | "disconnections"
  | "connectionCount"
  | "connections"
  | "rows"
> => {
  const wal = server.wal
  return {
    currentLsn: step(() => Lsn.unsafeMake(wal.position)),
    confirmedFlush: (slot) => step(() => server.confirmedFlush(slot)),
    slots: step(() => slotInfo(server)),
    statusUpdates: step(() => [...server.statusUpdates]),
    queries: step(() => [...server.queries]),
    disconnections: step(() => [...server.disconnections]),
    connectionCount: step(() => server.sessions.size),
    connections: step(() =>
      [...server.sessions].map((s) => ({
        pid: s.pid,
        mode: s.mode,
        streamingSlot: s.streamingSlot,
        inTransaction: s.inTransaction
      }))
    ),
    rows: (table) => step(() => wal.heap.rows(qualify(table)))
  }
}

/** Waits, without sleeping, until the server reaches a state. */
const waitMethods = (
  server: FakeServer,
  { until }: ServerDriver
): Pick<
  FakePostgresShape,
  "awaitStreaming" | "awaitSlot" | "awaitConfirmedFlush" | "awaitStatusUpdates" | "awaitDisconnections"
> => {
  return {
    awaitStreaming: (slot) =>
      until(() =>
        [...server.sessions].some(
          (s) => s.streamingSlot !== undefined && (slot === undefined || s.streamingSlot === slot)
        )
          ? true
          : undefined
      ).pipe(Effect.asVoid),
    awaitSlot: (slot) => until(() => slotInfo(server).find((s) => s.name === slot)),
    awaitConfirmedFlush: (slot, lsn) =>
      until(() => ((server.slots.get(slot)?.confirmedFlush ?? -1n) >= lsn ? true : undefined)).pipe(Effect.asVoid),
    awaitStatusUpdates: (count) =>
      until(() => (server.statusUpdates.length >= count ? [...server.statusUpdates] : undefined)),
    awaitDisconnections: (count) =>
      until(() => (server.disconnections.length >= count ? [...server.disconnections] : undefined))
  }
}

export const make = (
  options: FakePostgresOptions = {}
): Effect.Effect<FakePostgresShape, FakePostgresError, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const server = yield* Effect.try({
      try: () => new FakeServer(options, clock),
      catch: (e) => new FakePostgresError({ message: e instanceof FakeOptionsError ? e.message : String(e) })
    })
    const driver = makeDriver(server)
    const { step, attach } = driver

    const listener =
      options.listen === false
        ? { host: "127.0.0.1", port: 0 }
        : yield* listen(attach).pipe(
            Effect.mapError((e) => new FakePostgresError({ message: `cannot listen on 127.0.0.1: ${e.message}` }))
          )
    yield* Effect.addFinalizer(() =>
      step(() => {
        for (const session of [...server.sessions]) session.terminate()
      })
    )

    const config = server.config
    const service: FakePostgresShape = {
      config,
      host: listener.host,
      port: listener.port,
      url: `postgres://${encodeURIComponent(config.user)}:${encodeURIComponent(config.password)}@${listener.host}:${listener.port}/${encodeURIComponent(config.database)}?replication=database`,
      socket: makeMemorySocket(attach, step),

      ...setupMethods(server, driver),
      ...walMethods(server, driver),
      ...faultMethods(server, driver),
      ...readMethods(server, driver),
      ...waitMethods(server, driver),

      server
    }
    return service
  })

export class FakePostgres extends Context.Service<FakePostgres, FakePostgresShape>()("@pgcdc/testing/FakePostgres") {
  static readonly make = make
  static readonly layer = (options: FakePostgresOptions = {}): Layer.Layer<FakePostgres, FakePostgresError> =>
    Layer.effect(FakePostgres, make(options))
}
