/**
 * Golden tests against bytes captured from real PostgreSQL 14 and 18 servers (scripts/capture-wire-fixtures.ts):
 * both directions of a regular session, a walsender session and a SCRAM authentication request go through the
 * framer (in the chunks the socket delivered, and re-split at random), decode, and re-encode to the same bytes.
 */
import { readFileSync } from "node:fs"
import * as path from "node:path"
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import type * as B from "../src/backend/BackendMessage.ts"
import { unsafeDecodeBackend } from "../src/backend/decodeBackend.ts"
import { encodeBackendToBytes } from "../src/backend/encodeBackend.ts"
import { unsafeDecodeFrontend, unsafeDecodeStartup } from "../src/frontend/decodeFrontend.ts"
import { encodeFrontendToBytes } from "../src/frontend/encodeFrontend.ts"
import type { FrontendMessage } from "../src/frontend/FrontendMessage.ts"
import { Framer } from "../src/Framer.ts"
import { concat, splitAt } from "./arbitraries/wireBytes.ts"

interface Capture {
  readonly client: Array<Uint8Array>
  readonly server: Array<Uint8Array>
}

const load = (major: number, name: string): Capture => {
  const text = readFileSync(path.join(import.meta.dirname, "fixtures", "wire", `pg${major}`, `${name}.hex`), "utf8")
  const capture: Capture = { client: [], server: [] }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const bytes = Uint8Array.from(Buffer.from(line.slice(2), "hex"))
    ;(line[0] === "C" ? capture.client : capture.server).push(bytes)
  }
  return capture
}

/** Frames a server byte stream and decodes it; each frame must re-encode to exactly its bytes. */
const serverMessages = (chunks: ReadonlyArray<Uint8Array>): Array<B.BackendMessage> => {
  const framer = new Framer()
  const out: Array<B.BackendMessage> = []
  for (const chunk of chunks) {
    framer.push(chunk)
    while (framer.next()) {
      const m = unsafeDecodeBackend(framer.buf, framer.start, framer.end)
      expect(encodeBackendToBytes(m)).toStrictEqual(framer.buf.slice(framer.start, framer.end))
      out.push(m)
    }
  }
  expect(framer.buffered).toBe(0)
  return out
}

/** Frames a client byte stream as a server would: startup mode until the StartupMessage. */
const clientMessages = (chunks: ReadonlyArray<Uint8Array>): Array<FrontendMessage> => {
  const framer = new Framer({ mode: "startup" })
  const out: Array<FrontendMessage> = []
  for (const chunk of chunks) {
    framer.push(chunk)
    while (framer.next()) {
      const m =
        framer.mode === "startup"
          ? unsafeDecodeStartup(framer.buf, framer.start, framer.end)
          : unsafeDecodeFrontend(framer.buf, framer.start, framer.end)
      if (m._tag === "StartupMessage") framer.setTyped()
      expect(encodeFrontendToBytes(m)).toStrictEqual(framer.buf.slice(framer.start, framer.end))
      out.push(m)
    }
  }
  return out
}

const only = <T extends B.BackendMessage["_tag"]>(ms: ReadonlyArray<B.BackendMessage>, tag: T) =>
  ms.filter((m): m is Extract<B.BackendMessage, { _tag: T }> => m._tag === tag)

