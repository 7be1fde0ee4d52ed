/**
 * Conformance case of the heartbeat (the `heartbeat` option), run the same on the fake and on PostgreSQL (see
 * Conformance.ts): while the published tables are idle and another table takes writes, the service's heartbeat (a
 * non-transactional `pgcdc.heartbeat` message, written as the service starts) is never handed to the consumer, even
 * one that asked for logical messages, and the slot's confirmed position moves past it once the consumer has committed
 * what came before it. Where the backend can tell where the heartbeat is in the WAL (`logicalMessages`: the fake,
 * PostgreSQL 15 and later), the case waits for exactly that position; elsewhere for a position past the last Commit
 * handed out.
 *
 * It deliberately does not measure the interval (nothing here waits for time: only the first heartbeat is used).
 */
import type { Lsn } from "@pgcdc/protocol"
import { WalMessage } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import {
  type ConformanceCase,
  commits,
  expectEqual,
  expectThat,
  ins,
  itemsTable,
  replicate,
  row,
  untilInsertCommitted
} from "./Case.ts"
import { observe } from "./Observe.ts"

export const heartbeatCase: ConformanceCase = {
  name: "the heartbeat is hidden from the consumer, and the slot passes it while the published table is idle",
  run: (backend) =>
    Effect.gen(function* () {
      const name = heartbeatCase.name
      const items = itemsTable("conf_hb_items")
      const busy = itemsTable("conf_hb_busy")
      const slot = "conf_hb"
      yield* backend.setup({ slot, publication: "conf_hb_pub", tables: [items], unpublished: [busy] })
      yield* backend.transaction({ ops: [ins(items, row(1, "published", null))] })
      // The rest of the database is busy: nothing of it reaches the stream.
      for (const id of [1, 2, 3]) yield* backend.transaction({ ops: [ins(busy, row(id, "elsewhere", null))] })

      const replication = yield* replicate(backend, {
        slot,
        publications: ["conf_hb_pub"],
        messages: true,
        heartbeat: "1 hour"
      })
      // The service writes its first heartbeat as it starts.
      let heartbeat: Lsn.Lsn | undefined
      const find = backend.logicalMessages
      if (find !== undefined) {
        yield* backend.eventually(
          "a heartbeat in the WAL",
          Effect.map(find("pgcdc.heartbeat"), (found) => {
            heartbeat = found[0]
            return heartbeat !== undefined
          })
        )
      }
      const handed: Array<WalMessage> = []
      const consumer = yield* replication.stream.pipe(
        Stream.runForEach((m) =>
          Effect.andThen(
            Effect.sync(() => handed.push(m)),
            m._tag === "Commit" ? replication.commit(WalMessage.lsnToConfirm(m)) : Effect.void
          )
        ),
        Effect.forkScoped
      )
      // What the consumer committed, then the heartbeat it was not handed: the slot may pass both.
      yield* backend.eventually(
        "the slot's confirmed position past the heartbeat",
        Effect.gen(function* () {
          const last = commits(handed).at(-1)
          if (last === undefined) return false
          yield* replication.flush
          const confirmed = yield* backend.confirmedFlush(slot)
          return heartbeat !== undefined ? confirmed >= heartbeat : confirmed > last
        })
      )
      yield* backend.transaction({ ops: [ins(items, row(2, "later", null))] })
      yield* backend.eventually(
        "the later insert handed out",
        Effect.sync(() => handed.some(untilInsertCommitted(2)))
      )
      yield* Fiber.interrupt(consumer)
      yield* expectEqual(
        backend,
        name,
        "The changes and messages handed out",
        observe([items], handed).events.filter((e) => e[0] !== "Begin" && e[0] !== "Commit"),
        [
          ["Insert", items.name, row(1, "published", null)],
          ["Insert", items.name, row(2, "later", null)]
        ]
      )
      yield* expectThat(
        backend,
        name,
        "A heartbeat was found in the WAL",
        find === undefined || heartbeat !== undefined
      )
    })
}

export const heartbeatCases: ReadonlyArray<ConformanceCase> = [heartbeatCase]
