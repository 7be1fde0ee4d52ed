/**
 * Injecting one planned fault into the running system and recording what happened: when it started and ended, and
 * what it touched (the consumer run killed, the walsender terminated, the slot's confirmed position at a kill).
 *
 * - kill: waits until the journal grows (the consumer has just written a transaction and is committing it), sends
 *   SIGKILL, waits for the slot to be released, reads its confirmed_flush_lsn (what the server will resend after),
 *   waits the planned delay and starts the next consumer run.
 * - terminate: pg_terminate_backend(active_pid of the slot).
 * - restart-fast / restart-immediate: pg_ctl restart -m fast / -m immediate.
 * - restart-smart: pg_ctl stop -m smart. A smart shutdown waits for every regular session to end, but not for
 *   walsenders (checked on PostgreSQL 18: with only the consumer's walsender connected it stops at once; with
 *   another session open it waits for that session). So the writer keeps working on its open session for a moment,
 *   then closes it (`recycle`), the shutdown completes, and pg_ctl start brings the server back. If the stop has
 *   not completed after 20 s, a fast stop ends it and the record says so.
 * - stall: the consumer's handler sleeps (stall file + SIGUSR2); freeze: SIGSTOP then SIGCONT.
 *
 * It does not decide when faults happen (FaultSchedule.ts) or judge their effect (Verifier.ts).
 */
import type { ServerControl } from "@pgcdc/testing"
import type { TestDatabaseInfo } from "@pgcdc/testing"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as fs from "node:fs/promises"
import { ChaosError, poll, scalar } from "./Admin.ts"
import type { Consumers } from "./ConsumerProcess.ts"
import type { Fault, FaultKind } from "./FaultSchedule.ts"
import { slot } from "./Workload.ts"
import type { Writer } from "./Writer.ts"

export interface FaultContext {
  readonly db: TestDatabaseInfo
  readonly control: ServerControl
  readonly consumers: Consumers
  readonly writer: Writer
  readonly journal: string
  readonly stallFile: string
}

export type Detail = string | number | boolean | null

export interface FaultRecord {
  readonly index: number
  readonly kind: FaultKind
  readonly plannedAtMs: number
  /** Date.now() when it started and ended. */
  readonly startedAt: number
  readonly endedAt: number
  readonly details: Readonly<Record<string, Detail>>
  /** Set when the fault could not be injected as planned. */
  readonly error?: string | undefined
}

const journalSize = (file: string) =>
  Effect.promise(() =>
    fs.stat(file).then(
      (s) => s.size,
      () => 0
    )
  )

/** Waits until the slot has no active walsender; its confirmed_flush_lsn then, or undefined after `limitMs`. */
export const slotReleased = (db: TestDatabaseInfo, limitMs: number) =>
  poll(
    Effect.map(
      scalar(
        db,
        `SELECT CASE WHEN active THEN NULL ELSE confirmed_flush_lsn::text END FROM pg_replication_slots WHERE slot_name = '${slot}'`
      ),
      (lsn) => lsn ?? undefined
    ),
    20,
    limitMs
  )

const kill = (ctx: FaultContext, restartDelayMs: number) =>
  Effect.gen(function* () {
    const before = yield* journalSize(ctx.journal)
    // "Right after a commit": the consumer commits as soon as its line is written and fsynced.
    const grew = yield* poll(
      Effect.map(journalSize(ctx.journal), (size) => (size > before ? true : undefined)),
      1,
      2000
    )
    const killedAt = Date.now()
    const record = yield* ctx.consumers.kill
    const confirmed = yield* slotReleased(ctx.db, 15_000)
    if (confirmed === undefined) {
      return yield* new ChaosError({
        message: `the slot was still active 15 s after consumer run ${record.run} was killed`
      })
    }
    const releasedAt = Date.now()
    yield* Effect.sleep(restartDelayMs)
    const next = yield* ctx.consumers.start
    return {
      killedRun: record.run,
      killedAt,
      afterJournalWrite: grew === true,
      confirmedAtKill: confirmed,
      slotReleasedMs: releasedAt - killedAt,
      nextRun: next.run,
      nextStartedMs: (next.startedAt ?? Date.now()) - killedAt
    }
  })

