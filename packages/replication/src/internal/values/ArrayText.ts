/**
 * The text form of PostgreSQL arrays (`array_out` / `array_in`): optional explicit bounds (`[0:1][1:2]=`), braces
 * per dimension, a delimiter (`,`, or `;` for `box`), double-quoted elements with backslash escapes, and unquoted
 * `NULL` for SQL NULL.
 *
 * It splits and joins element texts only; decoding each element by its type is the caller's job.
 */
import type { PgArrayDimension } from "../../values/PgValue.ts"

export interface ArrayTextParts {
  readonly dimensions: ReadonlyArray<PgArrayDimension>
  /** Element texts in row-major order; `null` for SQL NULL. */
  readonly elements: ReadonlyArray<string | null>
}

/** Splits an array's text; returns a string describing the problem when the text is malformed. */
export const parseArrayText = (text: string, delimiter: string): ArrayTextParts | string => {
  let pos = 0
  const bounds: Array<{ lower: number; upper: number }> = []
  while (text[pos] === "[") {
    const m = /^\[(-?\d+):(-?\d+)\]/.exec(text.slice(pos))
    if (m === null) return `malformed dimension decoration at ${pos}`
    bounds.push({ lower: Number(m[1]), upper: Number(m[2]) })
    pos += m[0].length
  }
  if (bounds.length > 0) {
    if (text[pos] !== "=") return `missing "=" after dimension decoration at ${pos}`
    pos++
  }
  const lengths: Array<number | undefined> = []
  const elements: Array<string | null> = []
  let maxDepth = -1

  const parseLevel = (depth: number): string | undefined => {
    if (text[pos] !== "{") return `expected "{" at ${pos}`
    pos++
    if (text[pos] === "}") {
      pos++
      if (depth !== 0) return `empty sub-array at ${pos - 2}`
      return undefined
    }
    let count = 0
    for (;;) {
      if (text[pos] === "{") {
        if (maxDepth !== -1 && depth >= maxDepth) return `sub-array deeper than its siblings at ${pos}`
        const err = parseLevel(depth + 1)
        if (err !== undefined) return err
      } else {
        if (maxDepth === -1) maxDepth = depth
        else if (depth !== maxDepth) return `element at depth ${depth} where arrays are ${maxDepth} deep, at ${pos}`
        const err = parseElement()
        if (err !== undefined) return err
      }
      count++
      if (text[pos] === delimiter) {
        pos++
        continue
      }
      if (text[pos] === "}") {
        pos++
        break
      }
      return `expected "${delimiter}" or "}" at ${pos}`
    }
    const known = lengths[depth]
    if (known === undefined) lengths[depth] = count
    else if (known !== count) return `sub-arrays of different lengths (${known} and ${count})`
    return undefined
  }

  const parseElement = (): string | undefined => {
    if (text[pos] === '"') {
      pos++
      let out = ""
      for (;;) {
        const c = text[pos]
        if (c === undefined) return "unterminated quoted element"
        if (c === '"') {
          pos++
          break
        }
        if (c === "\\") {
          pos++
          if (pos >= text.length) return "unterminated escape"
        }
        out += text[pos]
        pos++
      }
      elements.push(out)
      return undefined
    }
    let out = ""
    let escaped = false
    while (pos < text.length && text[pos] !== delimiter && text[pos] !== "}") {
      const c = text[pos]!
      if (c === "{" || c === '"') return `unexpected ${JSON.stringify(c)} in unquoted element at ${pos}`
      if (c === "\\") {
        pos++
        if (pos >= text.length) return "unterminated escape"
        escaped = true
      }
      out += text[pos]
      pos++
    }
    if (!escaped) out = out.trim()
    if (out.length === 0) return `empty unquoted element at ${pos}`
    elements.push(!escaped && out.toUpperCase() === "NULL" ? null : out)
    return undefined
  }

  const err = parseLevel(0)
  if (err !== undefined) return err
  if (pos !== text.length) return `trailing characters at ${pos}`
  if (elements.length === 0) {
    return bounds.length > 0 ? "dimension decoration on an empty array" : { dimensions: [], elements: [] }
  }
  const dims = lengths as Array<number>
  if (bounds.length > 0 && bounds.length !== dims.length) {
    return `${bounds.length} dimension bound(s) for a ${dims.length}-dimensional array`
  }
  const dimensions = dims.map((length, i) => {
    const b = bounds[i]
    return { length, lowerBound: b === undefined ? 1 : b.lower }
  })
  for (let i = 0; i < bounds.length; i++) {
    if (bounds[i]!.upper - bounds[i]!.lower + 1 !== dims[i])
      return `bounds of dimension ${i + 1} do not match its length`
  }
  return { dimensions, elements }
}

const needsQuotes = (s: string, delimiter: string): boolean =>
  s.length === 0 || s.toUpperCase() === "NULL" || /[{}"\\\s]/.test(s) || s.includes(delimiter)

/** Joins element texts into an array's text form as `array_out` does. */
export const formatArrayText = (parts: ArrayTextParts, delimiter: string): string => {
  if (parts.dimensions.length === 0) return "{}"
  const decoration = parts.dimensions.some((d) => d.lowerBound !== 1)
    ? `${parts.dimensions.map((d) => `[${d.lowerBound}:${d.lowerBound + d.length - 1}]`).join("")}=`
    : ""
  let i = 0
  const level = (dim: number): string => {
    const items: Array<string> = []
    for (let k = 0; k < parts.dimensions[dim]!.length; k++) {
      if (dim < parts.dimensions.length - 1) items.push(level(dim + 1))
      else {
        const e = parts.elements[i++]
        items.push(
          e === null || e === undefined
            ? "NULL"
            : needsQuotes(e, delimiter)
              ? `"${e.replace(/[\\"]/g, (c) => `\\${c}`)}"`
              : e
        )
      }
    }
    return `{${items.join(delimiter)}}`
  }
  return decoration + level(0)
}
