/**
 * The type byte of each pgoutput message, as documented: shared by the decoder and the encoder. Internal to the
 * package (not re-exported by its index).
 */
import type { PgoutputTag } from "./PgoutputMessage.ts"

/** Type byte of each message, as documented. */
export const typeByTag: { readonly [K in PgoutputTag]: number } = {
  Begin: 0x42, // 'B'
  Message: 0x4d, // 'M'
  Commit: 0x43, // 'C'
  Origin: 0x4f, // 'O'
  Relation: 0x52, // 'R'
  Type: 0x59, // 'Y'
  Insert: 0x49, // 'I'
  Update: 0x55, // 'U'
  Delete: 0x44, // 'D'
  Truncate: 0x54, // 'T'
  StreamStart: 0x53, // 'S'
  StreamStop: 0x45, // 'E'
  StreamCommit: 0x63, // 'c'
  StreamAbort: 0x41, // 'A'
  BeginPrepare: 0x62, // 'b'
  Prepare: 0x50, // 'P'
  CommitPrepared: 0x4b, // 'K'
  RollbackPrepared: 0x72, // 'r'
  StreamPrepare: 0x70 // 'p'
}
