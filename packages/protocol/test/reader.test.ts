import { describe, expect, it } from "vitest"
import { Reader } from "../src/Reader.ts"

describe("Reader", () => {
  it("copies bytes even when the input is a Node Buffer, whose slice is a view", () => {
    const input = Buffer.from([1, 2, 3, 4])
    const r = new Reader(input, "Test")
    const kept = r.bytes(2, "first")
    input[0] = 99
    expect(Array.from(kept)).toEqual([1, 2])
    const rest = r.rest("rest")
    input[3] = 99
    expect(Array.from(rest)).toEqual([3, 4])
  })

  it("names the message and field of a truncated read", () => {
    const r = new Reader(new Uint8Array([0, 1]), "XLogData")
    expect(() => r.i32("walStart")).toThrowError(/Truncated in XLogData.walStart/)
  })
})
