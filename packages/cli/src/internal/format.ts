/**
 * Numbers for people: byte counts with PostgreSQL's units (1 kB = 1024 bytes). `--json` prints exact bytes instead.
 */

/** 1234567n → "1.2 MB". */
export const bytes = (n: bigint): string => {
  const units = ["bytes", "kB", "MB", "GB", "TB"]
  let value = Number(n)
  let unit = 0
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`
}
