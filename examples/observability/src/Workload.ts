/**
 * Something for the consumer to observe: a table with a publication, seeded so the initial snapshot has rows, and a
 * writer that inserts and updates a row per transaction at a steady rate until interrupted.
 *
 * Idempotent (IF NOT EXISTS, publication ensured), so a second run on the same server reuses both. It deliberately
 * checks nothing: the consumer is what is being shown.
 */
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { Publication } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

export const table = "pgcdc_observed"
export const publication = "pgcdc_observed"

export const prepare = (conn: ConnectionShape) =>
  Effect.gen(function* () {
    yield* conn.query("SET client_min_messages = warning")
    yield* conn.query(`
      CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, n int8 NOT NULL, at timestamptz NOT NULL);
      INSERT INTO ${table} SELECT i, i, now() FROM generate_series(1, 100) i ON CONFLICT (id) DO NOTHING`)
    yield* Publication.ensure(publication, { target: { _tag: "Tables", tables: [table] } }).pipe(
      Effect.provideService(Connection, conn)
    )
  })

/** One transaction every `1000 / rate` ms: a new row or an update of an old one. */
export const write = (conn: ConnectionShape, rate: number) =>
  conn
    .query(`
      INSERT INTO ${table} SELECT coalesce(max(id), 0) + 1, 1, now() FROM ${table};
      UPDATE ${table} SET n = n + 1, at = now() WHERE id = (SELECT floor(random() * 100)::int + 1)`)
    .pipe(Effect.repeat(Schedule.spaced(`${Math.max(1, Math.round(1000 / rate))} millis`)))
