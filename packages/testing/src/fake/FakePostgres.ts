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
 * adjusts the clock, never by themselves. It deliberately holds no test assertions: tests assert on what it returns.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Clock from "effect/Clock"
import type * as Socket from "effect/socket/Socket"
import { Lsn, Timestamp } from "@pgcdc/protocol"
import { parseRowFilter, RowFilterUnsupported } from "./RowFilter.ts"
import {
  allPublishActions,
  type Disconnection,
  FakeServer,
  type PublishAction,
  type ReceivedStatusUpdate
} from "./FakeServer.ts"
import { FakeOptionsError, type FakeServerOptions, type ResolvedOptions } from "./FakeServerOptions.ts"
import { type Attach, makeMemorySocket, type Step } from "./MemoryTransport.ts"
import type { ErrorFields } from "./Outcome.ts"
import type { Session } from "./Session.ts"
import { listen } from "./TcpListener.ts"
import {
  Change,
  type FakeChange,
  type FakeRow,
  type FakeTable,
  type FakeTableDefinition,
  type FakeTypeDefinition,
  FakeWalError,
  type PreparedOptions,
  type StreamedOptions,
  type TransactionOptions,
  type WrittenTransaction
} from "./Wal.ts"

export class FakePostgresError extends Schema.TaggedError<FakePostgresError>()("FakePostgresError", {
  message: Schema.String
}) {}

export interface FakePostgresOptions extends FakeServerOptions {
  /** Start the loopback TCP listener (default true). Without it `port` is 0 and `url` is unusable. */
  readonly listen?: boolean | undefined
}

export interface SlotInfo {
  readonly name: string
  readonly kind: "logical" | "physical"
  readonly plugin: string | undefined
  readonly temporary: boolean
  readonly twoPhase: boolean
  readonly confirmedFlush: Lsn.Lsn
  /** PID of the session streaming from it. */
  readonly activePid: number | undefined
}

/** One connection to the fake, as `pg_stat_activity` would show it. */
export interface ConnectionInfo {
  readonly pid: number
  /** "logical" for a walsender (replication=database), "physical" (replication=true), or "regular". */
  readonly mode: "logical" | "physical" | "regular"
  /** The slot it streams from, while in START_REPLICATION. */
  readonly streamingSlot: string | undefined
  /** Whether it has a transaction block open. */
  readonly inTransaction: boolean
}

/** An error the server sends on request: FATAL (default) ends the connection, ERROR ends a stream. */
export interface InjectedError {
  readonly code: string
  readonly message: string
  readonly severity?: "ERROR" | "FATAL" | undefined
  readonly detail?: string | undefined
  readonly hint?: string | undefined
}

/** Bytes that no client can parse: a CopyData frame whose length field is negative. */
export const corruptFrame: Uint8Array = new Uint8Array([0x64, 0xff, 0xff, 0xff, 0xf0, 0x00])

export interface FakePostgresShape {
  /** The resolved options (server version, user, password, database, timeouts...). */
  readonly config: ResolvedOptions
  /** Loopback listener address ("127.0.0.1"), its port and a libpq URL (with `replication=database`). */
  readonly host: string
  readonly port: number
  readonly url: string
  /** A new in-memory socket: each `reader` acquisition is one connection. */
  readonly socket: Effect.Effect<Socket.Socket>

  readonly defineTable: (definition: FakeTableDefinition) => Effect.Effect<FakeTable, FakePostgresError>
  /**
   * Defines a user-defined type (enum, domain, array, composite, range): Type messages name it as pgoutput does and
   * the Replication service's catalog query finds it. Values stay what the test writes (text, or binary bytes).
   */
  readonly defineType: (definition: FakeTypeDefinition) => Effect.Effect<void, FakePostgresError>
  readonly createSlot: (
    name: string,
    options?: { readonly twoPhase?: boolean }
  ) => Effect.Effect<void, FakePostgresError>
  readonly dropSlot: (name: string) => Effect.Effect<void, FakePostgresError>
  /**
   * A publication of every table (default) or of the listed tables ("name" or "schema.name"), sending the kinds of
   * change in `publish` (default all four, as `CREATE PUBLICATION ... WITH (publish = '...')`).
   */
  readonly createPublication: (
    name: string,
    options?: {
      readonly tables?: ReadonlyArray<string> | undefined
      readonly publish?: ReadonlyArray<PublishAction> | undefined
      /** Column lists (PostgreSQL 15+): table ("name" or "schema.name", as in `tables`) → the columns it sends. */
      readonly columns?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
      /**
       * Row filters (PostgreSQL 15+): table → the expression of its `WHERE (...)`, e.g. `"tenant = 42 AND NOT archived"`.
       * Fails for an expression the fake cannot evaluate (see RowFilter.ts).
       */
      readonly rowFilters?: Readonly<Record<string, string>> | undefined
    }
  ) => Effect.Effect<void, FakePostgresError>

