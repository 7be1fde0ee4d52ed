import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "tail",
    include: ["test/**/*.test.ts"]
  }
})
