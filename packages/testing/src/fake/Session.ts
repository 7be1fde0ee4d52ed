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
 * The startup handshake (StartupMessage to the first ReadyForQuery) is in Handshake.ts, simple queries and how their
 * outcomes are written in SimpleQuery.ts; both write through this session. A walsender's exported snapshot is also
 * dropped at the session's end (by the server).
 *
 * Faults (`terminate`, `injectError`, `setStalled`, `sendRaw`) are entry points too. It deliberately does not
 * implement the extended query protocol, COPY FROM STDIN, GSSAPI encryption or physical streaming.
 */
import {
  type BackendMessage,
  encodeBackend,
  Framer,
  isProtocolError,
  unsafeDecodeFrontendBody,
  unsafeDecodeStartup,
  Writer
} from "@pgcdc/protocol"
import { randomBytes } from "node:crypto"
import type { FakeServer, SlotState } from "./FakeServer.ts"
import { type AuthPhase, type HandshakeContext, onAuth, onStartup, typeByte } from "./Handshake.ts"
import type { OutputOptions } from "./Output.ts"
import { type ErrorFields, errorMessage } from "./Outcome.ts"
import { onQuery, type QueryContext } from "./SimpleQuery.ts"
import { type SqlSessionState, transactionStatus } from "./Transaction.ts"
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
  | AuthPhase
  | { readonly _tag: "Ready" }
  | { readonly _tag: "Streaming" }
  | { readonly _tag: "Closed" }

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
  private readonly server: FakeServer
  private readonly host: SessionHost
  /** What the handshake and the queries reach of this session. */
  private readonly context: HandshakeContext & QueryContext

  constructor(server: FakeServer, pid: number, host: SessionHost) {
    this.server = server
    this.pid = pid
    this.host = host
    this.secretKey = new Uint8Array(randomBytes(4))
    this.context = {
      server,
      session: this,
      settings: this.sqlState.settings,
      sqlState: this.sqlState,
      send: (msg) => this.send(msg),
      fatal: (error, reason) => this.fatal(error, reason),
      awaitAuth: (phase) => {
        this.phase = phase
      },
      ready: () => this.ready(),
      startStreaming: (slot, start, options) => this.startStreaming(slot, start, options)
    }
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
        onStartup(this.context, msg)
        return
    }
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
        return onAuth(this.context, phase, msg)
      case "Ready":
        if (msg._tag === "Query") return onQuery(this.context, msg.sql)
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
