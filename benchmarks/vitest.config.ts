import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "benchmarks",
    // Only the harness's pure parts are tested here; the benchmark itself is `pnpm --filter @pgcdc/benchmarks bench`.
    include: ["test/**/*.test.ts"]
  }
})
