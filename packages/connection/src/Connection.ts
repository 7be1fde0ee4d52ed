/**
 * The `Connection` service: one PostgreSQL session (normal or walsender) for the lifetime of a scope.
 *
 * - `query` runs the simple query protocol, one call at a time (calls queue on a lock). An ErrorResponse fails the
 *   call with a "Server" `ConnectionError` and the session stays usable (the loop reads on to ReadyForQuery).
 *   Interrupting the calling fiber sends a CancelRequest on a side connection and reads the session back to
 *   ReadyForQuery before the lock is released, so the next call starts clean.
 * - `copyBoth` starts a CopyBoth stream (START_REPLICATION) that holds the lock until its scope closes.
 * - `copyOut` runs a `COPY ... TO STDOUT` whose rows are a Stream; it holds the lock until the copy has ended (read to
 *   its end, failed, or cancelled because it was abandoned) or its scope closes, whichever comes first.
 * - When the scope closes, Terminate is sent and the socket closed.
 *
 * A session whose protocol state is lost (bytes that are not PostgreSQL, a dropped socket, a copy that would not
 * end) is marked broken: the socket is closed and every later call fails with a "Closed" error carrying the cause.
 * Reconnecting is the caller's business (see `@pgcdc/replication`); this service never reconnects by itself.
 */
import type { Backend } from "@pgcdc/protocol"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import { sendCancel } from "./Cancel.ts"
import { type ConnectionConfig, describe } from "./ConnectionConfig.ts"
import { configOrEnv } from "./internal/configOrEnv.ts"
import { ConnectionError, closedError } from "./ConnectionError.ts"
import { type CopyBoth, startCopyBoth } from "./CopyBoth.ts"
import { type CopyOut, startCopyOut } from "./CopyOut.ts"
import { parseServerVersion } from "./ServerVersion.ts"
import { collectResults, discardUntilReady, type QueryResult, type SessionHooks } from "./SimpleQuery.ts"
import { type BackendKey, openSession } from "./Startup.ts"
import { encodeOne } from "./Wire.ts"

export type { CopyBoth, CopyOut, QueryResult, BackendKey }
export type FieldDescription = Backend.FieldDescription

export interface ConnectionShape {
  readonly config: ConnectionConfig
  /** server_version_num form, e.g. 140012, 180001. */
  readonly serverVersion: number
  /** Latest ParameterStatus values (server_version, TimeZone, integer_datetimes, ...). */
  readonly parameters: Effect.Effect<ReadonlyMap<string, string>>
  readonly backendKey: BackendKey | undefined
  /** Whether the session runs over TLS. */
  readonly tls: boolean
  /** Simple query protocol; one result per statement. */
  readonly query: (sql: string) => Effect.Effect<ReadonlyArray<QueryResult>, ConnectionError>
  /** Runs a command that answers CopyBothResponse (START_REPLICATION); the scope ends the copy (CopyDone). */
  readonly copyBoth: (sql: string) => Effect.Effect<CopyBoth, ConnectionError, Scope.Scope>
  /**
   * Runs one `COPY ... TO STDOUT` statement: answers once the server has started the copy (anything else fails here,
   * the session staying usable), with the rows as a Stream of CopyData payloads and the `COPY n` count. Closing the
   * scope (or stopping the stream) before the copy's end cancels it on the server.
   */
  readonly copyOut: (sql: string) => Effect.Effect<CopyOut, ConnectionError, Scope.Scope>
}

/** How long an interrupted query may take to come back to ReadyForQuery after the CancelRequest. */
const recoverTimeout = Duration.seconds(10)
const terminate = encodeOne({ _tag: "Terminate" })

export class Connection extends Context.Service<Connection, ConnectionShape>()("@pgcdc/connection/Connection") {
  /** Opens a session for the lifetime of the current scope. */
  static readonly make = (config: ConnectionConfig): Effect.Effect<ConnectionShape, ConnectionError, Scope.Scope> =>
    make(config)

  static readonly layer = (config: ConnectionConfig): Layer.Layer<Connection, ConnectionError> =>
    Layer.effect(Connection, make(config))

  /**
   * Reads the configuration through Effect `Config`: by default the libpq environment variables (`fromEnv` of
   * `@pgcdc/connection/config`).
   */
  static readonly layerConfig = (
    config?: Config.Config<ConnectionConfig>
  ): Layer.Layer<Connection, ConnectionError | Config.ConfigError> =>
    Layer.effect(Connection, Effect.flatMap(configOrEnv(config), make))
}

