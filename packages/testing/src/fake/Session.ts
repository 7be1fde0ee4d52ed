/**
 * One client connection to the fake server, as a state machine: bytes in (`receive`), bytes out (through its host),
 * time passed in by the host (`tick`, `nextDeadline`). No sockets, fibers or timers inside, so the same session runs
 * behind the in-memory transport, the loopback TCP listener, or a test that feeds it bytes by hand.
 *
 * Phases follow a real backend: startup packets (SSLRequest is accepted with 'S' and the connection switched to TLS
 * where the transport can, as the TCP listener with the `tls` option does, and declined with 'N' elsewhere;
 * GSSENCRequest is always declined), the
 * authentication exchange (trust, cleartext, md5, SCRAM-SHA-256), ParameterStatus/BackendKeyData/ReadyForQuery,
 * then simple queries. A walsender connection (replication=database) runs replication commands; START_REPLICATION
 * enters CopyBoth mode and streams the WAL as XLogData, sends keepalives (idle ones every `keepaliveInterval`, and
 * one with replyRequested once half of wal_sender_timeout has passed without a reply, like WalSndKeepaliveIfNecessary)
 * and ends the connection without a message once wal_sender_timeout passes with no reply: the real walsender only
 * logs "terminating walsender process due to replication timeout" (COMMERROR), which `FakeServer.disconnections`
 * records. Every message from the client counts as a reply, as in the real server.
 *
 * A walsender's snapshot exported by CREATE_REPLICATION_SLOT stays importable until its next command or its end;
 * any ERROR on a walsender drops the temporary slots it owns, as PostgreSQL's WalSndErrorCleanup does. Regular
 * sessions run SQL in transaction blocks (Transaction.ts) and `COPY ... TO STDOUT` (CopyOutResponse, a CopyData per
 * row, CopyDone, CommandComplete "COPY n").
 *
 * Faults (`terminate`, `injectError`, `setStalled`, `sendRaw`) are entry points too. It deliberately does not
 * implement the extended query protocol, COPY FROM STDIN, GSSAPI encryption or physical streaming.
 */
import {
  type BackendMessage,
  encodeBackend,
  Framer,
  type Frontend,
  isProtocolError,
  type PasswordContext,
  startupParameter,
  unsafeDecodeFrontendBody,
  unsafeDecodeStartup,
  Writer
} from "@pgcdc/protocol"
import { randomBytes } from "node:crypto"
import { CommandSyntaxError, parseReplicationCommand } from "./Commands.ts"
import type { FakeServer, SlotState } from "./FakeServer.ts"
import { reportedParameters } from "./FakeServerOptions.ts"
import type { OutputOptions } from "./Output.ts"
import { type ErrorFields, errorMessage, type Outcome } from "./Outcome.ts"
import { md5Response, ScramServer, scramMechanism } from "./Scram.ts"
import { executeSql, splitStatements } from "./Sql.ts"
import { failBlock, type SqlSessionState, transactionStatus } from "./Transaction.ts"
import { executeReplicationCommand } from "./Walsender.ts"
import { WalStream } from "./WalStream.ts"

/** What a transport gives a session: where its bytes go. */
export interface SessionHost {
  readonly write: (bytes: Uint8Array) => void
  /** Ends the connection (after the bytes already written). */
  readonly close: () => void
  /**
   * Switches the connection to TLS, as the server side of the handshake, after the bytes already written (the
   * 'S' that accepts an SSLRequest); from then on `write` and the bytes received go through TLS. Absent where the
   * transport has none (in memory): SSLRequest is then declined.
   */
  readonly startTls?: ((identity: { readonly cert: string; readonly key: string }) => void) | undefined
}

type Phase =
  | { readonly _tag: "Startup" }
  | {
      readonly _tag: "Auth"
      readonly expect: PasswordContext
      readonly method: "password" | "md5" | "scram"
      readonly salt?: Uint8Array
      readonly scram?: ScramServer
    }
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Streaming" }
  | { readonly _tag: "Closed" }

const encoder = new TextEncoder()
const N = new Uint8Array([0x4e])
const S = new Uint8Array([0x53])

