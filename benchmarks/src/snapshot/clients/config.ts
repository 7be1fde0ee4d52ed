/**
 * What the snapshot benchmark's driver tells its Node client processes (the first command-line argument, JSON), as
 * ChildProtocol.ts does for the replication clients; they report through ChildProtocol's `finish` alike.
 */
import type { ServerConfig } from "../../clients/pgcdcSession.ts"

export interface SnapshotClientConfig extends ServerConfig {
  /** The publication holding the benchmark table (pgcdc's snapshot reads what it publishes). */
  readonly publication: string
  /** A name for the snapshot's slot (with "initial_only" only its temporary slot exists, during the snapshot). */
  readonly slot: string
  /** pgcdc's `snapshotSessions`. */
  readonly sessions: number
  /** Consume `replication.batches` (arrays of messages) instead of `replication.stream` (one message at a time). */
  readonly batches: boolean
  /** The COPY statement of the raw drain (the one pgcdc's snapshot runs). */
  readonly copySql: string
}
