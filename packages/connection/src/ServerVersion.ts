/**
 * `server_version` (as reported in ParameterStatus, e.g. "18.1", "14.12 (Debian 14.12-1.pgdg120+1)", "17beta2",
 * "9.6.24") turned into the comparable `server_version_num` form (180001, 140012, 170000, 90624).
 *
 * PostgreSQL reports `server_version` at startup but not `server_version_num`, so this is how a client learns the
 * version without a query. It deliberately does not parse anything after the numeric part.
 */

/** The server_version_num form; undefined when the text does not start with a version number. */
export const parseServerVersion = (text: string): number | undefined => {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim())
  if (m === null) return undefined
  const major = Number(m[1])
  const second = m[2] === undefined ? 0 : Number(m[2])
  const third = m[3] === undefined ? 0 : Number(m[3])
  // From 10 on, versions are major.minor; before, major.major.minor.
  return major >= 10 ? major * 10000 + second : major * 10000 + second * 100 + third
}

/** The major version of a server_version_num (180001 → 18, 90624 → 9). */
export const majorOf = (versionNum: number): number => Math.floor(versionNum / 10000)
