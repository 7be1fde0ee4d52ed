/**
 * Client process: pg-logical-replication 2.5 (npm) with its pgoutput plugin, protocol version 1, and manual
 * acknowledgement of every transaction's commit LSN (its documented way to acknowledge only what was processed), or,
 * with the argument `no-ack` after the config, no acknowledgement at all (what its users get when they leave
 * acknowledgement off: nothing is ever confirmed, so the slot never advances).
 *
 * Measures from the service's "start" event (CopyBothResponse received: START_REPLICATION accepted) to the end
 * marker. Values are parsed by the library itself (node-postgres's type parsers).
 */
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from "pg-logical-replication"
import { fail, finish, Meter, readConfig } from "../ChildProtocol.ts"

const config = readConfig()
const acknowledge = process.argv[3] !== "no-ack"
const meter = new Meter()
let changes = 0
let commits = 0
let ended = false

const service = new LogicalReplicationService(
  {
    host: config.host,
    port: config.port,
    user: config.user,
    password: config.password,
    database: config.database,
    application_name: config.applicationName
  },
  { acknowledge: { auto: false, timeoutSeconds: 0 } }
)
const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [config.publication] })

service.on("start", () => meter.start())
service.on("error", (error: Error) => {
  if (!ended) void fail(error)
})
service.on("data", (lsn: string, message: Pgoutput.Message) => {
  if (ended) return
  switch (message.tag) {
    case "insert":
      if (message.relation.name === config.endTable) {
        ended = true
        const result = meter.stop(changes, commits)
        void finish(result).then(
          () => process.exit(0),
          (error) => fail(error)
        )
        return
      }
      if (message.relation.name === config.dataTable) changes++
      return
    case "update":
    case "delete":
      if (message.relation.name === config.dataTable) changes++
      return
    case "commit":
      commits++
      if (acknowledge) void service.acknowledge(lsn)
      return
    default:
      return
  }
})

service.subscribe(plugin, config.slot).catch((error: unknown) => {
  if (!ended) void fail(error)
})