const terminate = (ctx: FaultContext) =>
  Effect.gen(function* () {
    const pid = yield* poll(
      Effect.map(
        scalar(ctx.db, `SELECT active_pid FROM pg_replication_slots WHERE slot_name = '${slot}' AND active`),
        (p) => p ?? undefined
      ),
      50,
      15_000
    )
    if (pid === undefined) return yield* new ChaosError({ message: "no walsender held the slot for 15 s" })
    const done = yield* scalar(ctx.db, `SELECT pg_terminate_backend(${Number(pid)})`)
    return { walsenderPid: Number(pid), terminated: done === "t" }
  })

const restartSmart = (ctx: FaultContext) =>
  Effect.gen(function* () {
    const stopping = yield* Effect.forkChild(Effect.result(ctx.control.stop("smart")))
    // While the smart shutdown waits, the writer's open session still works; new sessions are refused.
    const before = ctx.writer.lastCommitted()
    yield* Effect.sleep(500)
    const committedWhileStopping = ctx.writer.lastCommitted() - before
    yield* ctx.writer.recycle
    const stopped = yield* Fiber.join(stopping).pipe(Effect.timeoutOption("20 seconds"))
    let fellBack = false
    if (stopped._tag === "None" || stopped.value._tag === "Failure") {
      fellBack = true
      yield* Fiber.interrupt(stopping)
      yield* ctx.control.stop("fast")
    }
    yield* ctx.control.start
    return { committedWhileStopping, fellBackToFast: fellBack }
  })

const stall = (ctx: FaultContext, durationMs: number) =>
  Effect.gen(function* () {
    const run = ctx.consumers.current()?.run
    if (run === undefined) return yield* new ChaosError({ message: "no consumer to stall" })
    yield* Effect.promise(() => fs.writeFile(ctx.stallFile, String(durationMs)))
    const from = ctx.consumers.events.length
    yield* ctx.consumers.signal("SIGUSR2")
    const seen = (ev: "stall" | "stall-end") =>
      Effect.sync(() => ctx.consumers.events.slice(from).find((e) => e.run === run && e.event.ev === ev)?.event.at)
    const began = yield* poll(seen("stall"), 20, 10_000)
    if (began === undefined) return yield* new ChaosError({ message: `consumer run ${run} did not stall` })
    const ended = yield* poll(seen("stall-end"), 20, durationMs + 10_000)
    return { run, stalledMs: ended === undefined ? null : ended - began }
  })

const freeze = (ctx: FaultContext, durationMs: number) =>
  Effect.gen(function* () {
    const run = ctx.consumers.current()?.run
    yield* ctx.consumers.signal("SIGSTOP")
    yield* Effect.sleep(durationMs).pipe(Effect.ensuring(Effect.ignore(ctx.consumers.signal("SIGCONT"))))
    return { run: run ?? null }
  })

const inject = (ctx: FaultContext, fault: Fault): Effect.Effect<Record<string, Detail>, ChaosError> => {
  switch (fault.kind) {
    case "kill":
      return kill(ctx, fault.restartDelayMs)
    case "terminate":
      return terminate(ctx)
    case "restart-fast":
      return Effect.as(ctx.control.restart("fast"), {}).pipe(
        Effect.mapError((e) => new ChaosError({ message: e.message, cause: e }))
      )
    case "restart-immediate":
      return Effect.as(ctx.control.restart("immediate"), {}).pipe(
        Effect.mapError((e) => new ChaosError({ message: e.message, cause: e }))
      )
    case "restart-smart":
      return restartSmart(ctx).pipe(Effect.mapError((e) => new ChaosError({ message: e.message, cause: e })))
    case "stall":
      return stall(ctx, fault.durationMs)
    case "freeze":
      return freeze(ctx, fault.durationMs)
  }
}

/** Injects the fault and records it; a fault that cannot be injected is recorded with its error, not thrown. */
export const execute = (ctx: FaultContext, fault: Fault): Effect.Effect<FaultRecord> =>
  Effect.gen(function* () {
    const startedAt = Date.now()
    const result = yield* Effect.result(inject(ctx, fault).pipe(Effect.timeout("90 seconds")))
    const endedAt = Date.now()
    const base = { index: fault.index, kind: fault.kind, plannedAtMs: fault.atMs, startedAt, endedAt }
    return result._tag === "Success"
      ? { ...base, details: result.success }
      : { ...base, details: {}, error: result.failure.message }
  })