export class Session {
  readonly pid: number
  readonly secretKey: Uint8Array
  /** The startup parameters the client sent. */
  parameters: ReadonlyArray<readonly [string, string]> = []
  mode: "logical" | "physical" | "regular" = "regular"
  user = ""
  private phase: Phase = { _tag: "Startup" }
  private readonly framer = new Framer({ mode: "startup" })
  private readonly out = new Writer(1024)
  private pending: Array<Uint8Array> = []
  private stalled = false
  /** Whether the connection switched to TLS (after an accepted SSLRequest). */
  private tls = false
  private streaming: WalStream | undefined = undefined
  private readonly sqlState: SqlSessionState = { settings: new Map<string, string>(), block: undefined }
  private protocolMinor = 0
  private readonly server: FakeServer
  private readonly host: SessionHost

  constructor(server: FakeServer, pid: number, host: SessionHost) {
    this.server = server
    this.pid = pid
    this.host = host
    this.secretKey = new Uint8Array(randomBytes(4))
  }

  get closed(): boolean {
    return this.phase._tag === "Closed"
  }

  /** Whether the client asked for TLS and the connection switched to it. */
  get encrypted(): boolean {
    return this.tls
  }

  /** Bytes held back by a stall (written when it ends). */
  get heldBytes(): number {
    let n = 0
    for (const chunk of this.pending) n += chunk.length
    return n
  }

  /** Whether a transaction block is open. */
  get inTransaction(): boolean {
    return this.sqlState.block !== undefined
  }

