/**
 * The walsender's command language, as far as the fake server speaks it: a tokenizer and parser for IDENTIFY_SYSTEM,
 * SHOW, CREATE_REPLICATION_SLOT (PostgreSQL 14's positional options and 15+'s parenthesized list),
 * DROP_REPLICATION_SLOT, READ_REPLICATION_SLOT (15+), TIMELINE_HISTORY and START_REPLICATION.
 *
 * Like the real replication scanner, keywords are upper case only and a statement whose first word is not a
 * replication keyword is not a replication command at all: it goes to the SQL path (`Sql`), where lower-case
 * `identify_system` is a plain SQL syntax error. Unquoted identifiers fold to lower case, double-quoted ones do not,
 * and a malformed replication command is `syntax error` (SQLSTATE 42601) without a position, as the server says.
 *
 * It deliberately does not check option names or values (the session does, per server version) and knows no SQL.
 */

export type Token =
  | { readonly _tag: "Keyword"; readonly text: string }
  | { readonly _tag: "Ident"; readonly text: string }
  | { readonly _tag: "String"; readonly text: string }
  | { readonly _tag: "Number"; readonly text: string }
  | { readonly _tag: "Lsn"; readonly value: bigint }
  | { readonly _tag: "Punct"; readonly text: "(" | ")" | "," | ";" }

const keywords = new Set([
  "IDENTIFY_SYSTEM",
  "READ_REPLICATION_SLOT",
  "SHOW",
  "TIMELINE_HISTORY",
  "CREATE_REPLICATION_SLOT",
  "DROP_REPLICATION_SLOT",
  "ALTER_REPLICATION_SLOT",
  "START_REPLICATION",
  "BASE_BACKUP",
  "UPLOAD_MANIFEST",
  "SLOT",
  "LOGICAL",
  "PHYSICAL",
  "TIMELINE",
  "TEMPORARY",
  "TWO_PHASE",
  "RESERVE_WAL",
  "EXPORT_SNAPSHOT",
  "NOEXPORT_SNAPSHOT",
  "USE_SNAPSHOT",
  "WAIT"
])

/** First words that make a statement a replication command. */
const commandKeywords = new Set([
  "IDENTIFY_SYSTEM",
  "READ_REPLICATION_SLOT",
  "SHOW",
  "TIMELINE_HISTORY",
  "CREATE_REPLICATION_SLOT",
  "DROP_REPLICATION_SLOT",
  "ALTER_REPLICATION_SLOT",
  "START_REPLICATION",
  "BASE_BACKUP",
  "UPLOAD_MANIFEST"
])

export class CommandSyntaxError extends Error {
  override readonly name = "CommandSyntaxError"
}

const syntaxError = (): never => {
  throw new CommandSyntaxError("syntax error")
}

/** A quoted literal or identifier starting at `start` (its quote doubled inside); its text and the offset after it. */
const quoted = (sql: string, start: number): readonly [string, number] => {
  const quote = sql[start]
  let text = ""
  let i = start + 1
  for (;;) {
    if (i >= sql.length) syntaxError()
    if (sql[i] === quote) {
      if (sql[i + 1] !== quote) return [text, i + 1]
      text += quote
      i += 2
      continue
    }
    text += sql[i++]
  }
}

export const tokenize = (sql: string): Array<Token> => {
  const out: Array<Token> = []
  let i = 0
  while (i < sql.length) {
    const c = sql[i]!
    if (/\s/.test(c)) {
      i++
    } else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++
    } else if (c === "(" || c === ")" || c === "," || c === ";") {
      out.push({ _tag: "Punct", text: c })
      i++
    } else if (c === "'") {
      const [text, next] = quoted(sql, i)
      i = next
      out.push({ _tag: "String", text })
    } else if (c === '"') {
      const [text, next] = quoted(sql, i)
      i = next
      if (text === "") syntaxError()
      out.push({ _tag: "Ident", text })
    } else {
      const m = /^[A-Za-z0-9_$./-]+/.exec(sql.slice(i))
      if (m === null) syntaxError()
      const word = m![0]
      i += word.length
      const lsn = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(word)
      if (lsn !== null) out.push({ _tag: "Lsn", value: (BigInt(`0x${lsn[1]}`) << 32n) | BigInt(`0x${lsn[2]}`) })
      else if (/^[0-9]+$/.test(word)) out.push({ _tag: "Number", text: word })
      else if (keywords.has(word)) out.push({ _tag: "Keyword", text: word })
      else if (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(word)) out.push({ _tag: "Ident", text: word.toLowerCase() })
      else syntaxError()
    }
  }
  return out
}