const make = (config: ConnectionConfig): Effect.Effect<ConnectionShape, ConnectionError, Scope.Scope> =>
  Effect.gen(function* () {
    const session = yield* openSession(config)
    const { wire, parameters, backendKey } = session
    const lock = yield* Semaphore.make(1)
    let broken: ConnectionError | undefined

    const markBroken = (cause: ConnectionError): Effect.Effect<void> =>
      Effect.sync(() => {
        if (broken !== undefined) return
        broken = cause.reason === "Closed" ? cause : closedError(`The connection is unusable: ${cause.message}`, cause)
        wire.transport.destroy()
      })

    const hooks: SessionHooks = { onParameter: (name, value) => void parameters.set(name, value), onFatal: markBroken }

    const usable = Effect.suspend(() => (broken === undefined ? Effect.void : Effect.fail(broken)))

    /** A lost socket ends the session; a message we refused to encode (a NUL in the SQL) does not. */
    const breakOnClosed = <A, R>(self: Effect.Effect<A, ConnectionError, R>): Effect.Effect<A, ConnectionError, R> =>
      Effect.tapError(self, (e) => (e.reason === "Closed" ? markBroken(e) : Effect.void))

    /** Best effort: asks the server to cancel what this session runs. */
    const cancel = backendKey === undefined ? Effect.void : sendCancel(config, backendKey)

    const recoverAfterInterrupt = (progress: { ready: boolean }) =>
      Effect.gen(function* () {
        // Interrupted after ReadyForQuery was read (while logging notices, say): the session is already idle.
        if (progress.ready) return
        yield* cancel
        yield* discardUntilReady(wire, hooks).pipe(
          Effect.interruptible,
          Effect.timeoutOrElse({
            duration: recoverTimeout,
            orElse: () => Effect.fail(closedError("The server did not return to ReadyForQuery after a CancelRequest"))
          }),
          Effect.catch(markBroken)
        )
      })

    const runQuery = (sql: string): Effect.Effect<ReadonlyArray<QueryResult>, ConnectionError> =>
      lock.withPermit(
        Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            yield* usable
            yield* breakOnClosed(wire.send({ _tag: "Query", sql }))
            const progress = { ready: false }
            const { results } = yield* restore(collectResults(wire, hooks, progress)).pipe(
              Effect.onInterrupt(() => recoverAfterInterrupt(progress))
            )
            return results
          })
        )
      )

    const query = Effect.fn("Connection.query")(function* (sql: string) {
      return yield* runQuery(sql)
    })

    const copyBoth = Effect.fn("Connection.copyBoth")(function* (sql: string) {
      // Held until the copy's scope closes; waiting for it stays interruptible.
      yield* lock.takeScoped(1)
      yield* usable
      return yield* startCopyBoth(wire, hooks, sql)
    })

    const copyOut = Effect.fn("Connection.copyOut")(function* (sql: string) {
      // The lock lives in a scope of its own, so that the copy can give it back as soon as it has ended.
      const held = yield* Scope.fork(yield* Effect.scope)
      const release = Scope.close(held, Exit.void)
      yield* lock.takeScoped(1).pipe(Scope.provide(held))
      yield* usable.pipe(Effect.onError(() => release))
      return yield* startCopyOut({ wire, hooks, cancel, recover: recoverAfterInterrupt, release }, sql)
    })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() =>
        broken === undefined && !wire.transport.destroyed ? wire.transport.end(terminate) : Effect.void
      )
    )

    const versionText = parameters.get("server_version")
    const serverVersion = versionText === undefined ? undefined : parseServerVersion(versionText)
    if (serverVersion === undefined) {
      return yield* new ConnectionError({
        reason: "Protocol",
        message: `The server at ${describe(config)} did not report a usable server_version (${versionText ?? "none"})`
      })
    }

    return {
      config,
      serverVersion,
      parameters: Effect.sync(() => new Map(parameters)),
      backendKey,
      tls: session.tls,
      query,
      copyBoth,
      copyOut
    } satisfies ConnectionShape
  }).pipe(Effect.withSpan("Connection.make", { attributes: { "db.connection": describe(config) } }))
