/**
 * The server side of SCRAM-SHA-256 (RFC 5802 and RFC 7677), as PostgreSQL runs it, for the fake server.
 *
 * A pure two-step state machine over node:crypto: `ScramServer.clientFirst` reads the client-first message and
 * returns the server-first message; `ScramServer.clientFinal` checks the client's proof against the stored key and
 * returns the server-final message carrying the server signature. Like PostgreSQL, the `n=` user name in the
 * client-first message is ignored (the startup packet already named the user).
 *
 * It deliberately does not do channel binding (SCRAM-SHA-256-PLUS: the fake has no TLS) and applies no SASLprep to
 * the password: test passwords are ASCII.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto"

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8", { fatal: true })

export const scramMechanism = "SCRAM-SHA-256"

/** The verifier PostgreSQL stores in pg_authid for a SCRAM password. */
export interface ScramVerifier {
  readonly salt: Uint8Array
  readonly iterations: number
  readonly storedKey: Uint8Array
  readonly serverKey: Uint8Array
}

const hmac = (key: Uint8Array, data: string | Uint8Array): Uint8Array =>
  new Uint8Array(createHmac("sha256", key).update(data).digest())

export const makeVerifier = (
  password: string,
  salt: Uint8Array = randomBytes(16),
  iterations = 4096
): ScramVerifier => {
  const salted = new Uint8Array(pbkdf2Sync(password, salt, iterations, 32, "sha256"))
  const clientKey = hmac(salted, "Client Key")
  return {
    salt,
    iterations,
    storedKey: new Uint8Array(createHash("sha256").update(clientKey).digest()),
    serverKey: hmac(salted, "Server Key")
  }
}

/** Why an exchange failed: a malformed message (a protocol violation) or a wrong password. */
export type ScramFailure = { readonly _tag: "Malformed"; readonly detail: string } | { readonly _tag: "WrongProof" }

export type ScramStep = { readonly _tag: "Reply"; readonly data: Uint8Array } | ScramFailure

const attributes = (message: string): Map<string, string> => {
  const out = new Map<string, string>()
  for (const part of message.split(",")) {
    const eq = part.indexOf("=")
    if (eq === 1) out.set(part[0]!, part.slice(2))
  }
  return out
}

const malformed = (detail: string): ScramFailure => ({ _tag: "Malformed", detail })

export class ScramServer {
  private clientFirstBare = ""
  private serverFirst = ""
  private gs2Header = ""
  private nonce = ""
  private readonly verifier: ScramVerifier

  constructor(verifier: ScramVerifier) {
    this.verifier = verifier
  }

  /** Reads `gs2-header client-first-message-bare`; returns `r=nonce,s=salt,i=iterations`. */
  clientFirst(data: Uint8Array | null): ScramStep {
    if (data === null) return malformed("the SASLInitialResponse has no client-first message")
    let text: string
    try {
      text = utf8Decoder.decode(data)
    } catch {
      return malformed("the client-first message is not UTF-8")
    }
    // gs2-header: cbind-flag "," [authzid] ","
    const first = text.indexOf(",")
    const second = first < 0 ? -1 : text.indexOf(",", first + 1)
    if (second < 0) return malformed("the client-first message has no GS2 header")
    const flag = text.slice(0, first)
    if (flag.startsWith("p=")) return malformed("channel binding is not supported by this server")
    if (flag !== "n" && flag !== "y") return malformed(`unexpected channel-binding flag "${flag}"`)
    this.gs2Header = text.slice(0, second + 1)
    this.clientFirstBare = text.slice(second + 1)
    const clientNonce = attributes(this.clientFirstBare).get("r")
    if (clientNonce === undefined || clientNonce === "") return malformed("the client-first message has no nonce")
    this.nonce = clientNonce + randomBytes(18).toString("base64")
    this.serverFirst = `r=${this.nonce},s=${Buffer.from(this.verifier.salt).toString("base64")},i=${this.verifier.iterations}`
    return { _tag: "Reply", data: utf8.encode(this.serverFirst) }
  }

  /** Reads `c=...,r=...,p=proof`, verifies the proof; returns `v=serverSignature`. */
  clientFinal(data: Uint8Array): ScramStep {
    let text: string
    try {
      text = utf8Decoder.decode(data)
    } catch {
      return malformed("the client-final message is not UTF-8")
    }
    const proofAt = text.lastIndexOf(",p=")
    if (proofAt < 0) return malformed("the client-final message has no proof")
    const withoutProof = text.slice(0, proofAt)
    const attrs = attributes(withoutProof)
    if (attrs.get("c") !== Buffer.from(this.gs2Header).toString("base64")) {
      return malformed("the channel binding in the client-final message does not match the GS2 header")
    }
    if (attrs.get("r") !== this.nonce) return malformed("the nonce in the client-final message does not match")
    const proof = Buffer.from(text.slice(proofAt + 3), "base64")
    if (proof.length !== 32) return { _tag: "WrongProof" }
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`
    const clientSignature = hmac(this.verifier.storedKey, authMessage)
    const clientKey = new Uint8Array(32)
    for (let i = 0; i < 32; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!
    const storedKey = createHash("sha256").update(clientKey).digest()
    if (!timingSafeEqual(storedKey, this.verifier.storedKey)) return { _tag: "WrongProof" }
    const serverSignature = Buffer.from(hmac(this.verifier.serverKey, authMessage)).toString("base64")
    return { _tag: "Reply", data: utf8.encode(`v=${serverSignature}`) }
  }
}

/** The MD5 password hash a client sends: "md5" + md5(md5(password + user) + salt) in hex. */
export const md5Response = (user: string, password: string, salt: Uint8Array): string => {
  const inner = createHash("md5")
    .update(password + user)
    .digest("hex")
  return (
    "md5" +
    createHash("md5")
      .update(Buffer.concat([Buffer.from(inner), salt]))
      .digest("hex")
  )
}
