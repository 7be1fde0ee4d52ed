/**
 * The list of test projects. Vitest 5 no longer reads a workspace file by itself: `vitest.config.ts` imports this
 * list into `test.projects`, so adding a package means adding its folder here.
 */
export const projects = [
  "packages/protocol",
  "packages/connection",
  "packages/replication",
  "packages/testing",
  "packages/cli",
  "packages/sink-postgres",
  "packages/cluster",
  "examples/mirror",
  "examples/observability",
  "benchmarks",
  "chaos",
  "scripts"
]
