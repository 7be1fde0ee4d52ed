import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "mirror",
    include: ["test/**/*.test.ts"]
  }
})
