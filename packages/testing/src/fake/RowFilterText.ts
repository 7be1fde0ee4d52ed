/**
 * A row filter as PostgreSQL prints it back (`pg_get_expr`, the `rowfilter` column of `pg_publication_tables`): what
 * the parser made of it, every comparison in parentheses, constants with the type the comparison gave them
 * (`'skip'::text`, `'-3'::integer`, `NULL::boolean`; non-negative int4 and decimal constants bare), implicit casts
 * shown (`(vc)::text`, `(id)::numeric`, `(5)::numeric`), `IN (...)` of several constants as `= ANY (ARRAY[...])`
 * (`NOT IN` as `<> ALL`), chains of AND or OR flattened to the left as PostgreSQL's grammar does.
 *
 * Checked against PostgreSQL 15 to 18 on filters over int4, int8, numeric, float8, text, varchar and bool columns
 * (test/integration/rowFilter.postgres.test.ts compares random ones with 18); for other types the constants are
 * printed as text literals of the column's type, which PostgreSQL may print otherwise. It deliberately does no
 * constant folding, as PostgreSQL stores filters unfolded.
 */
import { type CompareOp, castTypes, type RowFilterExpr } from "./RowFilter.ts"

const INT2 = 21
const INT4 = 23
const INT8 = 20
const NUMERIC = 1700
const FLOAT4 = 700
const FLOAT8 = 701
const TEXT = 25
const VARCHAR = 1043
const BOOL = 16
/** The type of a quoted literal or NULL before a comparison gives it one. */
const UNKNOWN = 705

/** `format_type` names. */
const typeNames = new Map<number, string>([
  [INT2, "smallint"],
  [INT4, "integer"],
  [INT8, "bigint"],
  [NUMERIC, "numeric"],
  [FLOAT4, "real"],
  [FLOAT8, "double precision"],
  [TEXT, "text"],
  [VARCHAR, "character varying"],
  [1042, "bpchar"],
  [19, "name"],
  [BOOL, "boolean"],
  [1082, "date"],
  [1114, "timestamp without time zone"],
  [1184, "timestamp with time zone"],
  [1083, "time without time zone"],
  [1266, "time with time zone"],
  [1186, "interval"],
  [2950, "uuid"],
  [114, "json"],
  [3802, "jsonb"],
  [17, "bytea"],
  [26, "oid"],
  [3220, "pg_lsn"]
])

const typeName = (oid: number): string => typeNames.get(oid) ?? [...castTypes].find(([, o]) => o === oid)?.[0] ?? "text"

const integers = new Set([INT2, INT4, INT8])

/** PostgreSQL's keywords that an identifier must be quoted to be (reserved, column-name and type-function ones). */
const keywords = new Set(
  (
    "all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create " +
    "current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc " +
    "distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral " +
    "leading limit localtime localtimestamp not null offset on only or order placing primary references returning " +
    "select session_user some symmetric system_user table then to trailing true union unique user using variadic when " +
    "where window with between bigint bit boolean char character coalesce dec decimal exists extract float greatest " +
    "grouping inout int integer interval least national nchar none normalize nullif numeric out overlay position " +
    "precision real row setof smallint substring time timestamp treat trim values varchar xmlattributes xmlconcat " +
    "xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable json json_array " +
    "json_arrayagg json_exists json_object json_objectagg json_query json_scalar json_serialize json_table json_value " +
    "merge_action authorization binary collation concurrently cross current_schema freeze full ilike inner is isnull " +
    "join left like natural notnull outer overlaps right similar tablesample verbose"
  ).split(" ")
)

/** `quote_identifier`: bare when it is lower-case letters, digits and underscores and no keyword. */
export const quoteIdentifier = (name: string): string =>
  /^[a-z_][a-z0-9_$]*$/.test(name) && !keywords.has(name) ? name : `"${name.replaceAll('"', '""')}"`

