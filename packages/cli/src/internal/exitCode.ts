/**
 * The exit statuses of the pgcdc command, in one place (packages/cli/README.md documents them):
 *
 * - 0: done (for `check`: no problem found);
 * - 1: an error (the server refused, a connection failed, a slot is missing...): one line on stderr says what;
 * - 2: a usage error (an unknown flag, a missing argument, a value that cannot be parsed): nothing was done;
 * - 3: `check` found at least one problem (its findings are on stdout);
 * - 130: interrupted (Ctrl-C, SIGTERM) after a clean stop.
 *
 * It deliberately holds only the numbers: `Main.ts` decides which one an ending gets.
 */
export const ok = 0
export const error = 1
export const usage = 2
export const problems = 3
export const interrupted = 130
