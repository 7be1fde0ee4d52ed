import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "chaos",
    include: ["test/**/*.test.ts"]
  }
})
