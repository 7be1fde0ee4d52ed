/**
 * Random transactions for the simulation, drawn from a seeded `Random` against the current model, so that every
 * operation is valid (an insert only of an absent key, updates and deletes only of present ones) and a seed always
 * gives the same workload. Values exercise what consumers get wrong: NULLs, quotes, backslashes, non-ASCII text,
 * int8 values beyond 2^53 and at the ends of the range.
 *
 * It deliberately generates no schema changes and no key updates: the replica applies changes by key, and a key
 * change would be an insert plus a delete to it, which the stream already covers.
 */
import type { Op, Row, TableSpec, Transaction, Value } from "./Backend.ts"
import type { Tables } from "./Model.ts"
import type { Random } from "./Random.ts"

export interface WorkloadOptions {
  /** Transactions written per iteration. Default 1 to 4. */
  readonly transactions?: readonly [number, number] | undefined
  /** Operations per transaction. Default 1 to 6. */
  readonly operations?: readonly [number, number] | undefined
  /** Keys are 1..keySpace, so inserts, updates and deletes meet the same rows often. Default 12. */
  readonly keySpace?: number | undefined
  /** Default 0.2. */
  readonly rollbackProbability?: number | undefined
  /** A transaction that starts with TRUNCATE of every table. Default 0.02. */
  readonly truncateProbability?: number | undefined
  /**
   * A large transaction, streamed while in progress (`streaming: "on"`): an `InsertSeries` of `streamedRows` rows
   * with fresh keys (from 100000 up) into the first table, then a few ordinary operations. Default 0 (none).
   */
  readonly streamedProbability?: number | undefined
  /**
   * Rows of a streamed transaction. PostgreSQL streams a transaction once it passes logical_decoding_work_mem
   * (64kB at least): 400 rows of a 200-character text are well past it. Default 400.
   */
  readonly streamedRows?: number | undefined
}

/** The text of every row of a streamed transaction (long, so that few rows pass logical_decoding_work_mem). */
export const streamedText = "s".repeat(200)

const pieces = ["a", "b", "z", "Q", " ", "'", '"', "\\", ",", "é", "ß", "€", "中", "😀", "\t", "\n", "{", "}"]

const text = (random: Random): Value => {
  if (random.chance(0.1)) return null
  const n = random.int(9)
  let s = ""
  for (let i = 0; i < n; i++) s += random.pick(pieces)
  return s
}

const int8 = (random: Random): Value => {
  const kind = random.int(10)
  if (kind === 0) return null
  if (kind <= 4) return String(random.between(-1000, 1000))
  if (kind <= 6) return String(9007199254740991n + BigInt(random.between(-3, 3)))
  if (kind === 7) return random.pick(["9223372036854775807", "-9223372036854775808", "0"])
  return random.int64().toString()
}

const rowFor = (random: Random, id: number): Row => ({ id: String(id), v: text(random), n: int8(random) })

/**
 * The rows a table holds before a run that starts with an initial snapshot: keys 1 to `rows` in every table, inserted
 * in transactions of at most 50 rows.
 */
export const initialRows = (random: Random, tables: ReadonlyArray<TableSpec>, rows: number): Array<Transaction> => {
  const out: Array<Transaction> = []
  for (const table of tables) {
    for (let from = 1; from <= rows; from += 50) {
      const ops: Array<Op> = []
      for (let id = from; id <= Math.min(rows, from + 49); id++)
        ops.push({ _tag: "Insert", table: table.name, row: rowFor(random, id) })
      out.push({ ops })
    }
  }
  return out
}

/** The tables a simulation uses by default: one with the primary key as identity, one with REPLICA IDENTITY FULL. */
export const defaultTables = (prefix: string): ReadonlyArray<TableSpec> =>
  (["a", "b"] as const).map((suffix) => ({
    name: `${prefix}_${suffix}`,
    columns: [
      { name: "id", type: "int4", key: true },
      { name: "v", type: "text" },
      { name: "n", type: "int8" }
    ],
    replicaIdentity: suffix === "b" ? "full" : "default"
  }))

/**
 * One random transaction valid against `model` (which is not changed). `seriesFrom` is the first key a streamed
 * transaction may use (the caller moves it past every series written, rolled back or not).
 */
export const generateTransaction = (
  random: Random,
  model: Tables,
  options: WorkloadOptions = {},
  seriesFrom = 100_000
): Transaction => {
  const [minOps, maxOps] = options.operations ?? [1, 6]
  const keySpace = options.keySpace ?? 12
  const local = model.clone()
  const ops: Array<Op> = []
  // No draw when streaming is off, so that seeds keep their workloads whether or not this option exists.
  const streamed = (options.streamedProbability ?? 0) > 0 && random.chance(options.streamedProbability ?? 0)
  if (streamed) {
    const op: Op = {
      _tag: "InsertSeries",
      table: model.specs[0]!.name,
      from: seriesFrom,
      count: options.streamedRows ?? 400,
      text: streamedText
    }
    ops.push(op)
    local.apply(op)
  } else if (random.chance(options.truncateProbability ?? 0.02)) {
    const op: Op = { _tag: "Truncate", tables: model.specs.map((s) => s.name) }
    ops.push(op)
    local.apply(op)
  }
  const count = random.between(minOps, maxOps)
  for (let i = 0; i < count; i++) {
    const table = random.pick(model.specs).name
    const id = random.between(1, keySpace)
    const key: Row = { id: String(id) }
    let op: Op
    if (!local.has(table, key)) op = { _tag: "Insert", table, row: rowFor(random, id) }
    else if (random.chance(0.6)) op = { _tag: "Update", table, row: rowFor(random, id) }
    else op = { _tag: "Delete", table, key }
    ops.push(op)
    local.apply(op)
  }
  return { ops, rollback: random.chance(options.rollbackProbability ?? 0.2), ...(streamed ? { streamed } : {}) }
}

const describeOp = (op: Op): string => {
  switch (op._tag) {
    case "Insert":
      return `+${op.table}:${op.row.id}`
    case "Update":
      return `~${op.table}:${op.row.id}`
    case "Delete":
      return `-${op.table}:${op.key.id}`
    case "Truncate":
      return "truncate"
    case "Message":
      return `message:${op.prefix}`
    case "InsertSeries":
      return `+${op.table}:${op.from}..${op.from + op.count - 1}`
  }
}

/** A short description for the run's trace, e.g. `commit +a:3 ~b:2 -a:5`. */
export const describeTransaction = (tx: Transaction): string => {
  const parts = tx.ops.map(describeOp)
  return `${tx.rollback === true ? "rollback" : "commit"}${tx.streamed === true ? " streamed" : ""} ${parts.join(" ")}`
}