/** A value in an option list: `name`, `name 'text'`, `name ident` or `name 42`. */
export interface CommandOption {
  readonly name: string
  readonly value: string | undefined
}

export type ReplicationCommand =
  | { readonly _tag: "IdentifySystem" }
  | { readonly _tag: "Show"; readonly name: string }
  | { readonly _tag: "TimelineHistory"; readonly timeline: number }
  | {
      readonly _tag: "CreateSlot"
      readonly name: string
      readonly temporary: boolean
      readonly kind: "logical" | "physical"
      readonly plugin: string | undefined
      /** Positional options (PostgreSQL 14 syntax, still accepted later): EXPORT_SNAPSHOT, TWO_PHASE... */
      readonly legacy: ReadonlyArray<string>
      /** Parenthesized options (PostgreSQL 15+ syntax); undefined when the command had none. */
      readonly options: ReadonlyArray<CommandOption> | undefined
    }
  | { readonly _tag: "DropSlot"; readonly name: string; readonly wait: boolean }
  | { readonly _tag: "ReadSlot"; readonly name: string }
  | {
      readonly _tag: "StartReplication"
      readonly slot: string | undefined
      readonly kind: "logical" | "physical"
      readonly lsn: bigint
      readonly options: ReadonlyArray<CommandOption>
    }
  | { readonly _tag: "Unsupported"; readonly keyword: string }

/** Parses one statement; `undefined` when it is not a replication command (the SQL path handles it). */
export const parseReplicationCommand = (sql: string): ReplicationCommand | undefined => {
  const first = /^\s*([A-Za-z_]+)/.exec(sql)
  if (first === null || !commandKeywords.has(first[1]!)) return undefined
  const tokens = tokenize(sql)
  // One trailing semicolon is allowed, as the replication grammar allows it.
  if (
    tokens.length > 0 &&
    tokens[tokens.length - 1]!._tag === "Punct" &&
    (tokens[tokens.length - 1] as { text: string }).text === ";"
  ) {
    tokens.pop()
  }
  return new Parser(tokens).command()
}

class Parser {
  private pos = 0
  private readonly tokens: ReadonlyArray<Token>