/** The type a literal has before any comparison: int4, int8 or numeric for numbers, as PostgreSQL's scanner decides. */
const literalType = (e: Extract<RowFilterExpr, { kind: "literal" }>): number => {
  if (typeof e.value === "boolean") return BOOL
  if (e.value === null || !e.numeric) return UNKNOWN
  if (!/^-?\d+$/.test(e.value)) return NUMERIC
  const n = BigInt(e.value)
  if (n >= -(2n ** 31n) && n < 2n ** 31n) return INT4
  return n >= -(2n ** 63n) && n < 2n ** 63n ? INT8 : NUMERIC
}

export type ColumnTypes = (name: string) => number | undefined

const typeOf = (e: RowFilterExpr, columns: ColumnTypes): number => {
  switch (e.kind) {
    case "column":
      return columns(e.name) ?? TEXT
    case "literal":
      return literalType(e)
    case "cast":
      return e.typeOid
    default:
      return BOOL
  }
}

/** A numeric literal's text as its type's output function prints it. */
const numberText = (text: string, type: number): string => {
  if (type === INT4 || type === INT8 || type === INT2) return BigInt(text).toString()
  // numeric keeps the digits written (scale included); only a leading plus and leading zeros go.
  const m = /^(-?)0*(\d*)(\.\d*)?(?:[eE]([+-]?\d+))?$/.exec(text)
  if (m === null) return text
  if (m[4] !== undefined) {
    const value = Number(text)
    return Number.isInteger(value) ? BigInt(value).toString() : String(value)
  }
  const whole = m[2] === "" ? "0" : m[2]!
  const negative = m[1] === "-" && /[1-9]/.test(`${whole}${m[3] ?? ""}`)
  return `${negative ? "-" : ""}${whole}${m[3] ?? ""}`
}

/** `get_const_expr`: a constant of type `type` (the literal, converted to it). */
const constText = (e: Extract<RowFilterExpr, { kind: "literal" }>, type: number): string => {
  if (e.value === null) return `NULL::${typeName(type)}`
  if (type === BOOL) {
    const v = typeof e.value === "boolean" ? e.value : /^\s*(t|tr|tru|true|y|ye|yes|on|1)\s*$/i.test(e.value)
    return v ? "true" : "false"
  }
  const raw = typeof e.value === "boolean" ? String(e.value) : e.value
  const text = integers.has(type) || type === NUMERIC ? numberText(raw.trim(), type) : raw
  if (type === INT4 && !text.startsWith("-")) return text
  if (type === NUMERIC && /^\d/.test(text) && /[eE.]/.test(text)) return text
  return `'${text.replaceAll("'", "''")}'::${typeName(type)}`
}

/** The type both sides of a comparison take (PostgreSQL's operator resolution for the built-in types). */
const comparisonTypes = (left: number, right: number): readonly [number, number] => {
  const known = (t: number) => (t === UNKNOWN ? undefined : t)
  const l = known(left)
  const r = known(right)
  if (l === undefined && r === undefined) return [TEXT, TEXT]
  // A quoted literal or NULL takes the other side's type; varchar compares as text.
  if (l === undefined) return r === VARCHAR ? [TEXT, TEXT] : [r!, r!]
  if (r === undefined) return l === VARCHAR ? [TEXT, TEXT] : [l, l]
  if (l === r) return l === VARCHAR ? [TEXT, TEXT] : [l, r]
  if (integers.has(l) && integers.has(r)) return [l, r] // int2, int4 and int8 compare across (int48eq, ...)
  if ((l === FLOAT4 && r === FLOAT8) || (l === FLOAT8 && r === FLOAT4)) return [l, r]
  const rank = (t: number) => (integers.has(t) ? 1 : t === NUMERIC ? 2 : t === FLOAT4 || t === FLOAT8 ? 3 : 0)
  if (rank(l) > 0 && rank(r) > 0) {
    const to = rank(l) >= rank(r) ? (rank(l) === 3 ? FLOAT8 : l) : rank(r) === 3 ? FLOAT8 : r
    return [to, to]
  }
  if ((l === TEXT || l === VARCHAR) && (r === TEXT || r === VARCHAR)) return [TEXT, TEXT]
  return [l, r]
}

/** `select_common_type` of an IN list and its left side: the numeric category widens, strings are text. */
const commonType = (types: ReadonlyArray<number>): number => {
  const known = types.filter((t) => t !== UNKNOWN)
  if (known.length === 0) return TEXT
  let common = known[0]!
  for (const t of known.slice(1)) {
    if (t === common) continue
    const [a] = comparisonTypes(common, t)
    common = a === common && integers.has(common) && integers.has(t) ? (t === INT8 || common === INT8 ? INT8 : INT4) : a
  }
  return common
}

