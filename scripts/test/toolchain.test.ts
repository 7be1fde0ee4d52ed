import { describe, expect, it } from "vitest"

describe("toolchain", () => {
  it("runs on Node 24 or later (the root devDependency), not the machine's Node 20", () => {
    const major = Number(process.versions.node.split(".")[0])
    expect(major).toBeGreaterThanOrEqual(24)
  })
})