describe.each([14, 18])("golden wire bytes from PostgreSQL %i", (major) => {
  it("a regular session: startup, rows, errors, notices, notifications, COPY", () => {
    const capture = load(major, "session")
    const ms = serverMessages(capture.server)

    expect(ms[0]).toStrictEqual({ _tag: "AuthenticationOk" })
    const params = new Map(only(ms, "ParameterStatus").map((p) => [p.name, p.value]))
    expect(params.get("server_version")?.split(".")[0]).toBe(String(major))
    expect(params.get("client_encoding")).toBe("UTF8")
    const [key] = only(ms, "BackendKeyData")
    expect(key?.secretKey.length).toBe(4)

    const [rows] = only(ms, "RowDescription")
    expect(rows?.fields.map((f) => [f.name, f.dataTypeOid, f.typeModifier, f.format])).toStrictEqual([
      ["a", 23, -1, 0],
      ["b", 25, -1, 0],
      ["c", 25, -1, 0],
      ["d", 1700, ((10 << 16) | 2) + 4, 0]
    ])
    expect(only(ms, "DataRow")[0]).toStrictEqual({ _tag: "DataRow", values: ["1", null, "żółw ✓", "12.50"] })

    const [missing, divide] = only(ms, "ErrorResponse")
    expect(missing).toMatchObject({
      severity: "ERROR",
      severityNonLocalized: "ERROR",
      code: "42P01",
      message: 'relation "no_such_table" does not exist',
      position: "15"
    })
    expect([typeof missing?.file, typeof missing?.line, typeof missing?.routine]).toEqual([
      "string",
      "string",
      "string"
    ])
    expect(divide).toMatchObject({ code: "22012", message: "division by zero" })
    expect(only(ms, "ReadyForQuery").map((r) => r.status)).toContain("E")

    expect(only(ms, "EmptyQueryResponse")).toHaveLength(1)
    const [notice] = only(ms, "NoticeResponse")
    expect(notice).toMatchObject({ severity: "NOTICE", code: "00000", message: "hello 42" })
    expect(notice?.where).toContain("PL/pgSQL")
    expect(only(ms, "NotificationResponse")).toMatchObject([{ channel: "fx_channel", payload: "payload ✓" }])

    expect(only(ms, "CopyOutResponse")).toStrictEqual([
      { _tag: "CopyOutResponse", format: 0, columnFormats: [0, 0] },
      { _tag: "CopyOutResponse", format: 1, columnFormats: [1, 1] }
    ])
    const text = new TextDecoder()
    expect(
      only(ms, "CopyData")
        .slice(0, 3)
        .map((d) => text.decode(d.data))
    ).toStrictEqual(["1\tx1\n", "2\tx2\n", "3\tx3\n"])
    expect(only(ms, "CopyInResponse")).toStrictEqual([{ _tag: "CopyInResponse", format: 0, columnFormats: [0, 0] }])
    expect(only(ms, "CommandComplete").map((c) => c.commandTag)).toEqual(
      expect.arrayContaining(["SELECT 1", "LISTEN", "NOTIFY", "COPY 3", "COPY 1", "ROLLBACK", "COPY 2"])
    )

    const client = clientMessages(capture.client)
    expect(client[0]).toStrictEqual({
      _tag: "StartupMessage",
      protocolVersion: 196608,
      parameters: [
        ["user", "postgres"],
        ["database", "postgres"],
        ["application_name", "pgcdc-fixture"]
      ]
    })
    expect(client.map((m) => m._tag)).toEqual(expect.arrayContaining(["Query", "CopyData", "CopyDone", "Terminate"]))
  })

  it("a walsender session: IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT, START_REPLICATION", () => {
    const capture = load(major, "replication")
    const ms = serverMessages(capture.server)
    const descriptions = only(ms, "RowDescription").map((r) => r.fields.map((f) => f.name))
    expect(descriptions[0]).toStrictEqual(["systemid", "timeline", "xlogpos", "dbname"])
    expect(descriptions[1]).toStrictEqual(["slot_name", "consistent_point", "snapshot_name", "output_plugin"])
    expect(only(ms, "CopyBothResponse")).toStrictEqual([{ _tag: "CopyBothResponse", format: 0, columnFormats: [] }])
    const copies = only(ms, "CopyData")
    // XLogData ('w') and primary keepalive ('k'), the first bytes of the streaming-replication messages.
    expect(copies.every((c) => c.data[0] === 0x77 || c.data[0] === 0x6b)).toBe(true)
    expect(copies.some((c) => c.data[0] === 0x77)).toBe(true)
    expect(only(ms, "CopyDone")).toHaveLength(1)
    expect(ms.at(-1)).toStrictEqual({ _tag: "ReadyForQuery", status: "I" })

    const client = clientMessages(capture.client)
    expect(client[0]).toMatchObject({
      _tag: "StartupMessage",
      parameters: expect.arrayContaining([["replication", "database"]])
    })
    expect(
      client.filter((m) => m._tag === "Query").map((m) => m._tag === "Query" && m.sql.split(" ")[0])
    ).toStrictEqual(["IDENTIFY_SYSTEM", "CREATE_REPLICATION_SLOT", "START_REPLICATION"])
  })

  it("a SCRAM authentication request over TCP", () => {
    const ms = serverMessages(load(major, "sasl").server)
    expect(ms).toStrictEqual([{ _tag: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256"] }])
  })

  it("the same bytes split anywhere decode to the same messages", () => {
    const capture = load(major, "session")
    const stream = concat(...capture.server)
    const expected = serverMessages(capture.server)
    fc.assert(
      fc.property(fc.array(fc.nat({ max: stream.length }), { maxLength: 30 }), (cuts) => {
        expect(serverMessages(splitAt(stream, cuts))).toStrictEqual(expected)
      }),
      { numRuns: 50 }
    )
  })
})
