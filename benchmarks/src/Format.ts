/**
 * How the benchmark reports print numbers (milliseconds as seconds, kB as MB, shares, ratios, targets), so both
 * reports print them alike. Pure; a value that is not a finite number prints as "–".
 */

/** Milliseconds as seconds with two decimals. */
export const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "–")

/** Kilobytes (kB of 1024 bytes, as Linux reports RSS) as whole MB of 2^20 bytes. */
export const megabytes = (kb: number): string => (Number.isFinite(kb) && kb > 0 ? (kb / 1024).toFixed(0) : "–")

export const percent = (f: number): string => (Number.isFinite(f) ? `${(f * 100).toFixed(0)}%` : "–")

/** A ratio, e.g. "0.85×". */
export const times = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}×` : "–")

/** A target of an issue, evaluated: reported, never asserted. */
export interface Target {
  /** undefined: not measured (a client it needs did not run). */
  readonly met: boolean | undefined
  readonly text: string
}

export const verdict = (met: boolean | undefined): string =>
  met === undefined ? "[not measured]" : met ? "[met]" : "[NOT met]"
