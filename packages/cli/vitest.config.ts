import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "cli",
    include: ["test/**/*.test.ts"],
    // Integration tests start PostgreSQL servers and the command as a child process: on two busy cores 5 s is not
    // enough.
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
