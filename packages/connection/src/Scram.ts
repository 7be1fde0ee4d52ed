/**
 * SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, channel binding "tls-server-end-point" of RFC 5929) as a
 * small pure state machine: each step takes the server's bytes and returns the next state and our answer.
 *
 * Why not `@effect/sql-pg`'s PgAuth: its SCRAM hard-codes the GS2 header "n,," (and `c=biws`), so it can neither
 * bind to the TLS channel nor send "y,," (we support binding but the server did not offer it), which is what
 * stops a man in the middle from downgrading us from -PLUS. We still use its MD5 helper (see `Authenticate.ts`).
 *
 * It deliberately does no I/O and no randomness (the caller supplies the nonce) and does not SASLprep the password
 * (like PostgreSQL's own client for passwords that are not valid SASLprep input, it uses the UTF-8 bytes as they
 * are; non-ASCII passwords that need normalisation should be stored normalised).
 */
import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from "node:crypto"
import * as Result from "effect/Result"

export const SCRAM_SHA_256 = "SCRAM-SHA-256"
export const SCRAM_SHA_256_PLUS = "SCRAM-SHA-256-PLUS"

/** What the client says about channel binding in its GS2 header. */
export type ChannelBindingUse =
  /** "n,,": no TLS, so nothing to bind to. */
  | { readonly _tag: "Unsupported" }
  /** "y,,": we could bind, but the server did not offer -PLUS (a server that did would notice a downgrade). */
  | { readonly _tag: "NotOffered" }
  /** "p=tls-server-end-point,,": bind to the hash of the server certificate. */
  | { readonly _tag: "TlsServerEndPoint"; readonly certificateHash: Uint8Array }

export interface ScramClientFirst {
  readonly _tag: "ScramClientFirst"
  readonly password: string
  readonly clientNonce: string
  readonly clientFirstBare: string
  /** base64(GS2 header + channel binding data), the `c=` attribute of the final message. */
  readonly channelBinding: string
}

export interface ScramClientFinal {
  readonly _tag: "ScramClientFinal"
  readonly serverSignature: Uint8Array
}

/** Iteration counts above this are refused before hashing: an untrusted server must not pin our CPU. */
const maxIterations = 1_000_000
const encoder = new TextEncoder()
const decoder = new TextDecoder("utf-8", { fatal: true })

const fail = (message: string): never => {
  throw new ScramError(message)
}

export class ScramError extends Error {
  override readonly name = "ScramError"
}

const attempt = <A>(f: () => A): Result.Result<A, ScramError> => {
  try {
    return Result.succeed(f())
  } catch (e) {
    if (e instanceof ScramError) return Result.fail(e)
    throw e
  }
}

const gs2Header = (use: ChannelBindingUse): string =>
  use._tag === "Unsupported" ? "n,," : use._tag === "NotOffered" ? "y,," : "p=tls-server-end-point,,"

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64")

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** The mechanism name that goes into SASLInitialResponse for this channel binding choice. */
export const mechanismFor = (use: ChannelBindingUse): string =>
  use._tag === "TlsServerEndPoint" ? SCRAM_SHA_256_PLUS : SCRAM_SHA_256

/** client-first-message: GS2 header, empty user name (PostgreSQL takes it from the startup message) and nonce. */
export const start = (options: {
  readonly password: string
  readonly nonce: string
  readonly channelBinding: ChannelBindingUse
  /** PostgreSQL ignores it (the user comes from the StartupMessage) and libpq sends it empty; so do we by default. */
  readonly user?: string | undefined
}): Result.Result<{ readonly state: ScramClientFirst; readonly response: Uint8Array }, ScramError> =>
  attempt(() => {
    if (!/^[\x21-\x2b\x2d-\x7e]+$/.test(options.nonce)) {
      fail("SCRAM nonce must be printable ASCII without commas")
    }
    const header = gs2Header(options.channelBinding)
    const user = (options.user ?? "").replaceAll("=", "=3D").replaceAll(",", "=2C")
    const clientFirstBare = `n=${user},r=${options.nonce}`
    const bindingData =
      options.channelBinding._tag === "TlsServerEndPoint"
        ? concat(encoder.encode(header), options.channelBinding.certificateHash)
        : encoder.encode(header)
    return {
      state: {
        _tag: "ScramClientFirst",
        password: options.password,
        clientNonce: options.nonce,
        clientFirstBare,
        channelBinding: b64(bindingData)
      },
      response: encoder.encode(header + clientFirstBare)
    }
  })

const parseAttributes = (message: string): ReadonlyMap<string, string> => {
  const out = new Map<string, string>()
  for (const part of message.split(",")) {
    const eq = part.indexOf("=")
    if (eq !== 1) fail(`Malformed SCRAM attribute "${part.slice(0, 20)}"`)
    const key = part[0]!
    if (out.has(key)) fail(`Duplicate SCRAM attribute "${key}"`)
    out.set(key, part.slice(2))
  }
  return out
}

const required = (attrs: ReadonlyMap<string, string>, key: string): string =>
  attrs.get(key) ?? fail(`The server's SCRAM message lacks the "${key}" attribute`)

const utf8 = (bytes: Uint8Array, what: string): string => {
  try {
    return decoder.decode(bytes)
  } catch {
    return fail(`The server's ${what} is not valid UTF-8`)
  }
}

