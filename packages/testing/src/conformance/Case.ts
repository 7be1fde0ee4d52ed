/**
 * What a conformance case is, and what the cases share: the error a case fails with, the `Replication` service over
 * a backend, the tables and rows the cases use, and comparisons that name the backend, the case and the first
 * difference. It deliberately holds no case itself (Conformance.ts and PublicationCases.ts do).
 */
import { type ConnectionError, type ConnectionShape, Connector } from "@pgcdc/connection"
import type { Lsn } from "@pgcdc/protocol"
import {
  Replication,
  type ReplicationError,
  type ReplicationOptions,
  type ReplicationShape,
  WalMessage
} from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Backend, BackendError, Row, TableSpec } from "../simulation/Backend.ts"

export class ConformanceError extends Schema.TaggedError<ConformanceError>()("ConformanceError", {
  backend: Schema.String,
  case: Schema.String,
  message: Schema.String
}) {}

export type CaseError = ConformanceError | BackendError | ReplicationError | ConnectionError

export interface ConformanceCase {
  readonly name: string
  readonly run: (backend: Backend) => Effect.Effect<void, CaseError, Scope.Scope>
}

export const show = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v), 1)

/** Fails unless `actual` and `expected` are the same JSON (bigints written as `123n`). */
export const expectEqual = (backend: Backend, name: string, what: string, actual: unknown, expected: unknown) =>
  Effect.suspend(() => {
    const a = show(actual)
    const e = show(expected)
    if (a === e) return Effect.void
    const al = a.split("\n")
    const el = e.split("\n")
    const at = al.findIndex((line, i) => line !== el[i])
    const context = (lines: ReadonlyArray<string>) => lines.slice(Math.max(0, at - 3), at + 4).join("\n")
    return Effect.fail(
      new ConformanceError({
        backend: backend.name,
        case: name,
        message: `${what} differs on ${backend.name} (first difference at line ${at + 1}).\nexpected:\n${context(el)}\nactual:\n${context(al)}`
      })
    )
  })

export const expectThat = (backend: Backend, name: string, what: string, ok: boolean) =>
  ok ? Effect.void : Effect.fail(new ConformanceError({ backend: backend.name, case: name, message: what }))

/** What a case does to the regular sessions the service opens (an initial snapshot's readers, a backfill's). */
export interface SessionHooks {
  /**
   * Each regular session waits for it before it connects: what a test writes before it completes commits after the
   * snapshot's consistent point and before any COPY reads it.
   */
  readonly beforeSql?: Effect.Effect<void> | undefined
  /**
   * Runs before each statement (query or COPY) a regular session sends, with its text: a case commits a write at a
   * chosen point of a backfill (between a watermark and the chunk's COPY, say) without depending on timing.
   */
  readonly beforeStatement?: ((sql: string) => Effect.Effect<void>) | undefined
}

/** The `Replication` service over a new walsender session to the backend, for the current scope. */
export const replicate = (
  backend: Backend,
  options: ReplicationOptions,
  hooks: SessionHooks = {}
): Effect.Effect<ReplicationShape, ReplicationError | ConnectionError, Scope.Scope> => {
  const connector = Connector.make(backend.connection)
  const { beforeSql, beforeStatement } = hooks
  const connectSql =
    beforeStatement === undefined
      ? connector.connectSql
      : Effect.map(
          connector.connectSql,
          (conn): ConnectionShape => ({
            ...conn,
            query: (sql) => Effect.andThen(beforeStatement(sql), conn.query(sql)),
            copyOut: (sql) => Effect.andThen(beforeStatement(sql), conn.copyOut(sql))
          })
        )
  return Replication.make({ ...backend.replicationOptions, ...options }).pipe(
    Effect.provideService(Connector, {
      ...connector,
      connectSql: beforeSql === undefined ? connectSql : Effect.andThen(beforeSql, connectSql)
    })
  )
}

export const itemsTable = (name: string, replicaIdentity: "default" | "full" = "default"): TableSpec => ({
  name,
  columns: [
    { name: "id", type: "int4", key: true },
    { name: "v", type: "text" },
    { name: "n", type: "int8" }
  ],
  replicaIdentity
})

export const row = (id: number, v: string | null, n: string | null): Row => ({ id: String(id), v, n })

/** Messages up to and including the Commit of the transaction that inserts `id` into some table. */
export const untilInsertCommitted = (id: number) => {
  let seen = false
  return (m: WalMessage): boolean => {
    if (m._tag === "Insert" && m.new.id === id) seen = true
    return seen && m._tag === "Commit"
  }
}

export const collect = (
  stream: Stream.Stream<WalMessage, ReplicationError>,
  last: (m: WalMessage) => boolean
): Effect.Effect<Array<WalMessage>, ReplicationError> =>
  stream.pipe(
    Stream.takeUntil(last),
    Stream.runCollect,
    Effect.map((c) => Array.from(c))
  )

export const commits = (messages: ReadonlyArray<WalMessage>): ReadonlyArray<Lsn.Lsn> =>
  messages.filter(WalMessage.is("Commit")).map((m) => WalMessage.lsnToConfirm(m))

export const ins = (table: TableSpec, r: Row) => ({ _tag: "Insert" as const, table: table.name, row: r })
