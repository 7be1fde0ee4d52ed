/**
 * Arbitraries for pgoutput property tests: a message (derived from its Schema) together with decoding options that
 * are consistent with it, so that every protocol version and both stream contexts are exercised.
 *
 * The message decides what the options must be (an xid on Insert means "inside a stream"; abort fields on
 * StreamAbort mean protocol 4 with streaming=parallel; Prepare needs protocol 3); everything it leaves open is
 * generated.
 */
import { Arbitrary, Schema } from "effect"
import {
  hasAbortInfo,
  hasStreamXid,
  minProtoVersion,
  type PgoutputMessage,
  type PgoutputOptions,
  type ProtoVersion
} from "../../src/pgoutput/PgoutputMessage.ts"
import { PgoutputMessageSchema } from "../../src/pgoutput/PgoutputSchema.ts"

export const pgoutputMessage: Arbitrary.Arbitrary<PgoutputMessage> = Arbitrary.schema(
  Schema.toType(PgoutputMessageSchema)
)

const versions: ReadonlyArray<ProtoVersion> = [1, 2, 3, 4]
const streamingModes = ["off", "on", "parallel"] as const

/** Every option set under which `m` can be sent. */
export const optionsFor = (m: PgoutputMessage): ReadonlyArray<PgoutputOptions> => {
  const out: Array<PgoutputOptions> = []
  for (const protoVersion of versions) {
    if (protoVersion < minProtoVersion[m._tag]) continue
    for (const inStream of [false, true]) {
      if (inStream && protoVersion < 2) continue
      if (hasStreamXid(m._tag) && "xid" in m && (m.xid !== undefined) !== inStream) continue
      for (const streaming of streamingModes) {
        const options: PgoutputOptions = { protoVersion, inStream, streaming }
        if (m._tag === "StreamAbort" && (m.abortLsn !== undefined) !== hasAbortInfo(options)) continue
        out.push(options)
      }
    }
  }
  return out
}

/** A message with options it is valid under; messages valid under none (none exist today) are discarded. */
export const pgoutputCase: Arbitrary.Arbitrary<{
  readonly message: PgoutputMessage
  readonly options: PgoutputOptions
}> = Arbitrary.flatMap(pgoutputMessage, (message) => {
  const all = optionsFor(message)
  return Arbitrary.map(
    Arbitrary.schema(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 0, maximum: all.length - 1 })))),
    (i) => ({ message, options: all[i]! })
  )
})
