/**
 * A shortcut for the common typed-rows Schema: a Struct whose every field is one of the column Schemas pgcdc knows
 * (`Schema.String`, `Schema.Number`, `Schema.Boolean`, `PgSchema.Int8`, the `PgSchema` value Schemas, and the
 * conversions `Int8AsNumber`, `NumericAsString`, `TimestampTzAsDate`, `TimestampAsDate` and `JsonAsValue`), each optionally wrapped in `Schema.NullOr`. For such a Schema, decoding a whole row is a
 * type test and at most a small conversion per column, which this module does in plain code instead of through the
 * Schema interpreter (which runs an Effect per transformed field: measured at about 1.5 µs per five-column row).
 *
 * It never decides anything the Schema would decide differently: a field it does not recognise (a check, a refinement,
 * `optionalKey`, any other Schema) turns the shortcut off for the whole Schema, and on any value that is not
 * plainly valid it gives up (`undefined`) so that the Schema itself decodes the row and reports the error. Tests
 * check that both give the same results. It deliberately does nothing for partial images (key columns, unchanged
 * TOAST), which keep going through the Schema.
 */
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import type { Json } from "../../values/Json.ts"
import type { Numeric } from "../../values/Numeric.ts"
import * as PgTimestamp from "../../values/PgTimestamp.ts"
import * as PgSchema from "../../rows/PgSchema.ts"

/** What a column converter returns when the Schema must decide (an invalid value, or one it converts differently). */
const GIVE_UP: unique symbol = Symbol("GIVE_UP")
type Converter = (value: unknown) => unknown
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

const isTagged = <T extends { readonly _tag: string }>(value: unknown, tag: T["_tag"]): value is T =>
  typeof value === "object" && value !== null && (value as { readonly _tag?: unknown })._tag === tag

const identityOfTag =
  (tag: string): Converter =>
  (v) =>
    isTagged(v, tag) ? v : GIVE_UP

const known = new Map<SchemaAST.AST, Converter>([
  [Schema.String.ast, (v) => (typeof v === "string" ? v : GIVE_UP)],
  [Schema.Boolean.ast, (v) => (typeof v === "boolean" ? v : GIVE_UP)],
  [Schema.Number.ast, (v) => (typeof v === "number" ? v : GIVE_UP)],
  [PgSchema.Int8.ast, (v) => (typeof v === "bigint" ? v : GIVE_UP)],
  [PgSchema.Numeric.ast, identityOfTag("Numeric")],
  [PgSchema.Json.ast, identityOfTag("Json")],
  [PgSchema.PgDate.ast, identityOfTag("PgDate")],
  [PgSchema.PgTime.ast, identityOfTag("PgTime")],
  [PgSchema.PgTimeTz.ast, identityOfTag("PgTimeTz")],
  [PgSchema.Timestamp.ast, identityOfTag("PgTimestamp")],
  [PgSchema.TimestampTz.ast, identityOfTag("PgTimestampTz")],
  [PgSchema.Interval.ast, identityOfTag("PgInterval")],
  [PgSchema.NumericAsString.ast, (v) => (isTagged<Numeric>(v, "Numeric") ? v.value : GIVE_UP)],
  [PgSchema.Int8AsNumber.ast, (v) => (typeof v === "bigint" && v >= MIN_SAFE && v <= MAX_SAFE ? Number(v) : GIVE_UP)],
  [
    PgSchema.TimestampAsDate.ast,
    (v) =>
      isTagged<PgTimestamp.PgTimestamp>(v, "PgTimestamp") ? (PgTimestamp.toDateOrUndefined(v) ?? GIVE_UP) : GIVE_UP
  ],
  [PgSchema.JsonAsValue.ast, (v) => (isTagged<Json>(v, "Json") ? v.value : GIVE_UP)],
  [
    PgSchema.TimestampTzAsDate.ast,
    (v) =>
      isTagged<PgTimestamp.PgTimestampTz>(v, "PgTimestampTz") ? (PgTimestamp.toDateOrUndefined(v) ?? GIVE_UP) : GIVE_UP
  ]
])

const plain = (ast: SchemaAST.AST): boolean =>
  ast.checks === undefined && ast.encoding === undefined && ast.context === undefined

const converterFor = (ast: SchemaAST.AST): Converter | undefined => {
  const direct = known.get(ast)
  if (direct !== undefined) return direct
  // Schema.NullOr(X): a union of X and null, nothing else attached.
  if (SchemaAST.isUnion(ast) && plain(ast) && ast.types.length === 2 && SchemaAST.isNull(ast.types[1]!)) {
    const inner = known.get(ast.types[0]!)
    if (inner === undefined) return undefined
    return (v) => (v === null ? null : inner(v))
  }
  return undefined
}

/**
 * The shortcut for `schema`, or undefined when it has a field the shortcut does not know. The function returns the
 * decoded row (fields in the Schema's order, extra columns dropped, as the Schema does), or undefined when the
 * Schema must decode this row itself.
 */
export const compile = (schema: {
  readonly ast: SchemaAST.AST
  readonly fields: Schema.Struct.Fields
}): ((row: Readonly<Record<string, unknown>>) => Record<string, unknown> | undefined) | undefined => {
  const ast = schema.ast
  if (!SchemaAST.isObjects(ast) || !plain(ast) || ast.indexSignatures.length > 0) return undefined
  const names: Array<string> = []
  const converters: Array<Converter> = []
  for (const property of ast.propertySignatures) {
    if (typeof property.name !== "string") return undefined
    const converter = converterFor(property.type)
    if (converter === undefined) return undefined
    names.push(property.name)
    converters.push(converter)
  }
  const count = names.length
  return (row) => {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < count; i++) {
      const name = names[i]!
      const value = row[name]
      if (value === undefined) return undefined
      const converted = converters[i]!(value)
      if (converted === GIVE_UP) return undefined
      out[name] = converted
    }
    return out
  }
}
