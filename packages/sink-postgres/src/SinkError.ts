/**
 * The one error type of `@pgcdc/sink-postgres`. Its `reason` says what failed:
 * - "Target": the target database refused a statement or the session to it failed (`cause` is the ConnectionError);
 *   retryable when the connection is (a restart, a dropped socket), not for a constraint or type error;
 * - "Mapping": a source table or column has no place in the target (missing table, column or primary key), or the
 *   source does not send what the target's key needs: fix the target or the mapping, retrying cannot help;
 * - "Unsupported": something the sink does not apply (prepared transactions, binary values of unknown types).
 *
 * It deliberately never carries row values: messages name tables and columns only.
 */
import * as Schema from "effect/Schema"

export const SinkErrorReason = Schema.Literals(["Target", "Mapping", "Unsupported"])
export type SinkErrorReason = typeof SinkErrorReason.Type

export class SinkError extends Schema.TaggedError<SinkError>()("SinkError", {
  reason: SinkErrorReason,
  message: Schema.String,
  /** SQLSTATE of the target's error, when there was one. */
  code: Schema.optional(Schema.String),
  retryable: Schema.optional(Schema.Boolean),
  cause: Schema.optional(Schema.Defect())
}) {
  /** Whether trying again (a new session to the target) may succeed. */
  get isRetryable(): boolean {
    return this.retryable ?? false
  }
}

export const isSinkError = (u: unknown): u is SinkError => u instanceof SinkError