  /** The slot this session streams from, if it is in START_REPLICATION. */
  get streamingSlot(): string | undefined {
    return this.streaming?.slot.name
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Input

  receive(chunk: Uint8Array) {
    if (this.closed) return
    try {
      this.framer.push(chunk)
      while (!this.closed && this.framer.next()) {
        const f = this.framer
        if (f.mode === "startup") this.onStartupPacket(f.buf, f.start, f.end)
        else this.onMessage(f.type, f.buf, f.bodyStart, f.end)
      }
    } catch (e) {
      if (!isProtocolError(e)) throw e
      this.fatal({ severity: "FATAL", code: "08P01", message: `invalid frontend message: ${e.message}` }, "protocol")
    }
    this.flush()
  }

  private onStartupPacket(buf: Uint8Array, start: number, end: number) {
    const msg = unsafeDecodeStartup(buf, start, end)
    switch (msg._tag) {
      case "SSLRequest": {
        const identity = this.server.config.tls
        if (identity === undefined || this.host.startTls === undefined || this.tls) {
          this.out.bytes(N)
          return
        }
        // Bytes sent after the SSLRequest, before the handshake, would be read as if they had been encrypted: the
        // real server refuses them (the CVE-2021-23214 class of injection), and so does the fake.
        if (this.framer.unread > 0 || this.framer.buffered > 0) {
          this.fatal(
            { severity: "FATAL", code: "08P01", message: "received unencrypted data after SSL request" },
            "protocol"
          )
          return
        }
        this.tls = true
        this.out.bytes(S)
        this.flush()
        this.host.startTls(identity)
        return
      }
      case "GSSENCRequest":
        this.out.bytes(N)
        return
      case "CancelRequest":
        this.end("client", "cancel request received")
        return
      case "StartupMessage":
        this.framer.setTyped()
        this.onStartup(msg)
        return
    }
  }

  private onStartup(msg: Frontend.StartupMessage) {
    const config = this.server.config
    this.parameters = msg.parameters
    const minor = msg.protocolVersion & 0xffff
    const supportedMinor = config.major >= 18 ? 2 : 0
    const unrecognized = msg.parameters.filter(([n]) => n.startsWith("_pq_.")).map(([n]) => n)
    if (minor > supportedMinor || unrecognized.length > 0) {
      // PostgreSQL puts the whole version (3 << 16 | minor) in this field, not the bare minor (checked against 18).
      this.send({
        _tag: "NegotiateProtocolVersion",
        newestMinorVersion: (3 << 16) | Math.min(minor, supportedMinor),
        unrecognizedOptions: unrecognized
      })
    }
    this.protocolMinor = Math.min(minor, supportedMinor)
    const user = startupParameter(msg, "user")
    if (user === undefined || user === "") {
      return this.fatal(
        { severity: "FATAL", code: "28000", message: "no PostgreSQL user name specified in startup packet" },
        "fatal"
      )
    }
    this.user = user
    const replication = startupParameter(msg, "replication")?.toLowerCase()
    if (replication === "database") this.mode = "logical"
    else if (replication === undefined || ["false", "off", "no", "0"].includes(replication)) this.mode = "regular"
    else if (["true", "on", "yes", "1"].includes(replication)) this.mode = "physical"
    else {
      return this.fatal(
        { severity: "FATAL", code: "22023", message: `invalid value for parameter "replication": "${replication}"` },
        "fatal"
      )
    }
    for (const [name, value] of msg.parameters) {
      if (!["user", "database", "replication", "options"].includes(name) && !name.startsWith("_pq_.")) {
        this.sqlState.settings.set(name.toLowerCase(), value)
      }
    }
    switch (config.auth) {
      case "trust":
        if (user !== config.user) {
          return this.fatal({ severity: "FATAL", code: "28000", message: `role "${user}" does not exist` }, "fatal")
        }
        return this.authenticated()
      case "password":
        this.phase = { _tag: "Auth", expect: "PasswordMessage", method: "password" }
        return this.send({ _tag: "AuthenticationCleartextPassword" })
      case "md5": {
        const salt = new Uint8Array(randomBytes(4))
        this.phase = { _tag: "Auth", expect: "PasswordMessage", method: "md5", salt }
        return this.send({ _tag: "AuthenticationMD5Password", salt })
      }
      case "scram-sha-256":
        this.phase = {
          _tag: "Auth",
          expect: "SASLInitialResponse",
          method: "scram",
          scram: new ScramServer(this.server.scramVerifier)
        }
        return this.send({ _tag: "AuthenticationSASL", mechanisms: [scramMechanism] })
    }
  }

  private passwordFailed() {
    this.fatal(
      { severity: "FATAL", code: "28P01", message: `password authentication failed for user "${this.user}"` },
      "fatal"
    )
  }

  private onAuth(phase: Extract<Phase, { _tag: "Auth" }>, msg: Frontend.TypedFrontendMessage) {
    const config = this.server.config
    const userOk = this.user === config.user
    switch (msg._tag) {
      case "PasswordMessage": {
        const expected =
          phase.method === "md5" ? md5Response(config.user, config.password, phase.salt!) : config.password
        return userOk && msg.password === expected ? this.authenticated() : this.passwordFailed()
      }
      case "SASLInitialResponse": {
        if (msg.mechanism !== scramMechanism) {
          return this.fatal(
            { severity: "FATAL", code: "08P01", message: "client selected an invalid SASL authentication mechanism" },
            "protocol"
          )
        }
        const step = phase.scram!.clientFirst(msg.data)
        if (step._tag !== "Reply") return this.saslFailure(step)
        this.phase = { ...phase, expect: "SASLResponse" }
        return this.send({ _tag: "AuthenticationSASLContinue", data: step.data })
      }
      case "SASLResponse": {
        const step = phase.scram!.clientFinal(msg.data)
        if (step._tag !== "Reply" || !userOk)
          return step._tag === "Malformed" ? this.saslFailure(step) : this.passwordFailed()
        this.send({ _tag: "AuthenticationSASLFinal", data: step.data })
        return this.authenticated()
      }
      default:
        return this.fatal(
          {
            severity: "FATAL",
            code: "08P01",
            message: `expected password response, got message type ${typeByte(msg)}`
          },
          "protocol"
        )
    }
  }

  private saslFailure(step: { readonly _tag: "Malformed"; readonly detail: string } | { readonly _tag: "WrongProof" }) {
    if (step._tag === "WrongProof") return this.passwordFailed()
    this.fatal(
      { severity: "FATAL", code: "08P01", message: "malformed SCRAM message", detail: step.detail },
      "protocol"
    )
  }

  private authenticated() {
    const config = this.server.config
    this.send({ _tag: "AuthenticationOk" })
    const database =
      startupParameter({ _tag: "StartupMessage", protocolVersion: 0, parameters: this.parameters }, "database") ??
      this.user
    if (this.mode !== "physical" && database !== config.database) {
      return this.fatal({ severity: "FATAL", code: "3D000", message: `database "${database}" does not exist` }, "fatal")
    }
    const appName = this.sqlState.settings.get("application_name") ?? ""
    const status = reportedParameters(config, this.user, appName)
    for (const [name, value] of status) this.send({ _tag: "ParameterStatus", name, value })
    const key = this.protocolMinor >= 2 ? new Uint8Array(randomBytes(32)) : this.secretKey
    this.send({ _tag: "BackendKeyData", processId: this.pid, secretKey: key })
    this.ready()
  }

  private ready() {
    this.phase = { _tag: "Ready" }
    this.send({ _tag: "ReadyForQuery", status: transactionStatus(this.sqlState) })
  }

  private onMessage(type: number, buf: Uint8Array, start: number, end: number) {
    const phase = this.phase
    const msg = unsafeDecodeFrontendBody(type, buf, start, end, phase._tag === "Auth" ? phase.expect : undefined)
    if (this.streaming !== undefined) this.streaming.lastReply = this.server.now()
    if (msg._tag === "Terminate") return this.end("client", "client sent Terminate")
    switch (phase._tag) {
      case "Auth":
        return this.onAuth(phase, msg)
      case "Ready":
        if (msg._tag === "Query") return this.onQuery(msg.sql)
        if (msg._tag === "CopyData" || msg._tag === "CopyDone" || msg._tag === "CopyFail") return // ignored outside COPY, like the server
        break
      case "Streaming":
        if (msg._tag === "CopyData") return this.onCopyData(msg.data)
        if (msg._tag === "CopyDone") return this.endStreaming()
        if (msg._tag === "CopyFail") {
          this.stopStreaming()
          this.send(
            errorMessage({ severity: "ERROR", code: "57014", message: `COPY from stdin failed: ${msg.message}` })
          )
          return this.ready()
        }
        break
    }
    this.fatal({ severity: "FATAL", code: "08P01", message: `unexpected message type ${typeByte(msg)}` }, "protocol")
  }

  private onQuery(sql: string) {
    this.server.queries.push(sql)
    // A walsender's exported snapshot lives until its next command (PostgreSQL clears it before parsing any).
    if (this.mode !== "regular") this.server.clearExportedSnapshot(this.pid)
    if (sql.trim() === "" || /^\s*;\s*$/.test(sql)) {
      this.send({ _tag: "EmptyQueryResponse" })
      return this.ready()
    }
    const cmd = this.replicationCommand(sql)
    // A replication command is one statement; SQL may be several, run in order until one fails (as the server does).
    const steps: Array<() => Outcome> =
      cmd !== undefined ? [() => cmd] : splitStatements(sql).map((statement) => () => this.executeStatement(statement))
    for (const step of steps) {
      const outcome = step()
      switch (outcome._tag) {
        case "Rows":
          this.send({ _tag: "RowDescription", fields: outcome.fields })
          for (const values of outcome.rows) this.send({ _tag: "DataRow", values })
          this.send({ _tag: "CommandComplete", commandTag: outcome.commandTag })
          break
        case "Command":
          this.send({ _tag: "CommandComplete", commandTag: outcome.commandTag })
          break
        case "Error":
          this.send(errorMessage(outcome.error))
          failBlock(this.sqlState)
          // Any ERROR in a walsender drops the temporary slots it owns (WalSndErrorCleanup).
          if (this.mode !== "regular") this.server.dropTemporarySlots(this.pid)
          break
        case "CopyOut":
          this.send({ _tag: "CopyOutResponse", format: 0, columnFormats: new Array(outcome.columns).fill(0) })
          for (const line of outcome.lines) this.send({ _tag: "CopyData", data: encoder.encode(line) })
          this.send({ _tag: "CopyDone" })
          this.send({ _tag: "CommandComplete", commandTag: `COPY ${outcome.lines.length}` })
          break
        case "Empty":
          this.send({ _tag: "EmptyQueryResponse" })
          break
        case "StartReplication":
          return this.startStreaming(outcome.slot, outcome.start, outcome.options)
      }
      if (outcome._tag === "Error") break
    }
    this.server.changed()
    this.ready()
  }

  /** The outcome of a replication command, or undefined when `sql` is SQL (or this is not a walsender). */
  private replicationCommand(sql: string): Outcome | undefined {
    if (this.mode === "regular") return undefined
    try {
      const cmd = parseReplicationCommand(sql)
      if (cmd === undefined) return undefined
      return executeReplicationCommand(
        this.server,
        {
          pid: this.pid,
          mode: this.mode === "physical" ? "physical" : "logical",
          settings: this.sqlState.settings,
          inTransaction: this.sqlState.block !== undefined
        },
        cmd
      )
    } catch (e) {
      if (!(e instanceof CommandSyntaxError)) throw e
      return { _tag: "Error", error: { severity: "ERROR", code: "42601", message: "syntax error" } }
    }
  }

  private executeStatement(sql: string): Outcome {
    if (this.mode === "physical") {
      return {
        _tag: "Error",
        error: {
          severity: "ERROR",
          code: "08P01",
          message: "cannot execute SQL commands in WAL sender for physical replication"
        }
      }
    }
    return executeSql(this.server, this.pid, this.sqlState, sql)
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Streaming

  private startStreaming(slot: SlotState, start: bigint, options: OutputOptions) {
    this.streaming = new WalStream(this.server, this.pid, slot, start, options, (m) => this.send(m))
    this.phase = { _tag: "Streaming" }
    this.send({ _tag: "CopyBothResponse", format: 0, columnFormats: [] })
    this.pump()
    this.server.changed()
  }

  /** Sends the WAL written since the last call (a no-op unless streaming). */
  pump() {
    if (this.streaming === undefined || this.closed) return
    const conflict = this.streaming.pump()
    // An error while decoding ends the stream, and the walsender returns to idle, as the real one does.
    if (conflict !== undefined)
      return this.injectError({ severity: "ERROR", code: conflict.code, message: conflict.message })
    this.flush()
  }

  /** Sends a primary keepalive now (the driver's `keepalive`). */
  keepalive(replyRequested: boolean) {
    if (this.streaming === undefined || this.closed) return
    this.streaming.keepalive(replyRequested)
    this.flush()
  }

  private onCopyData(data: Uint8Array) {
    this.streaming!.onCopyData(data)
    this.server.changed()
  }

  private stopStreaming() {
    this.streaming?.release()
    this.streaming = undefined
  }

  /** The client ended the copy: CopyDone back, then the two command tags the walsender sends, then ReadyForQuery. */
  private endStreaming() {
    this.stopStreaming()
    this.send({ _tag: "CopyDone" })
    this.send({ _tag: "CommandComplete", commandTag: "COPY 0" })
    this.send({ _tag: "CommandComplete", commandTag: "START_REPLICATION" })
    this.ready()
    this.server.changed()
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Time

  /** The next moment `tick` has something to do, in the server's milliseconds; undefined when nothing is timed. */
  nextDeadline(): number | undefined {
    if (this.streaming === undefined || this.closed) return undefined
    return this.streaming.deadline(!this.stalled)
  }

  tick() {
    if (this.streaming === undefined || this.closed) return
    switch (this.streaming.due(!this.stalled)) {
      case "timeout":
        return this.end("timeout", "terminating walsender process due to replication timeout")
      case "ping":
        return this.keepalive(true)
      case "keepalive":
        return this.keepalive(false)
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Faults

  /** Drops the connection at once, without a message (bytes held by a stall are lost). */
  terminate() {
    this.pending = []
    this.end("fault", "connection dropped by fault injection")
  }

  /** Sends an ErrorResponse: FATAL closes the connection; ERROR ends a replication stream and returns to idle. */
  injectError(error: ErrorFields) {
    if (this.closed) return
    if (error.severity === "FATAL") return this.fatal(error, "fault")
    const wasStreaming = this.streaming !== undefined
    this.stopStreaming()
    this.send(errorMessage(error))
    if (this.mode !== "regular") this.server.dropTemporarySlots(this.pid)
    if (wasStreaming || this.phase._tag === "Ready") this.ready()
    this.flush()
    this.server.changed()
  }

  /** While stalled nothing is written (keepalives included); what was held is written when the stall ends. */
  setStalled(stalled: boolean) {
    this.stalled = stalled
    this.flush()
  }

  /** Writes arbitrary bytes (corruption). */
  sendRaw(bytes: Uint8Array) {
    if (this.closed) return
    this.out.bytes(bytes)
    this.flush()
  }

  /** The transport saw the client go away. */
  transportClosed() {
    if (!this.closed) this.end("client", "unexpected EOF on client connection")
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Output

  private send(msg: BackendMessage) {
    encodeBackend(msg, this.out)
  }

  private flush() {
    if (this.out.pos > 0) {
      this.pending.push(this.out.toBytes())
      this.out.clear()
    }
    if (this.stalled || this.pending.length === 0) return
    const chunks = this.pending
    this.pending = []
    for (const chunk of chunks) this.host.write(chunk)
  }

  private fatal(error: ErrorFields, reason: "fatal" | "protocol" | "fault") {
    this.send(errorMessage(error))
    this.end(reason, error.message)
  }

  private end(reason: "client" | "timeout" | "fatal" | "fault" | "protocol", message: string) {
    if (this.closed) return
    this.stopStreaming()
    this.phase = { _tag: "Closed" }
    this.stalled = false
    this.flush()
    this.host.close()
    this.server.sessionEnded(this, { reason, message })
  }
}

const typeByte = (msg: Frontend.TypedFrontendMessage): string => {
  switch (msg._tag) {
    case "Query":
      return "Q"
    case "CopyData":
      return "d"
    case "CopyDone":
      return "c"
    case "CopyFail":
      return "f"
    case "Terminate":
      return "X"
    default:
      return "p"
  }
}
