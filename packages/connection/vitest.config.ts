import { defineProject } from "vitest/config"

export default defineProject({
  test: {
    name: "connection",
    include: ["test/**/*.test.ts"]
  }
})
