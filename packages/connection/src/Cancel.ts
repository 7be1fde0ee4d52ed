/**
 * CancelRequest: asks the server, over a new short-lived connection, to cancel whatever the session with the given
 * backend key is running. The server answers nothing and closes the side connection.
 *
 * It deliberately sends the request in plain text (the server handles CancelRequest before pg_hba.conf and TLS
 * rules, so this works against TLS-only servers too) and never fails the caller: cancellation is best effort and the
 * running query's own ErrorResponse (57014) is what the session then reads.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { ConnectionConfig } from "./ConnectionConfig.ts"
import { type BackendKey, openTransport } from "./Startup.ts"
import { encodeOne } from "./Wire.ts"

export const sendCancel = (config: ConnectionConfig, key: BackendKey): Effect.Effect<void> =>
  Effect.scoped(
    Effect.gen(function* () {
      const transport = yield* openTransport(config, false)
      yield* transport.end(encodeOne({ _tag: "CancelRequest", processId: key.processId, secretKey: key.secretKey }))
    })
  ).pipe(
    Effect.timeout(Duration.seconds(5)),
    Effect.catchCause((cause) => Effect.logDebug("CancelRequest could not be sent", cause))
  )
