/**
 * The options of START_REPLICATION for pgoutput, checked against the server version before anything is sent, and
 * the command text built from them.
 *
 * Version rules (PostgreSQL docs, "Logical Streaming Replication Parameters"): proto_version 2 needs 14, 3 needs
 * 15, 4 needs 16; `streaming` needs proto 2 (`parallel`: proto 4, PostgreSQL 16); `two_phase` needs proto 3
 * (PostgreSQL 15); `origin` needs 16; `messages` and `binary` need 14 (our minimum). A violation is an
 * "UnsupportedOption" error saying which version is needed and what to change.
 */
import { Lsn, type ProtoVersion } from "@pgcdc/protocol"
import * as Result from "effect/Result"
import { type ReplicationError, replicationError } from "../ReplicationError.ts"
import { ident, literal, slotName } from "./sqlText.ts"

export type Streaming = "off" | "on" | "parallel"
export type Origin = "any" | "none"

export interface StartOptions {
  /** The logical replication slot to stream from (must use the pgoutput plugin). */
  readonly slot: string
  /** Publications whose changes to stream (at least one). */
  readonly publications: ReadonlyArray<string>
  /** pgoutput protocol version; default: the highest the server supports (14 → 2, 15 → 3, 16+ → 4). */
  readonly protoVersion?: ProtoVersion | undefined
  /** Also stream logical decoding messages (pg_logical_emit_message). Default false. */
  readonly messages?: boolean | undefined
  /** Column values in binary format. Default false (text). */
  readonly binary?: boolean | undefined
  /**
   * Stream large in-progress transactions. Default "off".
   *
   * Limitation of pgoutput with "on" and "parallel": a transactional logical message written inside a subtransaction
   * that later rolls back is delivered as committed (pgoutput sends it with the top-level xid, so the StreamAbort of the
   * subtransaction cannot name it; the transaction views drop it only when it follows a row change of that
   * subtransaction). When messages carry meaning, use "off", or do not write transactional messages in savepoints
   * that may roll back (docs/transactions.md, "Logical messages and streaming").
   */
  readonly streaming?: Streaming | undefined
  /** Decode prepared transactions at PREPARE TRANSACTION (PostgreSQL 15+). Default false. */
  readonly twoPhase?: boolean | undefined
  /** "none": only changes that did not come from another replication origin (PostgreSQL 16+). Default "any". */
  readonly origin?: Origin | undefined
}

export interface ResolvedStart {
  readonly protoVersion: ProtoVersion
  readonly streaming: Streaming
}

export const versionText = (serverVersion: number): string =>
  `${Math.floor(serverVersion / 10000)}.${serverVersion % 10000}`

const unsupported = (what: string, needs: number, serverVersion: number, change: string): ReplicationError =>
  replicationError("UnsupportedOption", {
    code: "0A000",
    message: `${what} needs PostgreSQL ${needs} or later; this server is ${versionText(serverVersion)}. ${change}`
  })

/** The highest pgoutput protocol version a server speaks. */
export const maxProtoVersion = (serverVersion: number): ProtoVersion =>
  serverVersion >= 160000 ? 4 : serverVersion >= 150000 ? 3 : 2

/** Checks the options against the server version; returns the effective protocol version and streaming mode. */
export const resolve = (serverVersion: number, o: StartOptions): Result.Result<ResolvedStart, ReplicationError> => {
  if (serverVersion < 140000) {
    return Result.fail(unsupported("pgcdc", 14, serverVersion, "Upgrade the server."))
  }
  if (o.publications.length === 0) {
    return Result.fail(
      replicationError("InvalidOption", { message: "Name at least one publication in `publications`." })
    )
  }
  const max = maxProtoVersion(serverVersion)
  const protoVersion = o.protoVersion ?? max
  if (protoVersion > max) {
    const needs = protoVersion === 4 ? 16 : protoVersion === 3 ? 15 : 14
    return Result.fail(
      unsupported(`proto_version ${protoVersion}`, needs, serverVersion, `Use protoVersion ${max} or lower.`)
    )
  }
  const streaming = o.streaming ?? "off"
  if (streaming !== "off" && protoVersion < 2) {
    return Result.fail(
      replicationError("UnsupportedOption", {
        message: `streaming "${streaming}" needs protoVersion 2 or later; you asked for 1.`
      })
    )
  }
  if (streaming === "parallel") {
    if (serverVersion < 160000) {
      return Result.fail(unsupported('streaming "parallel"', 16, serverVersion, 'Use streaming "on".'))
    }
    if (protoVersion < 4) {
      return Result.fail(
        replicationError("UnsupportedOption", {
          message: `streaming "parallel" needs protoVersion 4; you asked for ${protoVersion}.`
        })
      )
    }
  }
  if (o.twoPhase === true) {
    if (serverVersion < 150000) {
      return Result.fail(unsupported("two_phase", 15, serverVersion, "Drop the twoPhase option."))
    }
    if (protoVersion < 3) {
      return Result.fail(
        replicationError("UnsupportedOption", {
          message: `two_phase needs protoVersion 3 or later; you asked for ${protoVersion}.`
        })
      )
    }
  }
  if (o.origin !== undefined && serverVersion < 160000) {
    return Result.fail(unsupported("origin", 16, serverVersion, "Drop the origin option."))
  }
  return Result.succeed({ protoVersion, streaming })
}

/** START_REPLICATION SLOT … LOGICAL … (…) for already resolved options; throws `ReplicationError` for bad names. */
export const command = (o: StartOptions, resolved: ResolvedStart, start: Lsn.Lsn): string => {
  const options = [
    `proto_version ${literal(String(resolved.protoVersion))}`,
    `publication_names ${literal(o.publications.map((p) => ident(p, "publication name")).join(","))}`
  ]
  if (o.messages === true) options.push(`messages 'true'`)
  if (o.binary === true) options.push(`binary 'true'`)
  if (resolved.streaming !== "off") options.push(`streaming ${literal(resolved.streaming)}`)
  if (o.twoPhase === true) options.push(`two_phase 'true'`)
  if (o.origin !== undefined) options.push(`origin ${literal(o.origin)}`)
  return `START_REPLICATION SLOT ${ident(slotName(o.slot))} LOGICAL ${Lsn.format(start)} (${options.join(", ")})`
}
