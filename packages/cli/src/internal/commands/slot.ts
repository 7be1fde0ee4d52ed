/**
 * `pgcdc slot list | create | drop | inspect`: replication slots through the library's `Slot` module, plus the one
 * column it does not read (`safe_wal_size`, how much more WAL the slot may hold back before the server invalidates
 * it). Slots are listed for the whole server, as `pg_replication_slots` has them.
 *
 * Human output is a table or `key: value` lines; `--json` prints the same as JSON, LSNs as "X/Y" text and byte
 * counts as decimal strings (exact beyond 2^53). It deliberately never creates a slot implicitly: `create` is the only
 * verb that does.
 */
import { Connection, type ConnectionShape } from "@pgcdc/connection"
import { Lsn, Slot } from "@pgcdc/replication"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { Argument, Command } from "effect/cli"
import { handler } from "../../Main.ts"
import * as Connect from "../connect.ts"
import { CommandError } from "../failure.ts"
import { bytes } from "../format.ts"
import { Json } from "../globalFlags.ts"
import * as Inputs from "../inputs.ts"
import * as Output from "../output.ts"
import { literal, select } from "../sql.ts"
import { switchFlag } from "./sharedFlags.ts"

const nameArgument = Argument.String("name").pipe(Argument.withDescription("The slot's name"))

const lsnText = (lsn: Lsn.Lsn | null): string | null => (lsn === null ? null : Lsn.format(lsn))

/** The slot as JSON: exact, with LSNs as "X/Y". */
export const slotJson = (info: Slot.SlotInfo, safeWalSize: bigint | null) => ({
  slot: info.slotName,
  plugin: info.plugin,
  slotType: info.slotType,
  database: info.database,
  temporary: info.temporary,
  active: info.active,
  activePid: info.activePid,
  restartLsn: lsnText(info.restartLsn),
  confirmedFlushLsn: lsnText(info.confirmedFlushLsn),
  walStatus: info.walStatus,
  safeWalSize: safeWalSize === null ? null : safeWalSize.toString(),
  lagBytes: info.lagBytes === null ? null : info.lagBytes.toString()
})

const orDash = (text: string | null): string => text ?? "-"

/** `safe_wal_size` of each slot, by name (null: no max_slot_wal_keep_size limit, or a lost slot). */
const safeWalSizes = (conn: ConnectionShape, name?: string) =>
  Effect.map(
    select(
      conn,
      `SELECT slot_name, safe_wal_size::text AS safe FROM pg_catalog.pg_replication_slots${name === undefined ? "" : ` WHERE slot_name = ${literal(name)}`} ORDER BY slot_name`
    ),
    (rows) => new Map(rows.map((r) => [r.slot_name ?? "", r.safe === null ? null : BigInt(r.safe)]))
  )

const inspectAll = (conn: ConnectionShape) =>
  Effect.gen(function* () {
    const sizes = yield* safeWalSizes(conn)
    const slots: Array<ReturnType<typeof slotJson>> = []
    for (const [name, safe] of sizes) {
      const info = yield* Slot.inspect(name)
      // Dropped between the two queries: not there any more.
      if (Option.isSome(info)) slots.push(slotJson(info.value, safe))
    }
    return slots
  }).pipe(Effect.provideService(Connection, conn))

const list = Command.make(
  "list",
  {},
  handler("pgcdc slot list", () =>
    Effect.gen(function* () {
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      const slots = yield* inspectAll(conn)
      if (json) return yield* Output.out(JSON.stringify(slots))
      if (slots.length === 0) return yield* Output.err("no replication slots")
      yield* Output.outLines(
        Output.table(
          ["slot", "plugin", "database", "active", "wal_status", "confirmed", "lag"],
          slots.map((s) => [
            s.slot,
            orDash(s.plugin),
            orDash(s.database),
            s.active ? `pid ${s.activePid}` : "no",
            orDash(s.walStatus),
            orDash(s.confirmedFlushLsn),
            s.lagBytes === null ? "-" : bytes(BigInt(s.lagBytes))
          ])
        )
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("Lists the server's replication slots"))

const inspect = Command.make(
  "inspect",
  { name: nameArgument },
  handler("pgcdc slot inspect", (f) =>
    Effect.gen(function* () {
      const name = yield* Inputs.slotName(f.name)
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      const info = yield* Slot.inspect(name).pipe(Effect.provideService(Connection, conn))
      if (Option.isNone(info)) return yield* new CommandError({ message: `There is no replication slot "${name}"` })
      const slot = slotJson(info.value, (yield* safeWalSizes(conn, name)).get(name) ?? null)
      if (json) return yield* Output.out(JSON.stringify(slot))
      const width = Math.max(...Object.keys(slot).map((k) => k.length)) + 1
      yield* Output.outLines(
        Object.entries(slot).map(([key, value]) => {
          const text = value === null ? "-" : String(value)
          const human =
            (key === "lagBytes" || key === "safeWalSize") && value !== null ? ` (${bytes(BigInt(text))})` : ""
          return `${`${key}:`.padEnd(width)} ${text}${human}`
        })
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("Shows one slot: state, positions, WAL status, how far it lags"))

const create = Command.make(
  "create",
  {
    name: nameArgument,
    twoPhase: switchFlag("two-phase", "Decode prepared transactions at PREPARE (PostgreSQL 15+)"),
    failover: switchFlag("failover", "Synchronise the slot to physical standbys (PostgreSQL 17+)")
  },
  handler("pgcdc slot create", (f) =>
    Effect.gen(function* () {
      const name = yield* Inputs.slotName(f.name)
      const json = yield* Json
      const conn = yield* Connect.sql(yield* Connect.config)
      const created = yield* Slot.create(name, { twoPhase: f.twoPhase, failover: f.failover }).pipe(
        Effect.provideService(Connection, conn)
      )
      const point = Lsn.format(created.consistentPoint)
      yield* Output.out(
        json
          ? JSON.stringify({ slot: created.slotName, plugin: created.outputPlugin, consistentPoint: point })
          : `created slot ${created.slotName} (pgoutput) at ${point}`
      )
    }).pipe(Effect.scoped)
  )
).pipe(
  Command.withDescription(
    "Creates a logical replication slot (pgoutput): it holds WAL from now on until a consumer confirms it"
  )
)

const drop = Command.make(
  "drop",
  {
    name: nameArgument,
    wait: switchFlag("wait", "Wait for the consumer streaming from it to let go, instead of failing"),
    ifExists: switchFlag("if-exists", "Succeed when there is no such slot")
  },
  handler("pgcdc slot drop", (f) =>
    Effect.gen(function* () {
      const name = yield* Inputs.slotName(f.name)
      const json = yield* Json
      const conn = yield* Connect.walsender(yield* Connect.config)
      const existed = Option.isSome(yield* Slot.inspect(name).pipe(Effect.provideService(Connection, conn)))
      yield* Slot.drop(name, { wait: f.wait, ifExists: f.ifExists }).pipe(Effect.provideService(Connection, conn))
      yield* Output.out(
        json ? JSON.stringify({ slot: name, dropped: existed }) : existed ? `dropped slot ${name}` : `no slot ${name}`
      )
    }).pipe(Effect.scoped)
  )
).pipe(Command.withDescription("Drops a replication slot (the server then frees the WAL it held)"))

export const slot = Command.make("slot").pipe(
  Command.withDescription("Replication slots: list, create, drop, inspect"),
  Command.withSubcommands([list, inspect, create, drop])
)
