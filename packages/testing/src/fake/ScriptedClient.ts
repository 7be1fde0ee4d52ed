/**
 * A scripted wire-protocol client over an Effect `Socket`, built only from @pgcdc/protocol's client-side codecs:
 * send frontend messages, read backend messages one at a time, log in with any of the fake's authentication methods.
 * Our own tests drive the fake server with it; users can use it for low-level protocol tests of their own.
 *
 * It deliberately has no retries, timeouts or query helpers: a test says exactly what goes over the wire.
 */
import {
  type BackendMessage,
  type BackendReplicationMessage,
  encodeFrontend,
  encodeReplication,
  Framer,
  type FrontendMessage,
  type ProtocolError,
  type ReplicationMessage,
  unsafeDecodeBackend,
  unsafeDecodeReplication,
  Writer
} from "@pgcdc/protocol"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Socket from "effect/socket/Socket"
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto"
import { ProtocolError as ProtocolErrorClass } from "@pgcdc/protocol"
import { md5Response } from "./Scram.ts"

export interface ScriptedClient {
  readonly send: (message: FrontendMessage) => Effect.Effect<void, Socket.SocketError>
  readonly sendRaw: (bytes: Uint8Array) => Effect.Effect<void, Socket.SocketError>
  /** A CopyData carrying a replication message (StandbyStatusUpdate, HotStandbyFeedback). */
  readonly sendReplication: (message: ReplicationMessage) => Effect.Effect<void, Socket.SocketError>
  /** The next backend message (CopyData payloads are copies). */
  readonly next: Effect.Effect<BackendMessage, Socket.SocketError | ProtocolError>
  /** The next CopyData, decoded as XLogData or PrimaryKeepalive; fails on any other message. */
  readonly nextReplication: Effect.Effect<
    BackendReplicationMessage,
    Socket.SocketError | ProtocolError | UnexpectedMessage
  >
  /** Messages up to and including the first one with this tag. */
  readonly until: <T extends BackendMessage["_tag"]>(
    tag: T
  ) => Effect.Effect<ReadonlyArray<BackendMessage>, Socket.SocketError | ProtocolError>
  /** Startup and authentication (trust, cleartext, md5 or SCRAM-SHA-256) up to the first ReadyForQuery. */
  readonly login: (options: {
    readonly user: string
    readonly password?: string
    readonly database?: string
    readonly replication?: "database" | "true"
    /** Default 196608 (3.0); 196610 asks for 3.2. */
    readonly protocolVersion?: number
    /** Extra startup parameters (e.g. `_pq_.` protocol options). */
    readonly parameters?: ReadonlyArray<readonly [string, string]>
  }) => Effect.Effect<ReadonlyArray<BackendMessage>, Socket.SocketError | ProtocolError | UnexpectedMessage>
  /** A simple query, up to and including ReadyForQuery (or CopyBothResponse). */
  readonly query: (sql: string) => Effect.Effect<ReadonlyArray<BackendMessage>, Socket.SocketError | ProtocolError>
  /** Closes the connection from the client side. */
  readonly close: Effect.Effect<void, Socket.SocketError>
}

export class UnexpectedMessage extends Error {
  override readonly name = "UnexpectedMessage"
  readonly received: BackendMessage
  constructor(expected: string, received: BackendMessage) {
    super(
      `expected ${expected}, received ${received._tag}${received._tag === "ErrorResponse" ? `: ${received.message}` : ""}`
    )
    this.received = received
  }
}

const encoder = new TextEncoder()

