/**
 * The captured pgoutput stream the decode micro-benchmark replays: taken once from a real server with
 * `pg_logical_slot_peek_binary_changes` (protocol version 1) and stored as CopyData payloads, i.e. each message
 * wrapped in the 25-byte XLogData header ('w', walStart, walEnd, serverTime) exactly as a replication connection
 * delivers it, so every decoder starts from the same bytes a client would receive.
 *
 * File format: repeated [uint32 big-endian length][payload]. It deliberately stores nothing else.
 */
import { readFileSync, writeFileSync } from "node:fs"
import type pg from "pg"

export interface Captured {
  readonly payloads: ReadonlyArray<Buffer>
  readonly bytes: number
}

const lsnToBigInt = (text: string): bigint => {
  const [hi, lo] = text.split("/")
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`)
}

/** Peeks every change of `slot` (without consuming it) as XLogData payloads. */
export const capture = async (client: pg.Client, slot: string, publication: string): Promise<Captured> => {
  const result = await client.query<{ lsn: string; data: Buffer }>(
    "SELECT lsn::text AS lsn, data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, 'proto_version', '1', 'publication_names', $2)",
    [slot, publication]
  )
  let bytes = 0
  const payloads = result.rows.map((row) => {
    const payload = Buffer.allocUnsafe(25 + row.data.length)
    payload[0] = 0x77 // 'w'
    const lsn = lsnToBigInt(row.lsn)
    payload.writeBigUInt64BE(lsn, 1)
    payload.writeBigUInt64BE(lsn, 9)
    payload.writeBigInt64BE(0n, 17)
    row.data.copy(payload, 25)
    bytes += payload.length
    return payload
  })
  return { payloads, bytes }
}

export const write = (file: string, captured: Captured): void => {
  const out = Buffer.allocUnsafe(captured.bytes + 4 * captured.payloads.length)
  let at = 0
  for (const p of captured.payloads) {
    out.writeUInt32BE(p.length, at)
    p.copy(out, at + 4)
    at += 4 + p.length
  }
  writeFileSync(file, out)
}

/** Reads a capture file; every payload is its own Buffer (as a socket reader would hand them out). */
export const read = (file: string): Captured => {
  const all = readFileSync(file)
  const payloads: Array<Buffer> = []
  let at = 0
  while (at < all.length) {
    const length = all.readUInt32BE(at)
    payloads.push(Buffer.from(all.subarray(at + 4, at + 4 + length)))
    at += 4 + length
  }
  return { payloads, bytes: all.length - 4 * payloads.length }
}
