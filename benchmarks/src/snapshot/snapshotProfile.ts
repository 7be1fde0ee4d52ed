/**
 * Where pgcdc's snapshot client spends its CPU: `node benchmarks/src/snapshot/snapshotProfile.ts FILE.cpuprofile`
 * prints the shares of a profile written by `bench:snapshot --profile DIR` (one file per Node client run) in the
 * categories BENCHMARKS.md ("Snapshot throughput") reports: each column type's reader, the COPY text cursor, the row
 * and Read message, the connection, Effect's runtime, GC. Start-up (module loading) is left out, as the client's
 * measured interval leaves it out.
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type Category, type CpuProfile, nameClosures, profileShares } from "../ProfileShares.ts"

const STARTUP = "start-up (module loading, compiling)"

/** The column readers are closures made per column type, named after their factory (`nameClosures`). */
export const snapshotCategories: ReadonlyArray<Category> = [
  { name: "GC", frame: /^\(garbage collector\)/ },
  { name: "jsonb values (number scan, UTF-8, JSON.parse)", frame: /^json closure / },
  { name: "text[] values (array parse)", frame: /^(arrayText|parseArrayText) / },
  { name: "timestamptz values", frame: /^timestamptz closure / },
  { name: "numeric values", frame: /^numeric closure / },
  { name: "int8 values", frame: /^int8 closure / },
  { name: "text and bool values (decodeText)", frame: /^(columnReaderFor closure|decodeText) / },
  { name: "COPY text cursor", frame: /CopyTextRow\.[jt]s/ },
  { name: "row object, Read message, delivery", frame: /rowCodec\.[jt]s|delivery\.[jt]s|RowMaker\.[jt]s/ },
  { name: "socket, framing, queueing rows", frame: /packages\/connection\/|Framer\.[jt]s|snapshotReader\.[jt]s/ },
  { name: "Effect runtime and Stream", frame: /\/effect\/dist\// },
  { name: STARTUP, frame: /^\S* node:internal\/(modules|bootstrap|source_map|options)|compileSourceTextModule/ }
]

const readUrl = (url: string): string | undefined => {
  try {
    return readFileSync(fileURLToPath(url), "utf8")
  } catch {
    return undefined
  }
}

const file = process.argv[2]
if (file === undefined) {
  console.error("usage: node benchmarks/src/snapshot/snapshotProfile.ts FILE.cpuprofile")
  process.exit(1)
}
const profile = nameClosures(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, /ColumnReaders\.[jt]s$/, readUrl)
const { busyMs, shares } = profileShares(profile, snapshotCategories, [STARTUP])
console.log(`${busyMs.toFixed(0)} ms busy after start-up (profiler time: inflated on a loaded machine; compare shares)`)
for (const s of shares) console.log(`${(s.share * 100).toFixed(1).padStart(5)}%  ${s.name}`)