export const connect = (socket: Socket.Socket): Effect.Effect<ScriptedClient, Socket.SocketError, Scope.Scope> =>
  Effect.gen(function* () {
    const pull = yield* Socket.readerBytes(socket)
    const writer = yield* socket.writer
    const framer = new Framer()
    const chunks: Array<Uint8Array> = []

    const decodeNext = (): BackendMessage | undefined => {
      for (;;) {
        if (framer.next()) {
          const msg = unsafeDecodeBackend(framer.buf, framer.start, framer.end)
          return msg._tag === "CopyData" ? { _tag: "CopyData", data: msg.data.slice() } : msg
        }
        const chunk = chunks.shift()
        if (chunk === undefined) return undefined
        framer.push(chunk)
      }
    }

    const next: ScriptedClient["next"] = Effect.gen(function* () {
      for (;;) {
        const decoded = yield* Effect.try({
          try: decodeNext,
          catch: (e) =>
            e instanceof ProtocolErrorClass
              ? e
              : new ProtocolErrorClass({ reason: "InvalidValue", messageName: "?", field: "?", detail: String(e) })
        })
        if (decoded !== undefined) return decoded
        const batch = yield* pull
        chunks.push(...batch)
      }
    })

    const send = (message: FrontendMessage) => writer.write(encodeFrontend(message, new Writer(64)).toBytes())

    const nextReplication: ScriptedClient["nextReplication"] = Effect.gen(function* () {
      const msg = yield* next
      if (msg._tag !== "CopyData") return yield* Effect.fail(new UnexpectedMessage("CopyData", msg))
      return yield* Effect.try({
        try: () => unsafeDecodeReplication(msg.data),
        catch: (e) => e as ProtocolError
      })
    })

    const until = <T extends BackendMessage["_tag"]>(tag: T) =>
      Effect.gen(function* () {
        const out: Array<BackendMessage> = []
        for (;;) {
          const msg = yield* next
          out.push(msg)
          if (msg._tag === tag) return out
        }
      })

    const expect = <T extends BackendMessage["_tag"]>(tag: T) =>
      Effect.flatMap(next, (msg) =>
        msg._tag === tag
          ? Effect.succeed(msg as Extract<BackendMessage, { _tag: T }>)
          : Effect.fail(new UnexpectedMessage(tag, msg))
      )

    const login: ScriptedClient["login"] = (options) =>
      Effect.gen(function* () {
        const parameters: Array<readonly [string, string]> = [["user", options.user]]
        if (options.database !== undefined) parameters.push(["database", options.database])
        if (options.replication !== undefined) parameters.push(["replication", options.replication])
        parameters.push(...(options.parameters ?? []))
        yield* send({ _tag: "StartupMessage", protocolVersion: options.protocolVersion ?? 196608, parameters })
        const password = options.password ?? ""
        let first = yield* next
        const seen: Array<BackendMessage> = [first]
        if (first._tag === "NegotiateProtocolVersion") {
          first = yield* next
          seen.push(first)
        }
        switch (first._tag) {
          case "AuthenticationCleartextPassword":
            yield* send({ _tag: "PasswordMessage", password })
            break
          case "AuthenticationMD5Password":
            yield* send({ _tag: "PasswordMessage", password: md5Response(options.user, password, first.salt) })
            break
          case "AuthenticationSASL": {
            const nonce = randomBytes(18).toString("base64")
            const clientFirstBare = `n=*,r=${nonce}`
            yield* send({
              _tag: "SASLInitialResponse",
              mechanism: "SCRAM-SHA-256",
              data: encoder.encode(`n,,${clientFirstBare}`)
            })
            const cont = yield* expect("AuthenticationSASLContinue")
            seen.push(cont)
            const serverFirst = new TextDecoder().decode(cont.data)
            const attrs = new Map(serverFirst.split(",").map((p) => [p[0]!, p.slice(2)] as const))
            const salted = pbkdf2Sync(
              password,
              Buffer.from(attrs.get("s") ?? "", "base64"),
              Number(attrs.get("i")),
              32,
              "sha256"
            )
            const clientKey = createHmac("sha256", salted).update("Client Key").digest()
            const storedKey = createHash("sha256").update(clientKey).digest()
            const withoutProof = `c=biws,r=${attrs.get("r")}`
            const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`
            const signature = createHmac("sha256", storedKey).update(authMessage).digest()
            const proof = Buffer.alloc(32)
            for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!
            yield* send({ _tag: "SASLResponse", data: encoder.encode(`${withoutProof},p=${proof.toString("base64")}`) })
            break
          }
          default:
            break
        }
        // Up to ReadyForQuery, or the ErrorResponse of a failed login (the server closes right after it).
        let last = seen[seen.length - 1]!
        while (last._tag !== "ReadyForQuery" && last._tag !== "ErrorResponse") {
          last = yield* next
          seen.push(last)
        }
        return seen
      })

    const query: ScriptedClient["query"] = (sql) =>
      Effect.gen(function* () {
        yield* send({ _tag: "Query", sql })
        const out: Array<BackendMessage> = []
        for (;;) {
          const msg = yield* next
          out.push(msg)
          if (msg._tag === "ReadyForQuery" || msg._tag === "CopyBothResponse") return out
        }
      })

    return {
      send,
      sendRaw: (bytes) => writer.write(bytes),
      sendReplication: (message) =>
        send({ _tag: "CopyData", data: encodeReplication(message, new Writer(64)).toBytes() }),
      next,
      nextReplication,
      until,
      login,
      query,
      close: writer.write(new Socket.CloseEvent())
    }
  })
