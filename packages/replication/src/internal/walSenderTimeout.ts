/**
 * How often a session must send status updates so that the server never times it out: the server ends a walsender
 * that has heard nothing from its client for `wal_sender_timeout`, and while the consumer is stalled the service
 * stops reading the socket, so the server's keepalive requests go unanswered; only the periodic status update keeps
 * the session alive. A third of the timeout leaves room for two late updates.
 *
 * It deliberately does not read the setting (the session does, with `SHOW wal_sender_timeout`); it parses the text
 * PostgreSQL shows and does the arithmetic.
 */
import * as Duration from "effect/Duration"

/** Milliseconds per unit of a time setting as SHOW prints it (PostgreSQL's GUC time units). */
const units: Readonly<Record<string, number>> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000
}

/**
 * The milliseconds in a time setting as `SHOW` prints it ("60s", "1min", "500ms", "0"); a bare number is in
 * milliseconds (the unit of wal_sender_timeout). Undefined for text that is no time setting.
 */
export const parseTimeSetting = (text: string): number | undefined => {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*$/.exec(text)
  if (match === null) return undefined
  const value = Number(match[1])
  const unit = match[2] === "" ? 1 : units[match[2]!]
  if (unit === undefined || !Number.isFinite(value)) return undefined
  return value * unit
}

/**
 * The interval between status updates: the configured one, or a third of the server's timeout when that is shorter.
 * A timeout of 0 (or less) means the server never times a walsender out.
 */
export const statusIntervalFor = (
  configured: Duration.Duration,
  timeoutMillis: number | undefined
): Duration.Duration => {
  if (timeoutMillis === undefined || timeoutMillis <= 0) return configured
  const third = Duration.millis(Math.max(1, Math.floor(timeoutMillis / 3)))
  return Duration.min(configured, third)
}
