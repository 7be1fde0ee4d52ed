import { describe, expect, it } from "vitest"
import { type CpuProfile, enclosingConst, nameClosures, profileShares } from "../src/ProfileShares.ts"

const frame = (functionName: string, url = "file:///m.js", lineNumber = 0) => ({ functionName, url, lineNumber })

// root → main → { json closure (anonymous at line 3) → JSON work, (garbage collector), (idle) }
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)", ""), children: [2, 5, 6] },
    { id: 2, callFrame: frame("main"), children: [3] },
    { id: 3, callFrame: frame("", "file:///ColumnReaders.js", 3), children: [4] },
    { id: 4, callFrame: frame("parse", "file:///x.js") },
    { id: 5, callFrame: frame("(garbage collector)", "") },
    { id: 6, callFrame: frame("(idle)", "") }
  ],
  samples: [4, 4, 3, 2, 5, 6, 6],
  timeDeltas: [1000, 1000, 1000, 1000, 2000, 5000, 5000]
}

const source = ["const a = 1", "const json = (t) =>", "  (r, n) => {", "    return r", "  }"].join("\n")

describe("profile shares", () => {
  it("names an anonymous function after the top-level const that encloses it", () => {
    expect(enclosingConst(source, 3)).toBe("json")
    expect(enclosingConst(source, 0)).toBe("a")
    expect(enclosingConst("let x = 1", 0)).toBeUndefined()
    const named = nameClosures(profile, /ColumnReaders\.js$/, () => source)
    expect(named.nodes[2]!.callFrame.functionName).toBe("json closure")
    expect(named.nodes[1]!.callFrame.functionName).toBe("main")
  })

  it("gives each busy sample to the first category matching any frame of its stack, idle excluded", () => {
    const named = nameClosures(profile, /ColumnReaders\.js$/, () => source)
    const { busyMs, shares } = profileShares(named, [
      { name: "json", frame: /^json closure / },
      { name: "gc", frame: /^\(garbage collector\)/ }
    ])
    // 3 ms under the json closure (its callee included), 2 ms of GC, 1 ms in main alone; 10 ms idle left out.
    expect(busyMs).toBe(6)
    expect(shares).toEqual([
      { name: "json", ms: 3, share: 0.5 },
      { name: "gc", ms: 2, share: 2 / 6 },
      { name: "other", ms: 1, share: 1 / 6 }
    ])
    expect(profileShares(named, [{ name: "gc", frame: /garbage/ }], ["gc"]).busyMs).toBe(4)
  })
})
