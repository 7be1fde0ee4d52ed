/**
 * Reading another process's CPU time and peak memory from Linux's /proc, for the processes that cannot measure
 * themselves: the walsender serving a client, and pg_recvlogical.
 *
 * It does not sample by itself: the driver decides when to read (see Runner.ts).
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (100 on every Linux we know, but ask). */
export const clockTicks: number = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

export interface CpuTime {
  readonly userMs: number
  readonly systemMs: number
}

/**
 * utime and stime of a process in milliseconds, or undefined when it is gone. The command name in field 2 may
 * contain spaces and parentheses, so fields are counted after its last ')'.
 */
export const cpuOf = (pid: number): CpuTime | undefined => {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  return parseStatCpu(text)
}

/** Parses the utime and stime fields (14 and 15) of a /proc/<pid>/stat line, in milliseconds. */
export const parseStatCpu = (stat: string): CpuTime | undefined => {
  const close = stat.lastIndexOf(")")
  if (close < 0) return undefined
  // After ")": field 3 (state) is at index 0, so field n is at index n - 3.
  const fields = stat
    .slice(close + 2)
    .trim()
    .split(" ")
  const utime = Number(fields[14 - 3])
  const stime = Number(fields[15 - 3])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined
  return { userMs: (utime * 1000) / clockTicks, systemMs: (stime * 1000) / clockTicks }
}

/** The scheduler state letter of a process (R running or runnable, S sleeping, D disk wait...), if it exists. */
export const stateOf = (pid: number): string | undefined => {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8")
    return text[text.lastIndexOf(")") + 2]
  } catch {
    return undefined
  }
}

/** VmHWM (peak resident set) of a process in kB, or undefined when it is gone. */
export const peakRssKbOf = (pid: number): number | undefined => {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}
