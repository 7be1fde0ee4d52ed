/**
 * The SCRAM state machine on the RFC 7677 test vector, channel-binding headers, and the server answers it must
 * refuse (wrong signature, server error, absurd iteration counts, a nonce that is not ours).
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import * as Scram from "../src/Scram.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const bytes = (s: string) => new TextEncoder().encode(s)

// RFC 7677, section 3.
const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
const clientFinal =
  "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
const serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

const rfcStart = () =>
  Result.getOrThrow(
    Scram.start({
      password: "pencil",
      nonce: "rOprNGfwEbeRWgbNEkqO",
      user: "user",
      channelBinding: { _tag: "Unsupported" }
    })
  )

describe("SCRAM-SHA-256", () => {
  it("follows the RFC 7677 exchange byte for byte", () => {
    const first = rfcStart()
    expect(text(first.response)).toBe("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
    const final = Result.getOrThrow(Scram.next(first.state, bytes(serverFirst)))
    expect(text(final.response)).toBe(clientFinal)
    expect(Result.isSuccess(Scram.finish(final.state, bytes(serverFinal)))).toBe(true)
  })

  it("refuses a wrong server signature, a server error, and a nonce that does not extend ours", () => {
    const final = Result.getOrThrow(Scram.next(rfcStart().state, bytes(serverFirst)))
    const forged = Scram.finish(final.state, bytes("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
    expect(Result.isFailure(forged) && forged.failure.message).toContain("signature is wrong")
    const rejected = Scram.finish(final.state, bytes("e=invalid-proof"))
    expect(Result.isFailure(rejected) && rejected.failure.message).toContain("invalid-proof")
    const foreign = Scram.next(rfcStart().state, bytes("r=someone-else,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
    expect(Result.isFailure(foreign) && foreign.failure.message).toContain("nonce")
  })

  it("refuses iteration counts an untrusted server could use to pin the CPU, and malformed messages", () => {
    const state = rfcStart().state
    for (const i of ["0", "-1", "1e9", "10000001", "abc"]) {
      const r = Scram.next(state, bytes(`r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=${i}`))
      expect(Result.isFailure(r)).toBe(true)
    }
    expect(Result.isFailure(Scram.next(state, bytes("garbage")))).toBe(true)
    expect(Result.isFailure(Scram.next(state, new Uint8Array([0xff, 0xfe])))).toBe(true)
    expect(Result.isFailure(Scram.next(state, bytes("r=rOprNGfwEbeRWgbNEkqOxyz,s=!!!,i=4096")))).toBe(true)
  })

  it("writes the GS2 header and the c= attribute for each channel-binding choice", () => {
    const hash = new Uint8Array([1, 2, 3, 4])
    const cases = [
      [{ _tag: "Unsupported" }, "n,,", "biws"],
      [{ _tag: "NotOffered" }, "y,,", Buffer.from("y,,").toString("base64")],
      [
        { _tag: "TlsServerEndPoint", certificateHash: hash },
        "p=tls-server-end-point,,",
        Buffer.concat([Buffer.from("p=tls-server-end-point,,"), Buffer.from(hash)]).toString("base64")
      ]
    ] as const
    for (const [channelBinding, header, c] of cases) {
      const first = Result.getOrThrow(Scram.start({ password: "pw", nonce: "abc", channelBinding }))
      expect(text(first.response)).toBe(`${header}n=,r=abc`)
      const final = Result.getOrThrow(Scram.next(first.state, bytes("r=abcdef,s=c2FsdA==,i=1")))
      expect(text(final.response).startsWith(`c=${c},r=abcdef,p=`)).toBe(true)
    }
    expect(Scram.mechanismFor({ _tag: "TlsServerEndPoint", certificateHash: hash })).toBe("SCRAM-SHA-256-PLUS")
    expect(Scram.mechanismFor({ _tag: "NotOffered" })).toBe("SCRAM-SHA-256")
  })

  it("hashes certificates for tls-server-end-point as RFC 5929 says (MD5/SHA-1 become SHA-256)", () => {
    expect(Scram.certificateHashAlgorithm("1.2.840.113549.1.1.5")).toBe("sha256")
    expect(Scram.certificateHashAlgorithm("1.2.840.10045.4.3.3")).toBe("sha384")
    expect(Scram.certificateHashAlgorithm("1.2.840.113549.1.1.13")).toBe("sha512")
    expect(Scram.certificateHashAlgorithm("1.3.101.112")).toBeUndefined()
    expect(Scram.certificateHash(new Uint8Array([1]), "1.2.840.10045.4.3.2")?.length).toBe(32)
  })
})
