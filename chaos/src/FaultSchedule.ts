/**
 * The fault schedule of a chaos run: which faults happen, at what offset from the start, with what parameters — a
 * pure function of the seed, the run's duration and the server's wal_sender_timeout, so that a seed printed by a
 * failing run gives the same schedule again.
 *
 * Faults never overlap by design: each one gets a slot long enough for it to happen and for the consumer to recover
 * (`allowanceMs`), plus a random gap. Every kind appears once, in random order, before any appears twice, so a short
 * run has each kind at least once (the first round always completes, even past the requested duration; `endMs`
 * says when the schedule really ends). The timing is a plan: the runner starts a fault at its offset or, when the
 * previous one took longer than planned, right after it, and reports both.
 *
 * It does not execute anything (see Faults.ts) and does not read the clock.
 */
import * as Random from "./Random.ts"

/** The faults of the issue, plus `freeze` (SIGSTOP: a consumer that cannot answer), only for negative tests. */
export type FaultKind =
  | "kill"
  | "terminate"
  | "restart-fast"
  | "restart-immediate"
  | "restart-smart"
  | "stall"
  | "freeze"

/** Every fault the issue asks for; `freeze` is not among them (it must make the server time the consumer out). */
export const standardKinds: ReadonlyArray<FaultKind> = [
  "kill",
  "terminate",
  "restart-fast",
  "restart-immediate",
  "restart-smart",
  "stall"
]

export type Fault =
  | {
      readonly index: number
      readonly atMs: number
      /** SIGKILL the consumer right after it journals and commits a transaction, start it again after a delay. */
      readonly kind: "kill"
      readonly restartDelayMs: number
    }
  | {
      readonly index: number
      readonly atMs: number
      /** The consumer's handler sleeps (`stall`), or the whole process is stopped with SIGSTOP (`freeze`). */
      readonly kind: "stall" | "freeze"
      readonly durationMs: number
    }
  | {
      readonly index: number
      readonly atMs: number
      /** pg_terminate_backend of the walsender; pg_ctl restart -m fast / immediate; the smart stop, then start. */
      readonly kind: "terminate" | "restart-fast" | "restart-immediate" | "restart-smart"
    }

export interface ScheduleOptions {
  readonly seed: number
  /** How long the writer runs; faults are planned to end before it stops (after the first round). */
  readonly durationMs: number
  /** The server's wal_sender_timeout: a stall lasts 1.5 to 2.5 times it. */
  readonly walSenderTimeoutMs: number
  /** Which kinds to draw from; default `standardKinds`. */
  readonly kinds?: ReadonlyArray<FaultKind> | undefined
}

export interface FaultSchedule {
  readonly seed: number
  readonly faults: ReadonlyArray<Fault>
  /** When the last fault's slot ends: the run lasts at least this long. */
  readonly endMs: number
}

/** Quiet time before the first fault and after the last one's slot. */
export const warmupMs = 3000
export const quietTailMs = 3000

/**
 * How long a fault's slot lasts before the gap to the next: the fault itself and the consumer's recovery with the
 * service's default reconnect schedule (100, 200, 400 ms... after each failed attempt). Measured on a 2-core
 * machine with room to spare; a fault that takes longer only delays the next one.
 */
export const allowanceMs = (fault: Fault): number => {
  switch (fault.kind) {
    case "kill":
      // SIGKILL, the walsender's exit, the delay, and a new Node process importing the library (about 1 s).
      return 2500 + fault.restartDelayMs
    case "terminate":
      return 1200
    case "restart-fast":
      return 3000
    case "restart-immediate":
      return 3500
    case "restart-smart":
      return 3500
    case "stall":
      return fault.durationMs + 1000
    case "freeze":
      // After SIGCONT the consumer finds its session gone (timed out) and reconnects.
      return fault.durationMs + 3000
  }
}

const planFault = (rng: Random.Random, kind: FaultKind, index: number, atMs: number, wstMs: number): Fault => {
  switch (kind) {
    case "kill":
      return { index, atMs, kind, restartDelayMs: rng.int(0, 500) }
    case "stall":
    case "freeze":
      return { index, atMs, kind, durationMs: Math.round(wstMs * (1.5 + rng.next())) }
    default:
      return { index, atMs, kind }
  }
}

/** The schedule for a seed. The same options always give the same schedule. */
export const make = (options: ScheduleOptions): FaultSchedule => {
  const kinds = options.kinds ?? standardKinds
  if (kinds.length === 0) return { seed: options.seed, faults: [], endMs: options.durationMs }
  const rng = Random.make(options.seed, "schedule")
  const faults: Array<Fault> = []
  let at = warmupMs
  let round: Array<FaultKind> = []
  for (;;) {
    const firstRound = faults.length < kinds.length
    if (round.length === 0) round = rng.shuffle(kinds)
    const fault = planFault(rng, round[0]!, faults.length, at, options.walSenderTimeoutMs)
    const slotEnd = at + allowanceMs(fault)
    if (!firstRound && slotEnd + quietTailMs > options.durationMs) break
    round.shift()
    faults.push(fault)
    at = slotEnd + rng.int(300, 1500)
  }
  const last = faults.at(-1)
  const endMs = last === undefined ? 0 : last.atMs + allowanceMs(last)
  return { seed: options.seed, faults, endMs: Math.max(options.durationMs, endMs + quietTailMs) }
}

/** What a fault is, in a few words: "kill (restart after 120 ms)". */
export const describe = (fault: Fault): string => {
  switch (fault.kind) {
    case "kill":
      return `kill: SIGKILL the consumer right after a commit, start it again after ${fault.restartDelayMs} ms`
    case "stall":
      return `stall: the consumer's handler sleeps ${fault.durationMs} ms`
    case "freeze":
      return `freeze: SIGSTOP the consumer for ${fault.durationMs} ms`
    case "terminate":
      return "terminate: pg_terminate_backend of the consumer's walsender"
    case "restart-fast":
      return "restart-fast: pg_ctl restart -m fast"
    case "restart-immediate":
      return "restart-immediate: pg_ctl restart -m immediate"
    case "restart-smart":
      return "restart-smart: pg_ctl stop -m smart (the writer then closes its session), pg_ctl start"
  }
}

/** One line per fault with its offset, as the runner prints it before starting. */
export const format = (schedule: FaultSchedule): string =>
  [
    `seed ${schedule.seed}: ${schedule.faults.length} faults over ${(schedule.endMs / 1000).toFixed(1)} s`,
    ...schedule.faults.map(
      (f) => `  #${String(f.index).padStart(2)} +${(f.atMs / 1000).toFixed(1).padStart(6)} s  ${describe(f)}`
    )
  ].join("\n")
