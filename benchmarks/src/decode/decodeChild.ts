/**
 * One decoder of the micro-benchmark in its own process (so one library's JIT state and garbage never slow another):
 * `decodeChild.ts <decoder id> <capture file> <passes>`. Decodes the capture twice to warm up, then `passes` times,
 * and prints one JSON line with the time of the first (cold) pass and of each timed pass.
 */
import * as Capture from "./Capture.ts"
import { decoders } from "./Decoders.ts"

const [id, file, passesText] = process.argv.slice(2)
const decoder = decoders.find((d) => d.id === id)
if (decoder === undefined || file === undefined) {
  console.error(`usage: decodeChild.ts <${decoders.map((d) => d.id).join("|")}> <capture file> [passes]`)
  process.exit(2)
}
const passes = Number(passesText ?? "5")
const { payloads } = Capture.read(file)
const decodeAll = await decoder.make(payloads)
// The first pass runs cold (interpreted code, then compiled while it runs), as every pass of a real drain does.
const c0 = performance.now()
decodeAll(payloads)
const firstMs = performance.now() - c0
decodeAll(payloads)
const times: Array<number> = []
let rowsSeen = 0
for (let i = 0; i < passes; i++) {
  const t0 = performance.now()
  rowsSeen = decodeAll(payloads)
  times.push(performance.now() - t0)
}
console.log(JSON.stringify({ id, firstMs, times, rowsSeen }))
