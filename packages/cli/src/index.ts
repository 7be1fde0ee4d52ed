/**
 * @pgcdc/cli: the `pgcdc` command (its bin), and what it is made of for programs that embed or extend it: the
 * effect/cli `command`, `Main` (running an effect/cli command with pgcdc's exit statuses and error reporting) and
 * `JsonLine` (the JSON form of a `WalMessage` that `pgcdc tail` and `pgcdc snapshot` print).
 */
export { command, version } from "./Cli.ts"
export * as JsonLine from "./JsonLine.ts"
export * as Main from "./Main.ts"
