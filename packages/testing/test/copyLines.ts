/**
 * Test helper: the rows of a `COPY ... TO STDOUT` as the server sent them, one text line each (with its newline), in
 * the order they came. Shared by the tests that compare the fake's COPY with PostgreSQL's.
 */
import type { ConnectionShape } from "@pgcdc/connection"
import { Effect, Stream } from "effect"

const decoder = new TextDecoder()

/** The column count of the CopyOutResponse and the lines. */
export const copyOut = (conn: ConnectionShape, sql: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const copy = yield* conn.copyOut(sql)
      const lines: Array<string> = []
      yield* copy.frames.pipe(
        Stream.runForEach((frames) =>
          Effect.sync(() => {
            frames.buffers.forEach((b, i) => {
              lines.push(decoder.decode(b.subarray(frames.starts[i], frames.ends[i])))
            })
          })
        )
      )
      return { columns: copy.columnCount, lines }
    })
  )

export const copyLines = (conn: ConnectionShape, sql: string) => Effect.map(copyOut(conn, sql), (c) => c.lines)