  readonly transaction: (
    changes: ReadonlyArray<FakeChange>,
    options?: TransactionOptions
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly insert: (table: string, row: FakeRow) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly update: (table: string, row: FakeRow, old?: FakeRow) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly delete: (table: string, old: FakeRow) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly truncate: (
    tables: ReadonlyArray<string>,
    options?: { readonly cascade?: boolean; readonly restartIdentity?: boolean }
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  /** A logical message; non-transactional unless `transactional: true` (then it is a one-message transaction). */
  readonly message: (
    prefix: string,
    content: string | Uint8Array,
    options?: { readonly transactional?: boolean }
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly streamed: (
    changes: ReadonlyArray<FakeChange>,
    options?: StreamedOptions
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  /** PREPARE TRANSACTION; `segments` makes it a large (streamed) one for sessions with streaming and two_phase. */
  readonly prepared: (
    gid: string,
    changes: ReadonlyArray<FakeChange>,
    options?: PreparedOptions
  ) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly commitPrepared: (gid: string) => Effect.Effect<WrittenTransaction, FakePostgresError>
  readonly rollbackPrepared: (gid: string) => Effect.Effect<WrittenTransaction, FakePostgresError>
  /** Sends a keepalive to every streaming session now. */
  readonly keepalive: (options?: { readonly replyRequested?: boolean }) => Effect.Effect<void>

  /** Drops every connection at once, without a message. */
  readonly dropConnections: Effect.Effect<void>
  /**
   * Drops one connection without a message, as `pg_terminate_backend(pid)` does: its temporary slots and its exported
   * snapshot go with it. False when no connection has that PID.
   */
  readonly terminate: (pid: number) => Effect.Effect<boolean>
  /** Sends an ErrorResponse to every connection. */
  readonly failWith: (error: InjectedError) => Effect.Effect<void>
  /** Stops writing to every connection (keepalives included) until `resume`. */
  readonly stall: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
  /** Writes bytes that break the framing (default `corruptFrame`) to every connection. */
  readonly corrupt: (bytes?: Uint8Array) => Effect.Effect<void>

  readonly currentLsn: Effect.Effect<Lsn.Lsn>
  readonly confirmedFlush: (slot: string) => Effect.Effect<Lsn.Lsn | undefined>
  readonly slots: Effect.Effect<ReadonlyArray<SlotInfo>>
  readonly statusUpdates: Effect.Effect<ReadonlyArray<ReceivedStatusUpdate>>
  readonly queries: Effect.Effect<ReadonlyArray<string>>
  readonly disconnections: Effect.Effect<ReadonlyArray<Disconnection>>
  readonly connectionCount: Effect.Effect<number>
  /** The open connections. */
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
  /**
   * The rows a table holds now ("name" or "schema.name"): what the committed transactions left, by column name, as a
   * COPY or an initial snapshot reads them.
   */
  readonly rows: (table: string) => Effect.Effect<ReadonlyArray<FakeRow>>

  /** Waits until a session streams (from `slot`, when given). */
  readonly awaitStreaming: (slot?: string) => Effect.Effect<void>
  /** Waits until the slot exists (an initial snapshot's slot appears once the consumer confirmed the snapshot). */
  readonly awaitSlot: (slot: string) => Effect.Effect<SlotInfo>
  /** Waits until the slot's confirmed position reaches `lsn`. */
  readonly awaitConfirmedFlush: (slot: string, lsn: Lsn.Lsn) => Effect.Effect<void>
  /** Waits until at least `count` status updates have arrived in total; returns them all. */
  readonly awaitStatusUpdates: (count: number) => Effect.Effect<ReadonlyArray<ReceivedStatusUpdate>>
  /** Waits until at least `count` connections have ended in total; returns them all. */
  readonly awaitDisconnections: (count: number) => Effect.Effect<ReadonlyArray<Disconnection>>

  /** The server state itself, for harnesses that need more than the methods above. */
  readonly server: FakeServer
}

/** "name" → "public.name"; "schema.name" as it is. */
const qualify = (table: string): string => (table.includes(".") ? table : `public.${table}`)

const wrap = <A>(f: () => A): Effect.Effect<A, FakePostgresError> =>
  Effect.try({
    try: f,
    catch: (e) => new FakePostgresError({ message: e instanceof Error ? e.message : String(e) })
  })

export const make = (
  options: FakePostgresOptions = {}
): Effect.Effect<FakePostgresShape, FakePostgresError, Scope.Scope> =>
  Effect.gen(function* () {
    const clock = yield* Clock.Clock
    const server = yield* Effect.try({
      try: () => new FakeServer(options, clock),
      catch: (e) => new FakePostgresError({ message: e instanceof FakeOptionsError ? e.message : String(e) })
    })

    // Every entry point runs the server under the caller's clock.
    const step: Step = (f) =>
      Effect.clockWith((c) =>
        Effect.sync(() => {
          server.clock = c
          return f()
        })
      )
    const stepTry = <A>(f: () => A): Effect.Effect<A, FakePostgresError> =>
      Effect.clockWith((c) =>
        wrap(() => {
          server.clock = c
          return f()
        })
      )

    const until = <A>(check: () => A | undefined): Effect.Effect<A> =>
      Effect.callback<A>((resume) => {
        const now = check()
        if (now !== undefined) return resume(Effect.succeed(now))
        const unsubscribe = server.subscribe(() => {
          const value = check()
          if (value !== undefined) {
            unsubscribe()
            resume(Effect.succeed(value))
          }
        })
        return Effect.sync(unsubscribe)
      })

    /** A session's timers: sleep until its next deadline or until the server changes, then tick. */
    const timers = (session: Session): Effect.Effect<void> =>
      Effect.gen(function* () {
        const wake = yield* Queue.sliding<void>(1)
        const unsubscribe = server.subscribe(() => Queue.offerUnsafe(wake, undefined))
        yield* Effect.addFinalizer(() => Effect.sync(unsubscribe))
        while (!session.closed) {
          const deadline = session.nextDeadline()
          const now = yield* Clock.currentTimeMillis
          if (deadline === undefined) yield* Queue.take(wake)
          else if (deadline > now)
            yield* Effect.raceFirst(Effect.sleep(Duration.millis(deadline - now)), Queue.take(wake))
          yield* step(() => session.tick())
        }
      }).pipe(Effect.scoped)

    const attach: Attach = (host) =>
      Effect.gen(function* () {
        const session = yield* step(() => server.connect(host))
        yield* Effect.forkScoped(timers(session))
        yield* Effect.addFinalizer(() => step(() => session.transportClosed()))
        return session
      })

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
    const wal = server.wal
    const written = <A>(f: () => A): Effect.Effect<A, FakePostgresError> =>
      stepTry(() => {
        const result = f()
        server.walAppended()
        return result
      })
    const pgNow = (): bigint => Timestamp.fromEpochMillis(server.now())
    const everySession = (f: (s: Session) => void): Effect.Effect<void> =>
      step(() => {
        for (const session of [...server.sessions]) f(session)
      })

    const slotInfo = (): ReadonlyArray<SlotInfo> =>
      [...server.slots.values()].map((s) => ({
        name: s.name,
        kind: s.kind,
        plugin: s.plugin,
        temporary: s.temporary,
        twoPhase: s.twoPhase,
        confirmedFlush: Lsn.unsafeMake(s.confirmedFlush),
        activePid: s.activePid
      }))

    const service: FakePostgresShape = {
      config,
      host: listener.host,
      port: listener.port,
      url: `postgres://${encodeURIComponent(config.user)}:${encodeURIComponent(config.password)}@${listener.host}:${listener.port}/${encodeURIComponent(config.database)}?replication=database`,
      socket: makeMemorySocket(attach, step),

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
            publish:
              publicationOptions?.publish === undefined ? allPublishActions : new Set(publicationOptions.publish),
            columns: new Map(
              Object.entries(publicationOptions?.columns ?? {}).map(([t, cols]) => [qualify(t), cols] as const)
            ),
            rowFilters
          })
          server.changed()
        }),

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
      keepalive: (keepaliveOptions) => everySession((s) => s.keepalive(keepaliveOptions?.replyRequested === true)),

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
      corrupt: (bytes) => everySession((s) => s.sendRaw(bytes ?? corruptFrame)),

      currentLsn: step(() => Lsn.unsafeMake(wal.position)),
      confirmedFlush: (slot) => step(() => server.confirmedFlush(slot)),
      slots: step(slotInfo),
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
      rows: (table) => step(() => wal.heap.rows(qualify(table))),

      awaitStreaming: (slot) =>
        until(() =>
          [...server.sessions].some(
            (s) => s.streamingSlot !== undefined && (slot === undefined || s.streamingSlot === slot)
          )
            ? true
            : undefined
        ).pipe(Effect.asVoid),
      awaitSlot: (slot) => until(() => slotInfo().find((s) => s.name === slot)),
      awaitConfirmedFlush: (slot, lsn) =>
        until(() => ((server.slots.get(slot)?.confirmedFlush ?? -1n) >= lsn ? true : undefined)).pipe(Effect.asVoid),
      awaitStatusUpdates: (count) =>
        until(() => (server.statusUpdates.length >= count ? [...server.statusUpdates] : undefined)),
      awaitDisconnections: (count) =>
        until(() => (server.disconnections.length >= count ? [...server.disconnections] : undefined)),

      server
    }
    return service
  })

export class FakePostgres extends Context.Service<FakePostgres, FakePostgresShape>()("@pgcdc/testing/FakePostgres") {
  static readonly make = make
  static readonly layer = (options: FakePostgresOptions = {}): Layer.Layer<FakePostgres, FakePostgresError> =>
    Layer.effect(FakePostgres, make(options))
}
