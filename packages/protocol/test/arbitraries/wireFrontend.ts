/**
 * fast-check arbitraries for frontend messages (typed and startup-phase), independent of the Schemas.
 */
import * as fc from "fast-check"
import type * as M from "../../src/frontend/FrontendMessage.ts"
import { bytes, cstring, int32, nonEmptyCString, rec } from "./wireBackend.ts"

export const startupPhaseMessage: fc.Arbitrary<M.StartupPhaseMessage> = fc.oneof(
  rec({
    _tag: fc.constant("StartupMessage"),
    protocolVersion: fc.constantFrom(196608, 196610, 0x3ffff),
    parameters: fc.array(fc.tuple(nonEmptyCString, cstring), { maxLength: 5 })
  }),
  fc.constant({ _tag: "SSLRequest" as const }),
  fc.constant({ _tag: "GSSENCRequest" as const }),
  rec({
    _tag: fc.constant("CancelRequest"),
    processId: int32,
    secretKey: fc.uint8Array({ minLength: 4, maxLength: 256 })
  })
)

export const typedFrontendMessage: fc.Arbitrary<M.TypedFrontendMessage> = fc.oneof(
  rec({ _tag: fc.constant("PasswordMessage"), password: cstring }),
  rec({ _tag: fc.constant("SASLInitialResponse"), mechanism: cstring, data: fc.option(bytes(), { nil: null }) }),
  rec({ _tag: fc.constant("SASLResponse"), data: bytes() }),
  rec({ _tag: fc.constant("Query"), sql: cstring }),
  rec({ _tag: fc.constant("CopyData"), data: bytes(300) }),
  fc.constant({ _tag: "CopyDone" as const }),
  rec({ _tag: fc.constant("CopyFail"), message: cstring }),
  fc.constant({ _tag: "Terminate" as const })
)

/** The 'p' context a server would be in when it receives `m`. */
export const passwordContextOf = (m: M.TypedFrontendMessage): M.PasswordContext | undefined =>
  m._tag === "PasswordMessage" || m._tag === "SASLInitialResponse" || m._tag === "SASLResponse" ? m._tag : undefined
