import { defineConfig } from "vitest/config"
import { projects } from "./vitest.workspace.ts"

export default defineConfig({
  test: {
    projects,
    // Integration tests start real PostgreSQL servers; CI has two cores, so keep the pool small and predictable.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: process.env.CI ? ["default", ["json", { outputFile: "build/vitest-results.json" }]] : ["default"]
  }
})
