/**
 * The decoders the micro-benchmark compares, each fed the same CopyData payloads (see Capture.ts) and each producing
 * what its library hands an application: a message per payload, with row values decoded where the library decodes
 * them.
 *
 * - pgcdc (`@pgcdc/protocol`): XLogData, then the pgoutput message with TupleData (text values as strings).
 * - pgcdc WalDecoder (`@pgcdc/replication`): what the Replication service runs per XLogData: the pgoutput message,
 *   the relation cache, and every column decoded losslessly by type OID into a row keyed by column name.
 * - pg-logical-replication: `PgoutputPlugin.parse` on the XLogData body (what its service calls per message), values
 *   parsed by node-postgres's type parsers.
 * - postgres.js: its own `Subscribe` (module `src/subscribe.js`) wired to a fake connection that emits the payloads
 *   as the socket would; its internal `parse` is not exported, so this is the only way to reach it without copying
 *   its code. Values are parsed by postgres.js's default type parsers.
 *
 * - reference, not a decoder: `JSON.parse` of the rows' jsonb texts alone, extracted from the payloads before the
 *   timed passes. Every decoder above that decodes values (all but `@pgcdc/protocol` alone) pays at least this per
 *   row, so it shows how much of a per-row budget no JavaScript decoder can avoid.
 *
 * Each `make` returns a function that decodes every payload once and returns the number of rows (Insert, Update,
 * Delete) it saw.
 */
import { EventEmitter } from "node:events"
import { unsafeDecodePgoutput, unsafeDecodeReplication } from "@pgcdc/protocol"
import { WalDecoder } from "@pgcdc/replication/internal/decoder/WalDecoder"
import { PgoutputPlugin } from "pg-logical-replication"
import postgres from "postgres"

export type DecodeAll = (payloads: ReadonlyArray<Buffer>) => number

export interface Decoder {
  readonly id: string
  readonly label: string
  /** Prepares the decoder (untimed); `payloads` is the capture every pass decodes. */
  readonly make: (payloads: ReadonlyArray<Buffer>) => Promise<DecodeAll>
}

const pgoutputOptions = { protoVersion: 1, inStream: false } as const
/** The type byte of an XLogData ('w'); the capture holds nothing else, but a keepalive would be skipped. */
const XLOG_DATA = 0x77

const pgcdcProtocol: Decoder = {
  id: "pgcdc",
  label: "pgcdc (@pgcdc/protocol: XLogData + pgoutput, TupleData strings)",
  make: async () => (payloads) => {
    let rows = 0
    for (const payload of payloads) {
      const m = unsafeDecodeReplication(payload)
      if (m._tag !== "XLogData") continue
      const message = unsafeDecodePgoutput(m.data, pgoutputOptions)
      if (message._tag === "Insert" || message._tag === "Update" || message._tag === "Delete") rows++
    }
    return rows
  }
}

const pgcdcWalDecoder: Decoder = {
  id: "pgcdc-values",
  label: "pgcdc WalDecoder (@pgcdc/replication: WalMessage, table resolved, values decoded by column name)",
  make: async () => (payloads) => {
    // One decoder per pass, as one per replication session: the Relation message is decoded again each pass.
    const decoder = new WalDecoder({ protoVersion: 1 })
    let rows = 0
    for (const payload of payloads) {
      // As the Replication service does: the XLogData header and message decoded in one call, from the payload.
      if (payload[0] !== XLOG_DATA) continue
      const message = decoder.unsafeDecodeFrame(payload, 0, payload.length)
      if (message._tag === "Insert" || message._tag === "Update" || message._tag === "Delete") rows++
    }
    return rows
  }
}

const pgLogicalReplication: Decoder = {
  id: "pglr",
  label: "pg-logical-replication 2.5 (PgoutputPlugin.parse, pg type parsers)",
  make: async () => {
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: ["bench_pub"] })
    return (payloads) => {
      let rows = 0
      for (const payload of payloads) {
        if (payload[0] !== 0x77) continue
        const message = plugin.parse(payload.subarray(25))
        if (message.tag === "insert" || message.tag === "update" || message.tag === "delete") rows++
      }
      return rows
    }
  }
}

type SubscribeFn = (event: string, fn: (row: unknown, info: { command: string }) => void) => Promise<unknown>
type SubscribeFactory = (factory: (options: object) => object, options: object) => SubscribeFn

const postgresJs: Decoder = {
  id: "postgresjs",
  label: "postgres.js 3.4 (its subscribe parser via a fake connection, default type parsers)",
  make: async () => {
    const subscribeUrl = new URL("./subscribe.js", import.meta.resolve("postgres"))
    const Subscribe = ((await import(subscribeUrl.href)) as { default: SubscribeFactory }).default
    // A real (never connected) postgres.js instance supplies the type parsers its subscribe would use.
    const parsed = postgres({ host: "127.0.0.1", fetch_types: false, publications: "bench_pub" }).options
    const parsers = (parsed as { parsers: object }).parsers
    const stream = Object.assign(new EventEmitter(), { write: () => true, end: () => undefined })
    const fakeSql = {
      options: { parsers },
      unsafe: (query: string) =>
        query.startsWith("CREATE_REPLICATION_SLOT")
          ? Promise.resolve(Object.assign([{ consistent_point: "0/0" }], { state: {} }))
          : { writable: () => Promise.resolve(stream) },
      end: () => Promise.resolve(),
      close: () => Promise.resolve()
    }
    const subscribe = Subscribe(() => fakeSql, { ...parsed })
    let rows = 0
    await subscribe("*", () => {
      rows++
    })
    return (payloads) => {
      rows = 0
      for (const payload of payloads) stream.emit("data", payload)
      return rows
    }
  }
}

const jsonParseFloor: Decoder = {
  id: "json-floor",
  label: "reference: JSON.parse of each row's jsonb text alone (texts extracted before timing)",
  make: async (payloads) => {
    // The texts are extracted here, before any pass: every pass, the first one included, only parses them.
    const texts: Array<string> = []
    for (const payload of payloads) {
      const m = unsafeDecodeReplication(payload)
      if (m._tag !== "XLogData") continue
      const message = unsafeDecodePgoutput(m.data, pgoutputOptions)
      if (message._tag !== "Insert") continue
      const last = message.newTuple[message.newTuple.length - 1]
      if (typeof last === "string" && last.startsWith("{")) texts.push(last)
    }
    return () => {
      let rows = 0
      for (const text of texts) if (JSON.parse(text) !== null) rows++
      return rows
    }
  }
}

export const decoders: ReadonlyArray<Decoder> = [
  pgcdcProtocol,
  pgcdcWalDecoder,
  pgLogicalReplication,
  postgresJs,
  jsonParseFloor
]
