import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "observability",
    include: ["test/**/*.test.ts"],
    // Integration tests start PostgreSQL servers and child processes: on two busy cores 5 s is not enough.
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
