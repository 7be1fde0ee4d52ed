/**
 * fast-check arbitraries for backend messages, written independently of the Schemas (full Unicode strings, larger
 * byte fields, every field code) so that the codec is checked against a second description of the wire.
 */
import * as fc from "fast-check"
import type * as M from "../../src/backend/BackendMessage.ts"

/** `fc.record` without its occasional null-prototype objects (decoders build plain objects). */
export const rec = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true })

/** Any well-formed string (all planes), possibly with NUL: for length-prefixed fields. */
export const text = fc.string({ unit: "binary", maxLength: 40 })
/** A string without NUL: for NUL-terminated fields. */
export const cstring = text.map((s) => s.replaceAll("\0", "\u0001"))
export const nonEmptyCString = cstring.filter((s) => s.length > 0)
export const bytes = (maxLength = 64) => fc.uint8Array({ maxLength })
export const int16 = fc.integer({ min: -0x8000, max: 0x7fff })
export const int32 = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff })
export const uint32 = fc.integer({ min: 0, max: 0xffff_ffff })
export const formatCode = fc.constantFrom<M.FormatCode>(0, 1)

const noticeNames = [
  "severity",
  "severityNonLocalized",
  "code",
  "message",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schemaName",
  "tableName",
  "columnName",
  "dataTypeName",
  "constraintName",
  "file",
  "line",
  "routine"
] as const

const unknownCode = fc
  .integer({ min: 1, max: 255 })
  .map((c) => String.fromCharCode(c))
  .filter((c) => !"SVCMDHPpqWstcdnFLR".includes(c))

const noticeFields: fc.Arbitrary<M.NoticeFields> = fc
  .tuple(
    fc.record(
      Object.fromEntries(noticeNames.map((n) => [n, cstring])) as Record<
        (typeof noticeNames)[number],
        fc.Arbitrary<string>
      >,
      {
        requiredKeys: []
      }
    ),
    fc.array(rec({ code: unknownCode, value: cstring }), { maxLength: 3 })
  )
  .map(([known, unknown]) => (unknown.length === 0 ? known : { ...known, unknown }))

const empty = <T extends string>(tag: T) => fc.constant({ _tag: tag })

export const backendMessage: fc.Arbitrary<M.BackendMessage> = fc.oneof(
  empty("AuthenticationOk"),
  empty("AuthenticationKerberosV5"),
  empty("AuthenticationCleartextPassword"),
  rec({ _tag: fc.constant("AuthenticationMD5Password"), salt: fc.uint8Array({ minLength: 4, maxLength: 4 }) }),
  empty("AuthenticationGSS"),
  rec({ _tag: fc.constant("AuthenticationGSSContinue"), data: bytes() }),
  empty("AuthenticationSSPI"),
  rec({ _tag: fc.constant("AuthenticationSASL"), mechanisms: fc.array(nonEmptyCString, { maxLength: 3 }) }),
  rec({ _tag: fc.constant("AuthenticationSASLContinue"), data: bytes() }),
  rec({ _tag: fc.constant("AuthenticationSASLFinal"), data: bytes() }),
  rec({ _tag: fc.constant("ParameterStatus"), name: cstring, value: cstring }),
  rec({
    _tag: fc.constant("BackendKeyData"),
    processId: int32,
    secretKey: fc.uint8Array({ minLength: 4, maxLength: 256 })
  }),
  rec({ _tag: fc.constant("ReadyForQuery"), status: fc.constantFrom<M.TransactionStatus>("I", "T", "E") }),
  rec({
    _tag: fc.constant("RowDescription"),
    fields: fc.array(
      rec({
        name: cstring,
        tableOid: uint32,
        columnAttributeNumber: int16,
        dataTypeOid: uint32,
        dataTypeSize: int16,
        typeModifier: int32,
        format: formatCode
      }),
      { maxLength: 5 }
    )
  }),
  rec({ _tag: fc.constant("DataRow"), values: fc.array(fc.option(text, { nil: null }), { maxLength: 8 }) }),
  rec({ _tag: fc.constant("CommandComplete"), commandTag: cstring }),
  empty("EmptyQueryResponse"),
  noticeFields.map((f): M.ErrorResponse => ({ _tag: "ErrorResponse", ...f })),
  noticeFields.map((f): M.NoticeResponse => ({ _tag: "NoticeResponse", ...f })),
  rec({
    _tag: fc.constant("NegotiateProtocolVersion"),
    newestMinorVersion: int32,
    unrecognizedOptions: fc.array(cstring, { maxLength: 3 })
  }),
  ...(["CopyInResponse", "CopyOutResponse", "CopyBothResponse"] as const).map((tag) =>
    rec({ _tag: fc.constant(tag), format: formatCode, columnFormats: fc.array(formatCode, { maxLength: 6 }) })
  ),
  rec({ _tag: fc.constant("CopyData"), data: bytes(300) }),
  empty("CopyDone"),
  rec({ _tag: fc.constant("NotificationResponse"), processId: int32, channel: cstring, payload: cstring })
)
