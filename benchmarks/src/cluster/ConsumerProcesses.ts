/**
 * The consumer processes of one run of the cluster benchmark, as the driver sees them: started with their configs
 * (output to a log file), their messages (DrainProtocol.ts) kept as counts and times (which process consumes which
 * slot, when the placement last changed), the gate, and killing them at the end. It measures nothing by itself.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { openSync } from "node:fs"
import { childNodeArgs } from "../Clients.ts"
import type { ChildMessage, DrainConfig } from "./DrainProtocol.ts"

export class ConsumerProcesses {
  readonly started = performance.now()
  private readonly children: ReadonlyArray<ChildProcess>
  readonly pids: ReadonlyArray<number>
  private up = 0
  /** slot → the index of the process consuming it. */
  private readonly owner = new Map<string, number>()
  /** When a process came up or a consumer started or stopped, last. */
  lastChange = performance.now()
  /** When a consumer last became ready before the gate opened. */
  lastReady = this.started
  /** Consumers that became ready (more than one per slot: a slot moved). */
  readyEvents = 0
  /** Consumers that stopped after the gate opened (a move during the drain). */
  leftAfterGo = 0
  private gateOpen = false
  private failure: string | undefined
  private readonly logFile: string

  constructor(script: string, configs: ReadonlyArray<DrainConfig>, logFile: string) {
    this.logFile = logFile
    const out = openSync(logFile, "w")
    this.children = configs.map((config) =>
      spawn(process.execPath, [...childNodeArgs(), script, JSON.stringify(config)], {
        stdio: ["ignore", out, out, "ipc"]
      })
    )
    this.pids = this.children.map((c) => c.pid!)
    this.children.forEach((child, index) => {
      child.on("message", (m: ChildMessage) => this.onMessage(index, m))
      child.once("exit", (code, signal) => {
        if (signal !== "SIGKILL") this.failure ??= `a consumer process exited (code ${code}, signal ${signal})`
      })
    })
  }

  private onMessage(index: number, m: ChildMessage): void {
    const now = performance.now()
    switch (m._tag) {
      case "Up":
        this.up++
        this.lastChange = now
        break
      case "Ready":
        this.owner.set(m.slot, index)
        this.readyEvents++
        this.lastChange = now
        if (!this.gateOpen) this.lastReady = now
        break
      case "Left":
        if (this.owner.get(m.slot) === index) this.owner.delete(m.slot)
        if (this.gateOpen) this.leftAfterGo++
        this.lastChange = now
        break
      case "Failure":
        this.failure ??= m.message
        break
    }
  }

  /** Every process up and a consumer ready for each of `slots` slots. */
  allReady(slots: number): boolean {
    return this.up === this.children.length && this.owner.size === slots
  }

  /** Slots per process, in process order. */
  placement(): Array<number> {
    const owners = [...this.owner.values()]
    return this.children.map((_, i) => owners.filter((p) => p === i).length)
  }

  /** Throws when a process failed or the run took longer than `timeoutMs`. */
  check(timeoutMs: number): void {
    if (this.failure !== undefined) throw new Error(`${this.failure.split("\n")[0]} (log: ${this.logFile})`)
    if (performance.now() - this.started > timeoutMs) throw new Error(`timed out (log: ${this.logFile})`)
  }

  openGates(): void {
    this.gateOpen = true
    for (const child of this.children) child.send({ _tag: "Go" })
  }

  async kill(): Promise<void> {
    const exited = this.children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) resolve()
          else c.once("exit", () => resolve())
        })
    )
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
    await Promise.all(exited)
  }
}
