import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Lsn from "../src/Lsn.ts"
import { LsnFromString, LsnSchema } from "../src/LsnSchema.ts"

describe("Lsn Schema", () => {
  it("LsnFromString decodes and encodes PostgreSQL's X/Y form", () => {
    assert.strictEqual(Schema.decodeUnknownSync(LsnFromString)("16/B374D848"), 0x16_b374d848n)
    assert.strictEqual(Schema.encodeSync(LsnFromString)(Lsn.unsafeMake(0x16_b374d848n)), "16/B374D848")
    assert.strictEqual(Schema.encodeSync(LsnFromString)(Lsn.zero), "0/0")
  })

  it("LsnFromString rejects text that is not an LSN, saying why", () => {
    for (const bad of ["", "16", "16/", "G/1", "1/2/3", "123456789/0", " 1/2"]) {
      assert.throws(() => Schema.decodeUnknownSync(LsnFromString)(bad), /LSN/)
    }
  })

  it("LsnSchema validates the unsigned 64-bit range", () => {
    assert.strictEqual(Schema.decodeUnknownSync(LsnSchema)(0xffff_ffff_ffff_ffffn), 0xffff_ffff_ffff_ffffn)
    assert.throws(() => Schema.decodeUnknownSync(LsnSchema)(-1n))
    assert.throws(() => Schema.decodeUnknownSync(LsnSchema)(0x1_0000_0000_0000_0000n))
  })

  it.prop("format and LsnFromString agree for every LSN", [LsnSchema], ([lsn]) => {
    const text = Schema.encodeSync(LsnFromString)(lsn)
    assert.strictEqual(text, Lsn.format(lsn))
    assert.strictEqual(Schema.decodeUnknownSync(LsnFromString)(text), lsn)
  })
})
