/**
 * Client process: postgres.js 3.4 `subscribe` (its logical-replication API: pgoutput, protocol version 1, values
 * parsed by its own type parsers).
 *
 * postgres.js always creates a TEMPORARY slot of its own when `subscribe` connects, so it could never drain a slot
 * created before the workload. To give it the same WAL as the other clients, this process hands postgres.js's
 * `Subscribe` (from its own module `src/subscribe.js`) a `postgres` factory whose `unsafe` rewrites exactly two
 * statements: the CREATE_REPLICATION_SLOT becomes a SELECT of the prepared slot's position, and the random slot name
 * in START_REPLICATION becomes the prepared slot's name. Everything else (the socket, the CopyData handling, the
 * pgoutput parsing, the type parsers, the keepalive replies) is postgres.js's own code, unchanged.
 *
 * postgres.js exposes no acknowledgement: it only answers keepalives. Measures from the moment START_REPLICATION is
 * handed to postgres.js to the end marker.
 */
import postgres from "postgres"
import { fail, finish, Meter, readConfig } from "../ChildProtocol.ts"

const config = readConfig()
let changes = 0
let ended = false

type Sql = ReturnType<typeof postgres>
type Unsafe = (query: string, ...rest: ReadonlyArray<unknown>) => unknown
type SubscribeFn = (
  event: string,
  fn: (row: unknown, info: { command: string; relation: { table: string } }) => void,
  onsubscribe?: () => void,
  onerror?: (error: unknown) => void
) => Promise<unknown>
type SubscribeFactory = (factory: (options: object) => Sql, options: object) => SubscribeFn

// `postgres` has an exports map with only ".", so resolve its entry point and load the sibling module by URL.
const subscribeUrl = new URL("./subscribe.js", import.meta.resolve("postgres"))
const Subscribe = ((await import(subscribeUrl.href)) as { default: SubscribeFactory }).default
// After the last import, as in every client: the Meter records what start-up and the imports cost.
const meter = new Meter()

const slotOf = (query: string): string | undefined => /^CREATE_REPLICATION_SLOT (\S+) TEMPORARY/.exec(query)?.[1]
let randomSlot: string | undefined

const factory = (options: object): Sql => {
  const sql = postgres(options)
  const unsafe = sql.unsafe as unknown as Unsafe
  const rewritten: Unsafe = (query, ...rest) => {
    const created = slotOf(query)
    if (created !== undefined) {
      randomSlot = created
      return unsafe(
        `SELECT confirmed_flush_lsn::text AS consistent_point FROM pg_replication_slots WHERE slot_name = '${config.slot}'`
      )
    }
    if (randomSlot !== undefined && query.startsWith(`START_REPLICATION SLOT ${randomSlot} `)) {
      meter.start()
      return unsafe(query.replace(randomSlot, config.slot), ...rest)
    }
    return unsafe(query, ...rest)
  }
  Object.assign(sql, { unsafe: rewritten })
  return sql
}

// `sql.subscribe` hands Subscribe its parsed options; do the same (the instance itself never connects).
const parsed = postgres({
  host: config.host,
  port: config.port,
  user: config.user,
  password: config.password,
  database: config.database,
  publications: config.publication,
  connection: { application_name: config.applicationName }
}).options
const subscribe = Subscribe(factory, { ...parsed })

await subscribe(
  "*",
  (_row, info) => {
    if (ended) return
    if (info.relation.table === config.endTable) {
      ended = true
      const result = meter.stop(changes, -1)
      void finish(result).then(
        () => process.exit(0),
        (error) => fail(error)
      )
      return
    }
    if (info.relation.table === config.dataTable) changes++
  },
  undefined,
  (error) => {
    if (!ended) void fail(error)
  }
).catch(fail)
