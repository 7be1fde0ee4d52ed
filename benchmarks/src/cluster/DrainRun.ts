/**
 * One run of one variant of the cluster benchmark, measured from the driver: starts the consumer processes, follows
 * their messages (DrainProtocol.ts) until the placement is settled, opens every gate at once, then polls
 * pg_replication_slots until every slot's confirmed_flush_lsn reaches the backlog's end, and reads every process's
 * CPU time (/proc/<pid>/stat) and peak RSS (VmHWM) at the gate and at the end. Then it kills the processes.
 *
 * "Settled": every process is up, every slot's consumer is at the gate, and nothing has changed for `settleMs`
 * (long enough for a join-triggered rebalance of the cluster to have happened; the single-slot processes wait as long,
 * so that in both variants the walsenders have had the same time to fill the consumers' buffers).
 * It deliberately knows nothing about the report (ClusterReport.ts).
 */
import type pg from "pg"
import { cpuOf, peakRssKbOf } from "../Proc.ts"
import type { DrainMeasurement } from "./ClusterReport.ts"
import { ConsumerProcesses } from "./ConsumerProcesses.ts"
import type { DrainConfig } from "./DrainProtocol.ts"

export interface DrainRunOptions {
  readonly admin: pg.Client
  readonly script: string
  /** One config per process. */
  readonly configs: ReadonlyArray<DrainConfig>
  readonly slots: ReadonlyArray<string>
  /** Each slot's end position (in slot order). */
  readonly endLsns: ReadonlyArray<string>
  readonly settleMs: number
  /** Where the processes' output goes. */
  readonly logFile: string
  readonly timeoutMs: number
}

const POLL_MS = 10

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** An LSN as a number ("16/B374D848" → 0x16B374D848); exact below 2^53, far beyond any test server's WAL. */
export const lsnValue = (lsn: string): number => {
  const [high, low] = lsn.split("/")
  return Number.parseInt(high!, 16) * 2 ** 32 + Number.parseInt(low!, 16)
}

/** user + system of each process (0 for one that is gone). */
const cpuMsOf = (pids: ReadonlyArray<number>): Array<number> =>
  pids.map((pid) => {
    const cpu = cpuOf(pid)
    return cpu === undefined ? 0 : cpu.userMs + cpu.systemMs
  })

const sum = (xs: ReadonlyArray<number>): number => xs.reduce((a, b) => a + b, 0)

const activePids = async (admin: pg.Client, slots: ReadonlyArray<string>) =>
  (
    await admin.query<{ slot_name: string; pid: number | null }>(
      "SELECT slot_name, active_pid AS pid FROM pg_replication_slots WHERE slot_name = ANY($1)",
      [slots]
    )
  ).rows

/**
 * The CPU time each slot's walsender spends in the drain: a walsender streaming at the gate counts from its reading
 * there, one that appears later (a consumer that starts its stream lazily, or a move) from its start. Each one's
 * latest reading is kept, so one that exits still counts.
 */
class WalsenderCpu {
  private readonly walsenders = new Map<number, { slot: string; base: number; last: number }>()

  observe(rows: ReadonlyArray<{ slot_name: string; pid: number | null }>, atGate: boolean): void {
    for (const { slot_name, pid } of rows) {
      if (pid === null || this.walsenders.has(pid)) continue
      const now = cpuMsOf([pid])[0]!
      this.walsenders.set(pid, { slot: slot_name, base: atGate ? now : 0, last: now })
    }
    for (const [pid, w] of this.walsenders) {
      const cpu = cpuOf(pid)
      if (cpu !== undefined) w.last = cpu.userMs + cpu.systemMs
    }
  }

  ofSlot(slot: string): number {
    let total = 0
    for (const w of this.walsenders.values()) if (w.slot === slot) total += w.last - w.base
    return total
  }
}

export const runDrain = async (o: DrainRunOptions): Promise<DrainMeasurement> => {
  const processes = new ConsumerProcesses(o.script, o.configs, o.logFile)
  const { pids } = processes
  try {
    // Settle: everything up and every slot at a gate, unchanged for settleMs.
    for (;;) {
      processes.check(o.timeoutMs)
      if (processes.allReady(o.slots.length) && performance.now() - processes.lastChange >= o.settleMs) break
      await delay(POLL_MS)
    }
    const placement = processes.placement()
    const walsenders = new WalsenderCpu()
    walsenders.observe(await activePids(o.admin, o.slots), true)
    const cpuAtGo = cpuMsOf(pids)
    const readyAtGo = processes.readyEvents
    const go = performance.now()
    processes.openGates()
    const end = new Map(o.slots.map((slot, i) => [slot, lsnValue(o.endLsns[i]!)]))
    const slotDoneMs = new Map<string, number>()
    while (slotDoneMs.size < o.slots.length) {
      processes.check(o.timeoutMs)
      const result = await o.admin.query<{ slot_name: string; lsn: string | null; pid: number | null }>(
        "SELECT slot_name, confirmed_flush_lsn::text AS lsn, active_pid AS pid FROM pg_replication_slots WHERE slot_name = ANY($1)",
        [o.slots]
      )
      const now = performance.now()
      walsenders.observe(result.rows, false)
      for (const row of result.rows) {
        if (!slotDoneMs.has(row.slot_name) && row.lsn !== null && lsnValue(row.lsn) >= end.get(row.slot_name)!) {
          slotDoneMs.set(row.slot_name, now - go)
        }
      }
      if (slotDoneMs.size < o.slots.length) await delay(POLL_MS)
    }
    const drainMs = performance.now() - go
    const cpuAtEnd = cpuMsOf(pids)
    walsenders.observe([], false)
    const rss = pids.map((pid) => peakRssKbOf(pid) ?? 0)
    return {
      startupMs: processes.lastReady - processes.started,
      drainMs,
      slotDrainMs: o.slots.map((s) => slotDoneMs.get(s)!),
      cpuStartupMs: sum(cpuAtGo),
      cpuDrainMs: sum(cpuAtEnd) - sum(cpuAtGo),
      busiestCpuDrainMs: Math.max(...cpuAtEnd.map((cpu, i) => cpu - cpuAtGo[i]!)),
      walsenderCpuDrainMs: o.slots.map((slot) => walsenders.ofSlot(slot)),
      peakRssKb: sum(rss),
      maxProcessRssKb: Math.max(...rss),
      startupMoves: readyAtGo - o.slots.length,
      movesDuringDrain: processes.leftAfterGo,
      placement
    }
  } finally {
    await processes.kill()
  }
}
