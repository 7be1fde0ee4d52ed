/**
 * The mirror's own failures: a bad option, a server it cannot use, a consumer that does not catch up, and a
 * verdict of "not equal". Errors of the libraries (connection, replication) pass through unchanged.
 */
import * as Data from "effect/Data"

export class MirrorError extends Data.TaggedError("MirrorError")<{ readonly message: string }> {}
