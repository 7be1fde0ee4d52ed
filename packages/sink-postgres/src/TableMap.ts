/**
 * Where each source table goes in the target: `{ "public.orders": "mirror.orders" }` sends the source's
 * public.orders to the target's mirror.orders; a table not listed goes to the table of the same schema and name.
 * Columns go by name. A name without a schema means "public".
 *
 * Two source tables may not share a target table (a snapshot truncates a target table when its source table
 * starts, which would wipe the other's rows): `make` refuses such a map. It does not look at either database.
 */
import * as Result from "effect/Result"
import { nameKey, parseName, type QualifiedName } from "./internal/sqlText.ts"
import { SinkError } from "./SinkError.ts"

export interface TableMap {
  /** The target table of a source table. */
  readonly targetOf: (source: QualifiedName) => QualifiedName
}

/** A map from "schema.table" (or "table") names; fails when two source tables are sent to one target table. */
export const make = (tables: Readonly<Record<string, string>> = {}): Result.Result<TableMap, SinkError> => {
  const map = new Map<string, QualifiedName>()
  const sources = new Map<string, string>()
  for (const [from, to] of Object.entries(tables)) {
    const source = nameKey(parseName(from))
    const target = parseName(to)
    const other = sources.get(nameKey(target))
    if (other !== undefined && other !== source) {
      return Result.fail(
        new SinkError({
          reason: "Mapping",
          message: `The table map sends both ${other} and ${source} to ${nameKey(target)}: give each its own target table.`
        })
      )
    }
    sources.set(nameKey(target), source)
    map.set(source, target)
  }
  return Result.succeed({
    targetOf: (source) => {
      const mapped = map.get(nameKey(source))
      if (mapped !== undefined) return mapped
      // A listed target may not also receive the unlisted table of the same name.
      const taken = sources.get(nameKey(source))
      if (taken !== undefined && taken !== nameKey(source)) {
        throw new SinkError({
          reason: "Mapping",
          message: `The source table ${nameKey(source)} would go to ${nameKey(source)}, which the table map gives to ${taken}: map ${nameKey(source)} too.`
        })
      }
      return source
    }
  })
}
