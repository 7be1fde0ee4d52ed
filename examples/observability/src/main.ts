/**
 * Entry point: `node src/main.ts [--port 9464] [--otlp http://localhost:4318] [--url postgres://...]`. Runs until
 * Ctrl-C (through `@pgcdc/cli`'s `Main`: every finalizer runs, the exporters flush once more, exit status 130).
 */
import { Main } from "@pgcdc/cli"
import * as Console from "effect/Console"
import * as Option from "effect/Option"
import { Command, Flag } from "effect/cli"
import { run } from "./Observed.ts"

const command = Command.make(
  "observability",
  {
    url: Flag.String("url").pipe(
      Flag.withAlias("d"),
      Flag.withDescription("PostgreSQL URL; default: an embedded PostgreSQL 18"),
      Flag.optional
    ),
    port: Flag.Int("port").pipe(
      Flag.withDescription("Port of the Prometheus endpoint /metrics; 0 picks a free one (default 9464)"),
      Flag.withDefault(9464)
    ),
    otlp: Flag.String("otlp").pipe(
      Flag.withDescription("Base URL of an OTLP/HTTP collector (e.g. http://localhost:4318) for spans and metrics"),
      Flag.optional
    ),
    rate: Flag.Int("rate").pipe(
      Flag.withAlias("r"),
      Flag.withDescription("Writer transactions per second (default 10)"),
      Flag.withDefault(10)
    ),
    duration: Flag.Int("duration").pipe(
      Flag.withDescription("Stop after this many seconds; 0 runs until Ctrl-C (default 0)"),
      Flag.withDefault(0)
    )
  },
  Main.handler("observability", (f) =>
    run({
      url: Option.getOrUndefined(f.url),
      host: "127.0.0.1",
      port: f.port,
      otlp: Option.getOrUndefined(f.otlp),
      rate: f.rate,
      durationSeconds: f.duration,
      print: (line) => Console.log(line)
    })
  )
).pipe(
  Command.withDescription(
    "A pgcdc consumer whose metrics are served for Prometheus and whose spans and metrics go to an OTLP collector"
  ),
  Command.withGlobalFlags([Main.Verbose])
)

Main.run(command, { version: "0.0.0" })