export const rowFilterText = (expr: RowFilterExpr, columns: ColumnTypes): string => {
  /** `e` as a value of `type`: a literal becomes a constant of it, anything else is cast when its type differs. */
  const as = (e: RowFilterExpr, type: number): string => {
    if (e.kind === "literal") {
      const own = literalType(e)
      if (own === UNKNOWN || own === type) return constText(e, type)
      return `(${constText(e, own)})::${typeName(type)}`
    }
    const own = typeOf(e, columns)
    const text = show(e)
    return own === type ? text : `(${text})::${typeName(type)}`
  }
  const compare = (op: CompareOp, left: RowFilterExpr, right: RowFilterExpr): string => {
    const [l, r] = comparisonTypes(typeOf(left, columns), typeOf(right, columns))
    return `(${as(left, l)} ${op} ${as(right, r)})`
  }
  /** `flatten` collects a chain of one operator as PostgreSQL's grammar builds it: only the left side continues it. */
  const flatten = (e: RowFilterExpr, kind: "and" | "or"): Array<RowFilterExpr> =>
    e.kind === kind ? [...flatten(e.left, kind), e.right] : [e]
  const show = (e: RowFilterExpr): string => {
    switch (e.kind) {
      case "column":
        return quoteIdentifier(e.name)
      case "literal":
        return constText(e, literalType(e) === UNKNOWN ? TEXT : literalType(e))
      case "cast": {
        if (e.operand.kind === "literal" && literalType(e.operand) === UNKNOWN) return constText(e.operand, e.typeOid)
        return as(e.operand, e.typeOid)
      }
      case "compare":
        return compare(e.op, e.left, e.right)
      case "isNull":
        return `(${show(e.operand)} IS ${e.negate ? "NOT " : ""}NULL)`
      case "not":
        return `(NOT ${show(e.operand)})`
      case "and":
      case "or":
        return `(${flatten(e, e.kind)
          .map(show)
          .join(e.kind === "and" ? " AND " : " OR ")})`
      case "quantified": {
        const element = commonType(e.list.map((x) => typeOf(x, columns)))
        const [l, r] = comparisonTypes(typeOf(e.operand, columns), element)
        const items = e.list.map((x) => as(x, r)).join(", ")
        return `(${as(e.operand, l)} ${e.op} ${e.all ? "ALL" : "ANY"} (ARRAY[${items}]))`
      }
      case "in": {
        // transformAExprIn: several constants become one array comparison, columns in the list one comparison each.
        const op: CompareOp = e.negate ? "<>" : "="
        const constants = e.list.filter((x) => !hasColumn(x))
        const parts: Array<string> = []
        let rest = e.list
        if (constants.length > 1) {
          const element = commonType([typeOf(e.operand, columns), ...constants.map((x) => typeOf(x, columns))])
          const [l, r] = comparisonTypes(typeOf(e.operand, columns), element)
          const items = constants.map((x) => as(x, r)).join(", ")
          parts.push(`(${as(e.operand, l)} ${op} ${e.negate ? "ALL" : "ANY"} (ARRAY[${items}]))`)
          rest = e.list.filter(hasColumn)
        }
        for (const item of rest) parts.push(compare(op, e.operand, item))
        // Each further comparison joins the result so far in a new two-argument AND or OR (not flattened).
        return parts.reduce((acc, part) => `(${acc} ${e.negate ? "AND" : "OR"} ${part})`)
      }
    }
  }
  return show(expr)
}

const hasColumn = (e: RowFilterExpr): boolean => {
  switch (e.kind) {
    case "column":
      return true
    case "literal":
      return false
    case "cast":
    case "not":
    case "isNull":
      return hasColumn(e.operand)
    case "compare":
    case "and":
    case "or":
      return hasColumn(e.left) || hasColumn(e.right)
    case "in":
    case "quantified":
      return hasColumn(e.operand) || e.list.some(hasColumn)
  }
}
