/**
 * Where the mirror writes what it has to say: plain lines, and a status line that a terminal rewrites in place.
 *
 * On a TTY the status line is redrawn with a carriage return and an erase-line sequence, and a plain line first
 * clears it; elsewhere (a pipe, a log file, a test) every status becomes its own plain line, so the output stays
 * readable without escape codes. It deliberately does no colouring and no layout beyond one line.
 */
import * as Effect from "effect/Effect"

/** The sink: `process.stdout` in the program, an array in tests. */
export interface Output {
  readonly isTTY: boolean
  readonly write: (text: string) => void
}

export interface Screen {
  readonly isTTY: boolean
  /** A line that stays. */
  readonly line: (text: string) => Effect.Effect<void>
  /** The live status: rewritten in place on a TTY, a plain line otherwise. */
  readonly status: (text: string) => Effect.Effect<void>
  /** Ends a status line left on a TTY, so that whatever follows starts on a fresh line. */
  readonly settle: Effect.Effect<void>
}

const eraseLine = "\r\u001b[2K"

export const make = (out: Output): Screen => {
  let statusShown = false
  const clear = () => {
    if (statusShown) out.write(eraseLine)
    statusShown = false
  }
  return {
    isTTY: out.isTTY,
    line: (text) =>
      Effect.sync(() => {
        clear()
        out.write(`${text}\n`)
      }),
    status: (text) =>
      Effect.sync(() => {
        if (out.isTTY) {
          out.write(`${eraseLine}${text}`)
          statusShown = true
        } else {
          out.write(`${text}\n`)
        }
      }),
    settle: Effect.sync(() => {
      if (statusShown) out.write("\n")
      statusShown = false
    })
  }
}

/** `process.stdout` as an `Output`. */
export const stdout: Output = {
  get isTTY() {
    return process.stdout.isTTY === true
  },
  write: (text) => void process.stdout.write(text)
}

/** 1234567 → "1.2 MB": lag is easier to read in bytes with a unit. */
export const bytes = (n: bigint): string => {
  const units = ["B", "kB", "MB", "GB", "TB"]
  let value = Number(n)
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}
