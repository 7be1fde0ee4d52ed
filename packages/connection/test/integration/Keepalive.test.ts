/**
 * TCP keepalive as the kernel applies it, against a real PostgreSQL 18: a replication session can sit idle for a long
 * time, and only keepalive probes notice a peer that vanished without closing the connection. Linux lists every TCP
 * socket in /proc/net/tcp and /proc/net/tcp6 with its pending timer ("tr" 2 is the keepalive timer, "tm->when" the
 * time until it fires, in hundredths of a second); the socket is found by its local port, which the server reports as
 * the session's `client_port`. (pgcdc's builds and tests target Linux x64: see TOOLCHAIN.)
 */
import { readFileSync } from "node:fs"
import { assert, layer } from "@effect/vitest"
import { TestDatabase } from "@pgcdc/testing"
import { Duration, Effect, Redacted, Schedule } from "effect"
import { Connection, type ConnectionConfig, type ConnectionShape } from "../../src/index.ts"

const configOf = (db: TestDatabase["Service"], extra: Partial<ConnectionConfig>): ConnectionConfig => ({
  host: db.host,
  port: db.port,
  user: db.user,
  password: Redacted.make(db.password),
  database: db.database,
  applicationName: "pgcdc-keepalive-test",
  ...extra
})

interface SocketTimer {
  /** 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe. */
  readonly timer: number
  /** Time until the timer fires, in hundredths of a second. */
  readonly when: number
}

/** The pending timer of the established TCP socket whose local port is `localPort` and remote port `remotePort`. */
const socketTimer = (localPort: number, remotePort: number): SocketTimer | undefined => {
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const lines = readFileSync(file, "utf8").split("\n").slice(1)
    for (const line of lines) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when ...
      const fields = line.trim().split(/\s+/)
      if (fields.length < 6) continue
      const local = Number.parseInt(fields[1]!.split(":")[1]!, 16)
      const remote = Number.parseInt(fields[2]!.split(":")[1]!, 16)
      if (local !== localPort || remote !== remotePort || fields[3] !== "01") continue
      const [timer, when] = fields[5]!.split(":")
      return { timer: Number.parseInt(timer!, 16), when: Number.parseInt(when!, 16) }
    }
  }
  return undefined
}

/**
 * The timer of this connection's socket once it is idle: right after a query the retransmit timer may still run
 * until the server's ACK arrives, so this waits (bounded) for it to end.
 */
const idleTimer = (conn: ConnectionShape, serverPort: number) =>
  Effect.gen(function* () {
    const rows = yield* conn.query("SELECT client_port FROM pg_stat_activity WHERE pid = pg_backend_pid()")
    const clientPort = Number(rows[0]!.rows[0]![0])
    return yield* Effect.sync(() => socketTimer(clientPort, serverPort)).pipe(
      Effect.flatMap((t) =>
        t === undefined
          ? Effect.die(new Error(`no established socket from local port ${clientPort} in /proc/net/tcp{,6}`))
          : t.timer === 1
            ? Effect.fail("retransmit timer still running" as const)
            : Effect.succeed(t)
      ),
      Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 250 })
    )
  })

layer(TestDatabase.layer({ major: 18 }), { excludeTestServices: true })("TCP keepalive on PostgreSQL 18", (it) => {
  it.effect("is on by default, with the configured idle time before the first probe", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const byDefault = yield* idleTimer(yield* Connection.make(configOf(db, {})), db.port)
      assert.strictEqual(byDefault.timer, 2, "the keepalive timer runs on an idle connection")
      assert.isAtMost(byDefault.when, 60 * 100, "first probe within the default 60 s")
      assert.isAbove(byDefault.when, 7 * 100, "not the 7 s of the next connection")

      const quick = yield* idleTimer(
        yield* Connection.make(configOf(db, { keepAliveIdle: Duration.seconds(7) })),
        db.port
      )
      assert.strictEqual(quick.timer, 2)
      assert.isAtMost(quick.when, 7 * 100, "first probe within the configured 7 s")
    }).pipe(Effect.scoped)
  )

  it.effect("is off when the config turns it off", () =>
    Effect.gen(function* () {
      const db = yield* TestDatabase
      const off = yield* idleTimer(yield* Connection.make(configOf(db, { keepAlive: false })), db.port)
      assert.strictEqual(off.timer, 0, "no timer at all on an idle connection without keepalive")
    }).pipe(Effect.scoped)
  )
})