const fromBase64 = (s: string, what: string): Uint8Array => {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) fail(`Invalid base64 in the server's SCRAM ${what}`)
  return new Uint8Array(Buffer.from(s, "base64"))
}

const hmac = (key: Uint8Array, data: string | Uint8Array): Uint8Array =>
  new Uint8Array(createHmac("sha256", key).update(data).digest())

/** Answers AuthenticationSASLContinue (server-first-message) with client-final-message. */
export const next = (
  state: ScramClientFirst,
  serverFirst: Uint8Array
): Result.Result<{ readonly state: ScramClientFinal; readonly response: Uint8Array }, ScramError> =>
  attempt(() => {
    const serverFirstMessage = utf8(serverFirst, "SCRAM server-first-message")
    const attrs = parseAttributes(serverFirstMessage)
    if (attrs.has("m")) fail("The server requires a SCRAM extension we do not know")
    const nonce = required(attrs, "r")
    if (!nonce.startsWith(state.clientNonce) || nonce.length === state.clientNonce.length) {
      fail("The server's SCRAM nonce does not extend ours (a wrong or malicious server)")
    }
    const salt = fromBase64(required(attrs, "s"), "salt")
    if (salt.length === 0) fail("The server sent an empty SCRAM salt")
    const iterationsText = required(attrs, "i")
    const iterations = Number(iterationsText)
    if (!/^[1-9]\d*$/.test(iterationsText) || iterations > maxIterations) {
      fail(`The server asks for ${iterationsText} SCRAM iterations; accepted: 1 to ${maxIterations}`)
    }
    const salted = new Uint8Array(pbkdf2Sync(encoder.encode(state.password), salt, iterations, 32, "sha256"))
    const clientKey = hmac(salted, "Client Key")
    const storedKey = new Uint8Array(createHash("sha256").update(clientKey).digest())
    const withoutProof = `c=${state.channelBinding},r=${nonce}`
    const authMessage = `${state.clientFirstBare},${serverFirstMessage},${withoutProof}`
    const signature = hmac(storedKey, authMessage)
    const proof = new Uint8Array(clientKey.length)
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!
    const serverKey = hmac(salted, "Server Key")
    return {
      state: { _tag: "ScramClientFinal", serverSignature: hmac(serverKey, authMessage) },
      response: encoder.encode(`${withoutProof},p=${b64(proof)}`)
    }
  })

/** Checks AuthenticationSASLFinal: the server proves it knows the password too. */
export const finish = (state: ScramClientFinal, serverFinal: Uint8Array): Result.Result<void, ScramError> =>
  attempt(() => {
    const attrs = parseAttributes(utf8(serverFinal, "SCRAM server-final-message"))
    const error = attrs.get("e")
    if (error !== undefined) fail(`The server rejected SCRAM authentication: ${error}`)
    const signature = fromBase64(required(attrs, "v"), "signature")
    if (signature.length !== state.serverSignature.length || !timingSafeEqual(signature, state.serverSignature)) {
      fail("The server's SCRAM signature is wrong: it does not know the password (possible impostor)")
    }
  })

/**
 * The hash PostgreSQL binds to for "tls-server-end-point" (RFC 5929 section 4.1): the certificate's signature hash,
 * with MD5 and SHA-1 replaced by SHA-256. Certificates whose signature names no single hash (Ed25519, RSA-PSS)
 * cannot be bound to; PostgreSQL refuses them too.
 */
export const certificateHashAlgorithm = (signatureAlgorithmOid: string): string | undefined => {
  switch (signatureAlgorithmOid) {
    case "1.2.840.113549.1.1.4": // md5WithRSAEncryption
    case "1.2.840.113549.1.1.5": // sha1WithRSAEncryption
    case "1.2.840.10045.4.1": // ecdsa-with-SHA1
    case "1.2.840.10040.4.3": // dsa-with-sha1
    case "1.2.840.113549.1.1.11": // sha256WithRSAEncryption
    case "1.2.840.10045.4.3.2": // ecdsa-with-SHA256
    case "2.16.840.1.101.3.4.3.2": // dsa-with-sha256
      return "sha256"
    case "1.2.840.113549.1.1.14": // sha224WithRSAEncryption
    case "1.2.840.10045.4.3.1": // ecdsa-with-SHA224
    case "2.16.840.1.101.3.4.3.1": // dsa-with-sha224
      return "sha224"
    case "1.2.840.113549.1.1.12": // sha384WithRSAEncryption
    case "1.2.840.10045.4.3.3": // ecdsa-with-SHA384
      return "sha384"
    case "1.2.840.113549.1.1.13": // sha512WithRSAEncryption
    case "1.2.840.10045.4.3.4": // ecdsa-with-SHA512
      return "sha512"
    default:
      return undefined
  }
}

/** tls-server-end-point channel binding data for a DER certificate, or undefined when it cannot be bound to. */
export const certificateHash = (der: Uint8Array, signatureAlgorithmOid: string): Uint8Array | undefined => {
  const algorithm = certificateHashAlgorithm(signatureAlgorithmOid)
  return algorithm === undefined ? undefined : new Uint8Array(createHash(algorithm).update(der).digest())
}
