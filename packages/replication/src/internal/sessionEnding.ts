/**
 * What ended a replication session, in words an operator can act on. The service logs every ending it recovers from
 * with this text and the delay before the next attempt ("the server is starting up (57P03); retrying in 200 ms"),
 * so a log line names the cause instead of the stage that happened to notice it.
 *
 * Whether an ending is retried is decided by the error itself (`ReplicationError.isRetryable`, which follows the
 * SQLSTATE for server errors) and, for a slot held by another process, by the supervisor. This module only describes.
 */
import * as Duration from "effect/Duration"
import type { ReplicationError } from "../ReplicationError.ts"

/** Why the session ended or could not start, for a log line. */
export const describeEnding = (e: ReplicationError): string => {
  switch (e.code) {
    case "57P01":
      return "the server is shutting down, or an administrator terminated the session (57P01)"
    case "57P02":
      return "the server is restarting after another server process crashed (57P02)"
    case "57P03":
      return "the server is starting up or shutting down and does not accept connections yet (57P03)"
    case "55006":
      return `the replication slot is still held by another walsender (55006): ${e.message}`
    case "53300":
      return "the server has no free connection slot (53300)"
  }
  if (e.code?.startsWith("08") === true) return `the connection failed (${e.code}): ${e.message}`
  return e.message
}

/** "200 ms", "1.6 s", "1 min 4 s": how long until the next attempt. */
export const describeDelay = (delay: Duration.Duration): string => {
  const millis = Duration.toMillis(delay)
  if (millis < 1000) return `${Math.round(millis)} ms`
  if (millis < 60_000) return `${Math.round(millis / 100) / 10} s`
  return `${Math.floor(millis / 60_000)} min ${Math.round((millis % 60_000) / 1000)} s`
}
