import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "benchmarks",
    // Only the harness's pure parts are tested here; the benchmark itself is `pnpm --filter @pgcdc/benchmarks bench`.
    include: ["test/**/*.test.ts"],
    // Integration tests start PostgreSQL servers and child processes: on two busy cores 5 s is not enough.
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
