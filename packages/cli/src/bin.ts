#!/usr/bin/env node
/**
 * The `pgcdc` executable: runs the command with the process's arguments (Main.run: exit statuses, one-line errors,
 * help on stdout only when asked).
 */
import { command, version } from "./Cli.ts"
import { run } from "./Main.ts"

run(command, { version })
