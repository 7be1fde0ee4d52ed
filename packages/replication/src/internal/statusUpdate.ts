/**
 * One standby status update: the positions the feedback state may report now (feedbackState.ts: only committed
 * LSNs, or an idle keepalive's WAL end once everything received is committed), encoded and sent on the copy, and the
 * lag gauge updated. Used by the feedback loop and by a session's last words when its scope closes.
 */
import type { CopyBoth } from "@pgcdc/connection"
import { encodeReplicationToBytes, Timestamp } from "@pgcdc/protocol"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import { fromConnectionError, type ReplicationError } from "../ReplicationError.ts"
import * as Feedback from "./feedbackState.ts"
import { lagGauge } from "./metrics.ts"

export const sendStatusUpdate = (
  copy: CopyBoth,
  state: Ref.Ref<Feedback.FeedbackState>
): Effect.Effect<void, ReplicationError> =>
  Effect.gen(function* () {
    const [positions, lag] = yield* Ref.modify(state, (s) => {
      const [p, next] = Feedback.nextStatus(s)
      return [[p, Feedback.lagBytes(next)] as const, next]
    })
    const nowMillis = yield* Clock.currentTimeMillis
    const bytes = encodeReplicationToBytes({
      _tag: "StandbyStatusUpdate",
      written: positions.written,
      flushed: positions.flushed,
      applied: positions.applied,
      clientTime: Timestamp.fromEpochMillis(nowMillis),
      replyRequested: false
    })
    yield* Metric.update(lagGauge, lag)
    yield* copy.send(bytes).pipe(Effect.mapError((e) => fromConnectionError(e, "Sending a status update")))
  })