  constructor(tokens: ReadonlyArray<Token>) {
    this.tokens = tokens
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos]
  }

  private isKeyword(text: string): boolean {
    const t = this.peek()
    return t !== undefined && t._tag === "Keyword" && t.text === text
  }

  private acceptKeyword(text: string): boolean {
    if (!this.isKeyword(text)) return false
    this.pos++
    return true
  }

  private isPunct(text: string): boolean {
    const t = this.peek()
    return t !== undefined && t._tag === "Punct" && t.text === text
  }

  private expectPunct(text: string): void {
    if (!this.isPunct(text)) syntaxError()
    this.pos++
  }

  private keyword(): string {
    const t = this.peek()
    if (t === undefined || t._tag !== "Keyword") return syntaxError()
    this.pos++
    return t.text
  }

  /** An identifier; keywords other than command names are allowed where the grammar says `var_name`. */
  private ident(allowKeywords = false): string {
    const t = this.peek()
    if (t !== undefined && t._tag === "Ident") {
      this.pos++
      return t.text
    }
    if (allowKeywords && t !== undefined && t._tag === "Keyword") {
      this.pos++
      return t.text.toLowerCase()
    }
    return syntaxError()
  }

  private end<A>(value: A): A {
    if (this.pos !== this.tokens.length) syntaxError()
    return value
  }

  command(): ReplicationCommand {
    const keyword = this.keyword()
    switch (keyword) {
      case "IDENTIFY_SYSTEM":
        return this.end({ _tag: "IdentifySystem" })
      case "SHOW": {
        // var_name: identifiers joined by dots.
        let name = this.ident(true)
        while (this.peek()?._tag === "Ident" && name.endsWith(".")) name += this.ident(true)
        return this.end({ _tag: "Show", name })
      }
      case "TIMELINE_HISTORY": {
        const t = this.peek()
        if (t?._tag !== "Number") return syntaxError()
        this.pos++
        return this.end({ _tag: "TimelineHistory", timeline: Number(t.text) })
      }
      case "READ_REPLICATION_SLOT":
        return this.end({ _tag: "ReadSlot", name: this.ident() })
      case "DROP_REPLICATION_SLOT": {
        const name = this.ident()
        const wait = this.acceptKeyword("WAIT")
        return this.end({ _tag: "DropSlot", name, wait })
      }
      case "CREATE_REPLICATION_SLOT":
        return this.createSlot()
      case "START_REPLICATION":
        return this.startReplication()
      default:
        return { _tag: "Unsupported", keyword }
    }
  }

  private createSlot(): ReplicationCommand {
    const name = this.ident()
    const temporary = this.acceptKeyword("TEMPORARY")
    let kind: "logical" | "physical"
    let plugin: string | undefined
    if (this.acceptKeyword("PHYSICAL")) kind = "physical"
    else if (this.acceptKeyword("LOGICAL")) {
      kind = "logical"
      plugin = this.ident()
    } else return syntaxError()
    const legacy: Array<string> = []
    let options: Array<CommandOption> | undefined
    if (this.isPunct("(")) {
      options = this.optionList()
    } else {
      while (this.peek() !== undefined) {
        const k = this.keyword()
        if (!["EXPORT_SNAPSHOT", "NOEXPORT_SNAPSHOT", "USE_SNAPSHOT", "RESERVE_WAL", "TWO_PHASE"].includes(k))
          syntaxError()
        legacy.push(k)
      }
    }
    return this.end({ _tag: "CreateSlot", name, temporary, kind, plugin, legacy, options })
  }

  private startReplication(): ReplicationCommand {
    let slot: string | undefined
    if (this.acceptKeyword("SLOT")) slot = this.ident()
    let kind: "logical" | "physical" = "physical"
    if (this.acceptKeyword("LOGICAL")) kind = "logical"
    else this.acceptKeyword("PHYSICAL")
    if (kind === "logical" && slot === undefined) syntaxError()
    const t = this.peek()
    if (t?._tag !== "Lsn") return syntaxError()
    this.pos++
    let options: Array<CommandOption> = []
    if (kind === "logical" && this.isPunct("(")) options = this.optionList()
    if (kind === "physical" && this.acceptKeyword("TIMELINE")) {
      if (this.peek()?._tag !== "Number") syntaxError()
      this.pos++
    }
    return this.end({ _tag: "StartReplication", slot, kind, lsn: t.value, options })
  }

  /** `( name [value] [, ...] )`. */
  private optionList(): Array<CommandOption> {
    this.expectPunct("(")
    const out: Array<CommandOption> = []
    for (;;) {
      const name = this.ident(true)
      let value: string | undefined
      const t = this.peek()
      if (t !== undefined && (t._tag === "String" || t._tag === "Number" || t._tag === "Ident")) {
        value = t.text
        this.pos++
      } else if (t !== undefined && t._tag === "Keyword") {
        value = t.text.toLowerCase()
        this.pos++
      }
      out.push({ name, value })
      if (this.isPunct(",")) {
        this.pos++
        continue
      }
      this.expectPunct(")")
      return out
    }
  }
}
